// Package natsblob keeps blobs in the NATS JetStream object store, for a
// cluster of skyd nodes: every node reads and writes the same blobs, and
// JetStream replicates them (Config.Replicas, skyd's --nats-replicas).
//
// Each transfer chunk of a blob (wire.BlobTransferBytes, the unit of
// BlobPut) is one object named "ID/INDEX" in the object store BUCKET; a
// key-value bucket of the same name holds each blob's declared size, coarse
// creation time and whether it is finished. How much of an upload arrived
// is the number of its chunk objects (found by binary search), so any node
// can resume an upload another node began.
//
// Deletion: Sweep deletes a blob's chunk objects (the object store purges
// their messages) and then its record, so an interrupted sweep is finished
// by the next. Both buckets also carry a JetStream MaxAge (Config.TTL) as a
// backstop that holds even if no skyd runs. JetStream removes purged and
// expired messages from its message blocks and unlinks blocks that hold no
// live message; it does not overwrite the freed bytes of a block that still
// holds others, so on the NATS servers' disks ciphertext can outlive its
// deletion until the block is compacted or expires. It is ciphertext under a
// key the server never had.
package natsblob

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/skymsg/sky/server/blob"
	"github.com/skymsg/sky/wire"
)

// Config configures a Store.
type Config struct {
	URL      string        // NATS URL (JetStream on)
	Bucket   string        // object store and key-value bucket name
	Replicas int           // JetStream replicas; default 1
	TTL      time.Duration // MaxAge of both buckets: the backstop of Sweep
}

// Store is a blob store in NATS JetStream.
type Store struct {
	nc   *nats.Conn
	kv   jetstream.KeyValue
	obj  jetstream.ObjectStore
	mu   sync.Mutex
	have map[blob.ID]int64 // uploads' progress seen by this node
}

const T = wire.BlobTransferBytes

// Open connects to NATS and creates (or updates) the buckets.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Replicas <= 0 {
		cfg.Replicas = 1
	}
	nc, err := nats.Connect(cfg.URL, nats.Name("skyd blobs"), nats.MaxReconnects(-1))
	if err != nil {
		return nil, fmt.Errorf("blobs: connecting to NATS at %s: %w", cfg.URL, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("blobs: %w", err)
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: cfg.Bucket, TTL: cfg.TTL, Replicas: cfg.Replicas, Storage: jetstream.FileStorage, History: 1,
		Description: "skyd attachment records",
	})
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("blobs: key-value bucket %s: %w", cfg.Bucket, err)
	}
	obj, err := js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket: cfg.Bucket, TTL: cfg.TTL, Replicas: cfg.Replicas, Storage: jetstream.FileStorage,
		Description: "skyd attachment ciphertext",
	})
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("blobs: object store %s: %w", cfg.Bucket, err)
	}
	return &Store{nc: nc, kv: kv, obj: obj, have: map[blob.ID]int64{}}, nil
}

// Remove deletes both buckets named bucket from the NATS at url.
func Remove(ctx context.Context, url, bucket string) error {
	nc, err := nats.Connect(url)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	if err := js.DeleteKeyValue(ctx, bucket); err != nil && !errors.Is(err, jetstream.ErrBucketNotFound) {
		return err
	}
	if err := js.DeleteObjectStore(ctx, bucket); err != nil && !errors.Is(err, jetstream.ErrBucketNotFound) && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return err
	}
	return nil
}

type meta struct {
	created  time.Time
	size     int64
	finished bool
}

func (m meta) encode() []byte {
	b := binary.BigEndian.AppendUint64(nil, uint64(m.created.Unix()))
	b = binary.BigEndian.AppendUint64(b, uint64(m.size))
	if m.finished {
		return append(b, 1)
	}
	return append(b, 0)
}

func decodeMeta(b []byte) (meta, bool) {
	if len(b) != 17 || b[16] > 1 {
		return meta{}, false
	}
	return meta{
		created:  time.Unix(int64(binary.BigEndian.Uint64(b)), 0).UTC(),
		size:     int64(binary.BigEndian.Uint64(b[8:])),
		finished: b[16] == 1,
	}, true
}

func chunkName(id blob.ID, k int64) string { return id.String() + "/" + strconv.FormatInt(k, 10) }

func chunks(size int64) int64 { return (size + T - 1) / T }

func (s *Store) meta(ctx context.Context, id blob.ID) (meta, uint64, error) {
	e, err := s.kv.Get(ctx, id.String())
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return meta{}, 0, blob.ErrNotFound
	} else if err != nil {
		return meta{}, 0, fmt.Errorf("blobs: reading a record: %w", err)
	}
	m, ok := decodeMeta(e.Value())
	if !ok {
		return meta{}, 0, fmt.Errorf("blobs: a record is malformed")
	}
	return m, e.Revision(), nil
}

// count returns how many bytes of an upload of size bytes arrived: its
// chunks are written in order, so a binary search over their presence
// finds the end.
func (s *Store) count(ctx context.Context, id blob.ID, size int64) (int64, error) {
	lo, hi := int64(0), chunks(size) // chunks [0, lo) exist; [hi, n) do not
	for lo < hi {
		mid := (lo + hi) / 2
		_, err := s.obj.GetInfo(ctx, chunkName(id, mid))
		switch {
		case err == nil:
			lo = mid + 1
		case errors.Is(err, jetstream.ErrObjectNotFound):
			hi = mid
		default:
			return 0, fmt.Errorf("blobs: %w", err)
		}
	}
	return min(lo*T, size), nil
}

