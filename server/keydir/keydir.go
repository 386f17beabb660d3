// Package keydir is skyd's key directory: it keeps every account's identity
// key in the key-transparency trees of package keytrans, publishes a signed
// head every interval, and answers lookups, monitoring, consistency and the
// log for auditors.
//
// Its state lives in the server's store (store.KeyDir): each published
// epoch (its record and signed head), the values entries open to, and the
// values waiting for the next epoch. Every node rebuilds the trees in
// memory from the stored epochs and follows new ones; one node at a time
// publishes (on PostgreSQL each publish transaction takes an advisory lock,
// and the epoch number is the primary key, so a second writer's epoch is
// refused and it follows instead).
//
// The directory names entries only by VRF output: no table lists account
// IDs, and nothing links two accounts.
package keydir

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/skymsg/sky/keytrans"
	"github.com/skymsg/sky/keytrans/logtree"
	"github.com/skymsg/sky/keytrans/prefix"
	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/server/store"
)

// Store is what the directory needs of the server's store.
type Store interface {
	store.KeyDir
	Meta(ctx context.Context, name string) ([]byte, error)
	SetMeta(ctx context.Context, name string, value []byte) error
}

// Defaults for Config fields left zero.
const (
	DefaultInterval = time.Minute
	// MaxUpdatesPerEpoch keeps an epoch's record (about 800 bytes an update
	// at a million accounts) under a server frame.
	MaxUpdatesPerEpoch = 1000
	// MaxEpochsPerTick bounds how many epochs one tick publishes when
	// values pile up.
	MaxEpochsPerTick = 16
)

// Config configures a Dir.
type Config struct {
	Store    Store
	Interval time.Duration // between epochs; default DefaultInterval
	// Auditors are the auditors whose countersignatures the directory
	// keeps and hands out.
	Auditors []curve.PublicKey
	Now      func() time.Time // default time.Now
	Logger   *slog.Logger     // default: discard
}

// Dir is a running key directory on one node.
type Dir struct {
	cfg  Config
	st   Store
	keys atomic.Pointer[Keys]

	mu    sync.RWMutex
	dir   keytrans.Directory
	heads map[uint64]*keytrans.SignedHead // the retained heads, by size

	tickMu sync.Mutex // one Tick at a time
}