// Create implements blob.Store.
func (s *Store) Create(ctx context.Context, id blob.ID, size int64, created time.Time) error {
	_, err := s.kv.Create(ctx, id.String(), meta{created: created.UTC(), size: size}.encode())
	if errors.Is(err, jetstream.ErrKeyExists) {
		return blob.ErrExists
	} else if err != nil {
		return fmt.Errorf("blobs: %w", err)
	}
	s.mu.Lock()
	s.have[id] = 0
	s.mu.Unlock()
	return nil
}

// Put implements blob.Store.
func (s *Store) Put(ctx context.Context, id blob.ID, offset int64, data []byte) error {
	m, _, err := s.meta(ctx, id)
	if err != nil {
		return err
	}
	s.mu.Lock()
	have, ok := s.have[id]
	s.mu.Unlock()
	if !ok || have != offset { // another node may have taken it further
		if have, err = s.count(ctx, id, m.size); err != nil {
			return err
		}
	}
	if m.finished {
		have = m.size
	}
	if err := blob.CheckPut(blob.Info{Size: m.size, Have: have, Finished: m.finished}, offset, len(data)); err != nil {
		return err
	}
	if _, err := s.obj.PutBytes(ctx, chunkName(id, offset/T), data); err != nil {
		return fmt.Errorf("blobs: writing a chunk: %w", err)
	}
	s.mu.Lock()
	s.have[id] = offset + int64(len(data))
	s.mu.Unlock()
	return nil
}

// Stat implements blob.Store.
func (s *Store) Stat(ctx context.Context, id blob.ID) (blob.Info, error) {
	m, _, err := s.meta(ctx, id)
	if err != nil {
		return blob.Info{}, err
	}
	in := blob.Info{Size: m.size, Have: m.size, Finished: m.finished, Created: m.created}
	if !m.finished {
		if in.Have, err = s.count(ctx, id, m.size); err != nil {
			return blob.Info{}, err
		}
		s.mu.Lock()
		s.have[id] = in.Have
		s.mu.Unlock()
	}
	return in, nil
}

// Finish implements blob.Store.
func (s *Store) Finish(ctx context.Context, id blob.ID) error {
	m, rev, err := s.meta(ctx, id)
	if err != nil || m.finished {
		return err
	}
	have, err := s.count(ctx, id, m.size)
	if err != nil {
		return err
	}
	if have != m.size {
		return blob.ErrIncomplete
	}
	if n := chunks(m.size); n > 0 {
		info, err := s.obj.GetInfo(ctx, chunkName(id, n-1))
		if err != nil || int64(info.Size) != m.size-(n-1)*T {
			return blob.ErrIncomplete
		}
	}
	m.finished = true
	if _, err := s.kv.Update(ctx, id.String(), m.encode(), rev); err != nil {
		return fmt.Errorf("blobs: finishing: %w", err)
	}
	s.mu.Lock()
	delete(s.have, id)
	s.mu.Unlock()
	return nil
}

// ReadAt implements blob.Store.
func (s *Store) ReadAt(ctx context.Context, id blob.ID, p []byte, off int64) (int, int64, error) {
	m, _, err := s.meta(ctx, id)
	if err != nil {
		return 0, 0, err
	}
	if !m.finished {
		return 0, 0, blob.ErrNotFound
	}
	n := 0
	for n < len(p) && off < m.size {
		b, err := s.obj.GetBytes(ctx, chunkName(id, off/T))
		if errors.Is(err, jetstream.ErrObjectNotFound) {
			return n, m.size, blob.ErrNotFound // swept meanwhile
		} else if err != nil {
			return n, m.size, fmt.Errorf("blobs: reading a chunk: %w", err)
		}
		c := copy(p[n:], b[off%T:])
		n += c
		off += int64(c)
	}
	return n, m.size, nil
}

// Sweep implements blob.Store.
func (s *Store) Sweep(ctx context.Context, cutoff, unfinished time.Time) (int, error) {
	lister, err := s.kv.ListKeys(ctx)
	if err != nil {
		return 0, fmt.Errorf("blobs: listing: %w", err)
	}
	var doomed []blob.ID
	for k := range lister.Keys() {
		id, ok := blob.ParseID(k)
		if !ok {
			continue
		}
		m, _, err := s.meta(ctx, id)
		if err != nil {
			continue
		}
		if !m.created.After(cutoff) || (!m.finished && !m.created.After(unfinished)) {
			doomed = append(doomed, id)
		}
	}
	n := 0
	for _, id := range doomed {
		if err := s.delete(ctx, id); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// delete removes a blob's chunks, then its record.
func (s *Store) delete(ctx context.Context, id blob.ID) error {
	m, _, err := s.meta(ctx, id)
	if err != nil {
		return nil
	}
	for k := range chunks(m.size) {
		if err := s.obj.Delete(ctx, chunkName(id, k)); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
			return fmt.Errorf("blobs: deleting a chunk: %w", err)
		}
	}
	if err := s.kv.Purge(ctx, id.String()); err != nil {
		return fmt.Errorf("blobs: deleting a record: %w", err)
	}
	s.mu.Lock()
	delete(s.have, id)
	s.mu.Unlock()
	return nil
}

// Close implements blob.Store.
func (s *Store) Close() error {
	s.nc.Close()
	return nil
}