// Open loads the directory's keys (if certified) and every stored epoch.
func Open(ctx context.Context, cfg Config) (*Dir, error) {
	if cfg.Store == nil {
		return nil, errors.New("keydir: Config.Store is required")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	d := &Dir{cfg: cfg, st: cfg.Store, heads: map[uint64]*keytrans.SignedHead{}}
	d.loadKeys(ctx)
	if err := d.catchUp(ctx); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *Dir) loadKeys(ctx context.Context) {
	k, err := LoadKeys(ctx, d.st)
	switch {
	case err == nil:
		d.keys.Store(k)
	case errors.Is(err, ErrNotCertified):
	default:
		d.cfg.Logger.Error("cannot load the key directory's keys; keeping the ones loaded before", "err", err)
	}
}

// Keys returns the directory's keys, or nil before it is certified.
func (d *Dir) Keys() *Keys { return d.keys.Load() }

// Run publishes (or follows) an epoch every interval until ctx ends.
func (d *Dir) Run(ctx context.Context) {
	t := time.NewTicker(d.cfg.Interval)
	defer t.Stop()
	for {
		if err := d.Tick(ctx); err != nil && ctx.Err() == nil {
			d.cfg.Logger.Error("key directory epoch failed; will retry", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Tick follows epochs other nodes published, then publishes the next one
// (with the values waiting, or none: heads are signed every interval so
// clients can tell a stale one).
func (d *Dir) Tick(ctx context.Context) error {
	d.tickMu.Lock()
	defer d.tickMu.Unlock()
	d.loadKeys(ctx)
	if err := d.catchUp(ctx); err != nil {
		return err
	}
	k := d.keys.Load()
	if k == nil {
		return nil
	}
	for range MaxEpochsPerTick {
		more, err := d.publish(ctx, k)
		if err != nil || !more {
			return err
		}
	}
	return nil
}

// catchUp replays stored epochs this node has not applied.
func (d *Dir) catchUp(ctx context.Context) error {
	for {
		d.mu.RLock()
		next := d.dir.Head().Size
		d.mu.RUnlock()
		es, err := d.st.KeyDirEpochs(ctx, next, 64)
		if err != nil || len(es) == 0 {
			return err
		}
		for _, se := range es {
			if err := d.apply(se); err != nil {
				return err
			}
		}
	}
}

func (d *Dir) apply(se store.KeyDirEpoch) error {
	e, err := keytrans.DecodeEpoch(se.Record)
	if err != nil {
		return fmt.Errorf("keydir: stored epoch %d: %w", se.Number, err)
	}
	sh, err := keytrans.DecodeSignedHead(se.Head)
	if err != nil {
		return fmt.Errorf("keydir: stored head %d: %w", se.Number, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.dir.Replay(e); err != nil {
		return fmt.Errorf("keydir: %w", err)
	}
	if d.dir.Head() != sh.Head {
		return fmt.Errorf("keydir: stored head %d is not the one its epoch leads to", se.Number)
	}
	d.keepHead(sh)
	return nil
}

func (d *Dir) keepHead(sh *keytrans.SignedHead) {
	d.heads[sh.Size] = sh
	if sh.Size > keytrans.DefaultRetain {
		delete(d.heads, sh.Size-keytrans.DefaultRetain)
	}
}

// publish makes, stores and applies the next epoch; more says values are
// still waiting.
func (d *Dir) publish(ctx context.Context, k *Keys) (more bool, err error) {
	pend, err := d.st.PendingKeyDir(ctx, MaxUpdatesPerEpoch)
	if err != nil {
		return false, err
	}
	var (
		leaves []prefix.Leaf
		values []store.KeyDirValue
	)
	for _, p := range pend {
		if len(p.Index) != 32 {
			return false, fmt.Errorf("keydir: a queued value has a %d-byte index", len(p.Index))
		}
		key := prefix.Key(p.Index)
		version := uint32(1)
		d.mu.RLock()
		cur := d.dir.Get(key).Terminal
		d.mu.RUnlock()
		if cur != nil && cur.Key == key {
			if v, err := d.st.KeyDirValue(ctx, p.Index, cur.Version); err == nil && bytes.Equal(v.Value, p.Value) {
				continue // already the entry's value
			}
			version = cur.Version + 1
		}
		c, o := keytrans.Commit(key[:], p.Value)
		leaves = append(leaves, prefix.Leaf{Key: key, Version: version, Commitment: c})
		values = append(values, store.KeyDirValue{Index: p.Index, Version: version, Opening: o[:], Value: p.Value})
	}
	d.mu.RLock()
	e, h := d.dir.Prepare(uint64(d.cfg.Now().UnixMilli()), leaves)
	d.mu.RUnlock()
	sh := keytrans.SignHead(h, k.Cert.KeyID, k.Signing)
	err = d.st.PublishKeyDir(ctx, store.KeyDirEpoch{Number: e.Number, Record: e.Encode(), Head: sh.Encode()}, values, pend)
	if errors.Is(err, store.ErrKeyDirConflict) {
		return false, nil // another node is the writer; follow it next tick
	}
	if err != nil {
		return false, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.dir.Replay(e); err != nil {
		return false, fmt.Errorf("keydir: %w", err)
	}
	d.keepHead(sh)
	return len(pend) == MaxUpdatesPerEpoch, nil
}

// Queue sets the value account's entry takes at the next epoch.
func (d *Dir) Queue(ctx context.Context, account string, value []byte) error {
	k := d.keys.Load()
	if k == nil {
		d.loadKeys(ctx) // certified since the last tick?
		if k = d.keys.Load(); k == nil {
			return ErrNotCertified
		}
	}
	key, _ := keytrans.Index(k.VRF, account)
	return d.st.QueueKeyDir(ctx, store.KeyDirPending{Index: key[:], Value: value})
}

// ErrNoHead says that the directory has published nothing yet.
var ErrNoHead = errors.New("keydir: the directory has not published a head yet; retry after an interval")

// Head returns the newest signed head.
func (d *Dir) Head() (*keytrans.SignedHead, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	sh := d.heads[d.dir.Head().Size]
	if sh == nil {
		return nil, ErrNoHead
	}
	return sh, nil
}

// SignedHead returns the signed head of size n, from memory or the store.
func (d *Dir) SignedHead(ctx context.Context, n uint64) (*keytrans.SignedHead, error) {
	d.mu.RLock()
	sh, size := d.heads[n], d.dir.Head().Size
	d.mu.RUnlock()
	if sh != nil {
		return sh, nil
	}
	if n == 0 || n > size {
		return nil, fmt.Errorf("%w: size %d", keytrans.ErrNoSuchHead, n)
	}
	es, err := d.st.KeyDirEpochs(ctx, n-1, 1)
	if err != nil {
		return nil, err
	}
	if len(es) != 1 {
		return nil, fmt.Errorf("%w: size %d", keytrans.ErrNoSuchHead, n)
	}
	return keytrans.DecodeSignedHead(es[0].Head)
}

// Search returns account's lookup proof at the head of size n (0: the
// newest), with that head.
func (d *Dir) Search(ctx context.Context, account string, n uint64) (*keytrans.SignedHead, *keytrans.Lookup, error) {
	k := d.keys.Load()
	if k == nil {
		return nil, nil, ErrNotCertified
	}
	key, pi := keytrans.Index(k.VRF, account)
	d.mu.RLock()
	if n == 0 {
		n = d.dir.Head().Size
	}
	sh := d.heads[n]
	p, err := d.dir.GetAt(n, key)
	d.mu.RUnlock()
	if err != nil {
		return nil, nil, err
	}
	if sh == nil {
		return nil, nil, ErrNoHead
	}
	l := &keytrans.Lookup{VRFProof: pi, Proof: p}
	if t := p.Terminal; t != nil && t.Key == key {
		v, err := d.st.KeyDirValue(ctx, key[:], t.Version)
		if err != nil {
			return nil, nil, fmt.Errorf("keydir: the value of a published entry: %w", err)
		}
		if len(v.Opening) != keytrans.OpeningSize {
			return nil, nil, errors.New("keydir: a stored opening has the wrong size")
		}
		l.Opening, l.Value = [keytrans.OpeningSize]byte(v.Opening), v.Value
	}
	return sh, l, nil
}

// Ensure queues value for account unless its entry already holds it (at the
// newest head). Monitoring calls it, so an entry lost to a crash between
// registration and queueing comes back by itself.
func (d *Dir) Ensure(ctx context.Context, account string, value []byte) error {
	_, l, err := d.Search(ctx, account, 0)
	if err != nil && !errors.Is(err, ErrNoHead) {
		return err
	}
	if l != nil && l.Value != nil && bytes.Equal(l.Value, value) {
		return nil
	}
	return d.Queue(ctx, account, value)
}

// Consistency returns the proof that the head of size m is a prefix of the
// head of size n.
func (d *Dir) Consistency(m, n uint64) ([]logtree.Hash, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.dir.Consistency(m, n)
}

// Log returns stored epochs from number from, at most limit of them and
// about maxBytes in all (at least one), for auditors.
func (d *Dir) Log(ctx context.Context, from uint64, limit, maxBytes int) ([]store.KeyDirEpoch, error) {
	es, err := d.st.KeyDirEpochs(ctx, from, limit)
	if err != nil {
		return nil, err
	}
	total := 0
	for i, e := range es {
		total += len(e.Record) + len(e.Head)
		if total > maxBytes && i > 0 {
			return es[:i], nil
		}
	}
	return es, nil
}

// ErrUnknownAuditor says that a countersignature comes from an auditor the
// operator did not name.
var ErrUnknownAuditor = errors.New("keydir: not an auditor of this directory (the operator names them with --kt-auditor)")

// Countersign keeps an auditor's countersignature of the head of size n.
func (d *Dir) Countersign(ctx context.Context, n uint64, sig *keytrans.AuditorSignature) error {
	known := false
	for _, a := range d.cfg.Auditors {
		known = known || a == sig.Key
	}
	if !known {
		return ErrUnknownAuditor
	}
	sh, err := d.SignedHead(ctx, n)
	if err != nil {
		return err
	}
	if err := sig.Verify(&sh.Head, sig.Key); err != nil {
		return err
	}
	return d.st.SetKeyDirCountersig(ctx, store.KeyDirCountersig{Auditor: sig.Key.Bytes(), Size: n, Signature: sig.Encode()})
}

// An Audit is an auditor's newest countersignature with the head it signed.
type Audit struct {
	Head      *keytrans.SignedHead
	Signature *keytrans.AuditorSignature
}

// Audits returns each named auditor's newest countersignature.
func (d *Dir) Audits(ctx context.Context) ([]Audit, error) {
	cs, err := d.st.KeyDirCountersigs(ctx)
	if err != nil {
		return nil, err
	}
	var out []Audit
	for _, c := range cs {
		sig, err := keytrans.DecodeAuditorSignature(c.Signature)
		if err != nil {
			continue
		}
		known := false
		for _, a := range d.cfg.Auditors {
			known = known || a == sig.Key
		}
		if !known {
			continue // an auditor the operator no longer names
		}
		sh, err := d.SignedHead(ctx, c.Size)
		if err != nil {
			return nil, err
		}
		out = append(out, Audit{Head: sh, Signature: sig})
	}
	return out, nil
}
