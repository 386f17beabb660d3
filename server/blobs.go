package server

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/skymsg/sky/server/blob"
	"github.com/skymsg/sky/server/metrics"
	"github.com/skymsg/sky/wire"
)

// Attachments: blobs of padded ciphertext, uploaded in chunks on an
// authenticated connection and downloaded by ID on any connection (see
// docs/protocol.md, "Attachments"). The server keeps no record of who
// uploaded a blob: the quota and rate are buckets keyed by account, like
// every rate limit (in memory, or in a cluster a keyed hash in NATS), and
// forgotten once refilled.

// Defaults for BlobConfig fields left zero.
const (
	DefaultMaxFileBytes = 100 << 20
	DefaultUploadWindow = 24 * time.Hour
	DefaultBlobQuota    = 1 << 30 // bytes per account per day
	// DefaultTransferRate is the attachment bytes per second one
	// connection may move, with bursts of DefaultTransferBurst.
	DefaultTransferRate  = 1 << 30
	DefaultTransferBurst = 64 << 20
)

// BlobConfig configures attachments. A nil Store turns them off.
type BlobConfig struct {
	Store blob.Store
	// MaxFileBytes is the largest file accepted, before padding; default
	// 100 MiB. Blobs may be as long as that file's padded blob.
	MaxFileBytes int64
	// Quota is the bytes an account may upload: Per bytes per second on
	// average, bursts of Burst bytes; default 1 GiB a day.
	Quota Rate
	// UploadRate is the uploads an account may start; default 1/s, burst 100.
	UploadRate Rate
	// TransferRate is the attachment bytes one connection may move
	// (BlobPut and BlobGet together), in place of the per-request
	// connection rate, which a transfer of 256 KiB chunks would exhaust
	// at 50 MB/s; every BlobPut or BlobGet costs a whole chunk, however
	// few bytes it moves.
	// Default 1 GiB/s, bursts of 64 MiB.
	TransferRate Rate
	// UploadWindow is how long an upload may stay unfinished before it is
	// deleted; default 24h, at most the message TTL.
	UploadWindow time.Duration
}

// blobState is a server's attachment side.
type blobState struct {
	st                              blob.Store
	maxLen                          int64
	window                          time.Duration
	quota                           byteLimiter
	uploads                         limiter
	created, finished, swept        *metrics.Counter
	bytesIn, bytesOut, quotaRefused *metrics.Counter
}

func (s *Server) initBlobs() error {
	c := &s.cfg.Blobs
	if c.Store == nil {
		return nil
	}
	if c.MaxFileBytes <= 0 {
		c.MaxFileBytes = DefaultMaxFileBytes
	}
	padded := wire.BlobPadded(c.MaxFileBytes)
	if padded == 0 {
		return fmt.Errorf("server: the largest attachment (%d bytes) is over the protocol's %d", c.MaxFileBytes, int64(wire.MaxBlobPadded))
	}
	if c.Quota.Per <= 0 || c.Quota.Burst <= 0 {
		c.Quota = Rate{Per: DefaultBlobQuota / 86400.0, Burst: DefaultBlobQuota}
	}
	if c.UploadRate.Per <= 0 || c.UploadRate.Burst <= 0 {
		c.UploadRate = Rate{Per: 1, Burst: 100}
	}
	if c.TransferRate.Per <= 0 || c.TransferRate.Burst < wire.BlobTransferBytes {
		c.TransferRate = Rate{Per: DefaultTransferRate, Burst: DefaultTransferBurst}
	}
	if c.UploadWindow <= 0 {
		c.UploadWindow = DefaultUploadWindow
	}
	c.UploadWindow = min(c.UploadWindow, s.cfg.MessageTTL)
	r := s.cfg.Metrics
	s.blobs = &blobState{
		st: c.Store, maxLen: wire.BlobLen(padded), window: c.UploadWindow,
		quota:        s.newByteQuota(c.Quota),
		uploads:      s.newLimiter("blob-uploads", c.UploadRate),
		created:      r.Counter("skyd_blob_uploads_total", "Attachment uploads started."),
		finished:     r.Counter("skyd_blob_uploads_finished_total", "Attachment uploads finished."),
		swept:        r.Counter("skyd_blobs_expired_total", "Attachment blobs and unfinished uploads deleted by the sweeper."),
		bytesIn:      r.Counter("skyd_blob_bytes_in_total", "Attachment bytes uploaded."),
		bytesOut:     r.Counter("skyd_blob_bytes_out_total", "Attachment bytes downloaded."),
		quotaRefused: r.Counter("skyd_blob_quota_refused_total", "Uploads refused by the per-account quota."),
	}
	return nil
}

// maxBlobBytes is what Limits announces: 0 when attachments are off.
func (s *Server) maxBlobBytes() uint64 {
	if s.blobs == nil {
		return 0
	}
	return uint64(s.blobs.maxLen)
}

// sweepBlobs deletes blobs as old as the message TTL and unfinished
// uploads older than the upload window.
func (s *Server) sweepBlobs(ctx context.Context) error {
	if s.blobs == nil {
		return nil
	}
	now := s.now()
	n, err := s.blobs.st.Sweep(ctx, s.cutoff(), now.Add(-s.blobs.window))
	s.blobs.swept.Add(uint64(n))
	s.blobs.quota.prune(now)
	s.blobs.uploads.prune(now)
	return err
}

// handleBlob handles the attachment requests; false if req is not one.
func (c *conn) handleBlob(req *wire.Request) bool {
	id := req.GetId()
	switch op := req.GetOp().(type) {
	case *wire.Request_BlobCreate:
		c.blobCreate(id, op.BlobCreate)
	case *wire.Request_BlobPut:
		c.blobPut(id, op.BlobPut)
	case *wire.Request_BlobStatus:
		c.blobStatus(id, op.BlobStatus)
	case *wire.Request_BlobFinish:
		c.blobFinish(id, op.BlobFinish)
	case *wire.Request_BlobGet:
		c.blobGet(id, op.BlobGet)
	default:
		return false
	}
	return true
}

var errNoBlobs = wire.NewError(wire.Code_UNSUPPORTED, "this server takes no attachments; ask its operator")

// blobReady says why this connection may not upload, if it may not.
func (c *conn) blobReady() *wire.Error {
	switch {
	case c.s.blobs == nil:
		return errNoBlobs
	case c.anon != nil || !c.isAuthed():
		return errNotAuthenticated
	}
	return nil
}

func blobID(b []byte) (blob.ID, *wire.Error) {
	var id blob.ID
	if len(b) != len(id) {
		return id, badRequest("a blob ID is %d bytes", len(id))
	}
	copy(id[:], b)
	return id, nil
}

// blobError turns a blob store error into what the client is told.
func (c *conn) blobError(err error) *wire.Error {
	switch {
	case errors.Is(err, blob.ErrNotFound):
		return wire.NewError(wire.Code_NOT_FOUND, "no such attachment: it expired, was never finished, or never existed; ask the sender to send it again")
	case errors.Is(err, blob.ErrOffset), errors.Is(err, blob.ErrIncomplete):
		return wire.NewError(wire.Code_BLOB_OFFSET, "the upload is not where this request expects it: ask BlobStatus and go on from its offset")
	case errors.Is(err, blob.ErrFinished):
		return badRequest("the upload is already finished")
	case errors.Is(err, blob.ErrTooLong), errors.Is(err, blob.ErrChunk):
		return badRequest("a put carries %d bytes except the last, which ends the blob at its declared size", wire.BlobTransferBytes)
	}
	c.s.log.Error("blob storage error", "err", err)
	e := wire.NewError(wire.Code_UNAVAILABLE, "the server could not reach its attachment storage; retry shortly")
	e.RetryAfterMs = 1000
	return e
}

func (c *conn) blobCreate(id uint64, r *wire.BlobCreate) {
	if e := c.blobReady(); e != nil {
		c.replyErr(id, e)
		return
	}
	b := c.s.blobs
	size := int64(min(r.GetSize(), 1<<62))
	switch {
	case wire.BlobPaddedOf(size) == 0:
		c.replyErr(id, badRequest("%d is not a blob length: pad the file to its size class (wire.BlobPadded)", size))
		return
	case size > b.maxLen:
		c.replyErr(id, wire.NewError(wire.Code_TOO_LARGE, fmt.Sprintf("the file is over this server's limit of %d bytes per attachment", c.s.cfg.Blobs.MaxFileBytes)))
		return
	}
	now := c.s.now()
	if e := c.mayPost(now); e != nil {
		c.replyErr(id, e)
		return
	}
	if wait, ok := b.uploads.take(c.addr.Account, now); !ok {
		c.s.m.rateLimited.Inc()
		c.replyErr(id, rateLimited("this account starts uploads too fast", wait))
		return
	}
	if wait, ok := b.quota.take(c.addr.Account, size, now); !ok {
		b.quotaRefused.Inc()
		e := wire.NewError(wire.Code_QUOTA_EXCEEDED, "this account uploaded its quota of attachment bytes for now; retry later or send a smaller file")
		e.RetryAfterMs = uint32(min(max(wait.Milliseconds(), 1), 1<<31))
		c.replyErr(id, e)
		return
	}
	bid := blob.NewID()
	if err := b.st.Create(c.s.ctx, bid, size, c.s.coarse(now)); err != nil {
		c.replyErr(id, c.blobError(err))
		return
	}
	b.created.Inc()
	c.reply(id, &wire.Response{Result: &wire.Response_BlobCreated{BlobCreated: &wire.BlobCreated{Id: bid[:]}}})
}

func (c *conn) blobPut(id uint64, r *wire.BlobPut) {
	bid, ok := c.uploadID(id, r.GetId())
	if !ok {
		return
	}
	if len(r.GetData()) == 0 || len(r.GetData()) > wire.BlobTransferBytes || r.GetOffset() > 1<<62 {
		c.replyErr(id, badRequest("a put carries 1 to %d bytes", wire.BlobTransferBytes))
		return
	}
	off := int64(r.GetOffset())
	if err := c.s.blobs.st.Put(c.s.ctx, bid, off, r.GetData()); err != nil {
		c.replyErr(id, c.blobError(err))
		return
	}
	c.s.blobs.bytesIn.Add(uint64(len(r.GetData())))
	c.reply(id, &wire.Response{Result: &wire.Response_BlobOffset{BlobOffset: &wire.BlobOffset{Offset: uint64(off) + uint64(len(r.GetData()))}}})
}

// uploadID checks that this connection may upload and that raw is a blob
// ID; on false it has answered the request.
func (c *conn) uploadID(id uint64, raw []byte) (blob.ID, bool) {
	e := c.blobReady()
	var bid blob.ID
	if e == nil {
		bid, e = blobID(raw)
	}
	if e != nil {
		c.replyErr(id, e)
		return bid, false
	}
	return bid, true
}

func (c *conn) blobStatus(id uint64, r *wire.BlobStatus) {
	bid, ok := c.uploadID(id, r.GetId())
	if !ok {
		return
	}
	in, err := c.s.blobs.st.Stat(c.s.ctx, bid)
	if err != nil {
		c.replyErr(id, c.blobError(err))
		return
	}
	c.reply(id, &wire.Response{Result: &wire.Response_BlobOffset{BlobOffset: &wire.BlobOffset{
		Offset: uint64(in.Have), Size: uint64(in.Size), Finished: in.Finished,
	}}})
}

func (c *conn) blobFinish(id uint64, r *wire.BlobFinish) {
	bid, ok := c.uploadID(id, r.GetId())
	if !ok {
		return
	}
	if err := c.s.blobs.st.Finish(c.s.ctx, bid); err != nil {
		c.replyErr(id, c.blobError(err))
		return
	}
	c.s.blobs.finished.Inc()
	c.reply(id, &wire.Response{Result: &wire.Response_BlobFinished{BlobFinished: &wire.BlobFinished{}}})
}

// blobGet serves a download, on any connection: the ID is the capability.
func (c *conn) blobGet(id uint64, r *wire.BlobGet) {
	if c.s.blobs == nil {
		c.replyErr(id, errNoBlobs)
		return
	}
	bid, e := blobID(r.GetId())
	if e == nil && (r.GetLength() == 0 || r.GetLength() > wire.BlobTransferBytes || r.GetOffset() > 1<<62) {
		e = badRequest("a get asks for 1 to %d bytes", wire.BlobTransferBytes)
	}
	if e != nil {
		c.replyErr(id, e)
		return
	}
	bp := chunkBufs.Get().(*[]byte)
	defer chunkBufs.Put(bp)
	buf := (*bp)[:r.GetLength()]
	n, size, err := c.s.blobs.st.ReadAt(c.s.ctx, bid, buf, int64(r.GetOffset()))
	if err != nil {
		c.replyErr(id, c.blobError(err))
		return
	}
	c.s.blobs.bytesOut.Add(uint64(n))
	// reply copies the bytes into the write buffer, so buf goes back to
	// the pool once it returns.
	c.reply(id, &wire.Response{Result: &wire.Response_BlobData{BlobData: &wire.BlobData{Data: buf[:n], Size: uint64(size)}}})
}

// chunkBufs are the buffers downloads read a chunk into.
var chunkBufs = sync.Pool{New: func() any { b := make([]byte, wire.BlobTransferBytes); return &b }}

// takeRequest spends what req costs of this connection's rates, or says
// why it may not go on now. A blob transfer (BlobPut, BlobGet) costs a
// whole chunk of the transfer rate, however few bytes it moves (so tiny
// gets cannot flood); anything else one request of the connection rate.
func (c *conn) takeRequest(req *wire.Request) *wire.Error {
	now := c.s.now()
	switch req.GetOp().(type) {
	case *wire.Request_BlobPut, *wire.Request_BlobGet:
		if c.s.blobs != nil {
			if c.blobRate == nil {
				c.blobRate = c.s.cfg.Blobs.TransferRate.limiter()
			}
			if wait, ok := takeN(c.blobRate, wire.BlobTransferBytes, now); !ok {
				return rateLimited("this connection moves attachment bytes faster than this server allows", wait)
			}
			return nil
		}
	}
	if wait, ok := take(c.limiter, now); !ok {
		return rateLimited("this connection sends requests too fast", wait)
	}
	return nil
}

// byteLimiter is a quota of bytes per key.
type byteLimiter interface {
	take(key string, n int64, now time.Time) (time.Duration, bool)
	prune(now time.Time)
}

// newByteQuota returns the attachment byte quota: shared by every node of
// a cluster (so an account's quota is per cluster, not per node), this
// node's own otherwise.
func (s *Server) newByteQuota(r Rate) byteLimiter {
	local := newByteQuota(r)
	if s.cluster == nil {
		return local
	}
	shared, ok := s.cluster.Limiter("blob-bytes", r).(SharedQuota)
	if !ok {
		return local
	}
	return &sharedByteQuota{shared: shared, local: local, s: s}
}

// sharedByteQuota asks the cluster, and its own buckets when the cluster
// cannot answer (as sharedLimiter does).
type sharedByteQuota struct {
	shared SharedQuota
	local  byteQuota
	s      *Server
	logged atomic.Int64 // unix seconds of the last warning
}

func (q *sharedByteQuota) take(key string, n int64, now time.Time) (time.Duration, bool) {
	wait, ok, err := q.shared.TakeN(key, n, now)
	if err == nil {
		return wait, ok
	}
	if t, last := time.Now().Unix(), q.logged.Load(); t-last >= 60 && q.logged.CompareAndSwap(last, t) {
		q.s.log.Warn("the shared attachment quota is unreachable; this node counts on its own meanwhile", "err", err)
	}
	return q.local.take(key, n, now)
}

func (q *sharedByteQuota) prune(now time.Time) { q.local.prune(now) }

// byteQuota is a token bucket of bytes per key, in memory only: a
// keyedLimiter whose tokens are bytes.
type byteQuota struct{ *keyedLimiter }

func newByteQuota(r Rate) byteQuota { return byteQuota{newKeyedLimiter(r)} }

// take spends n bytes of key's bucket at now, or says how long to wait.
func (q byteQuota) take(key string, n int64, now time.Time) (time.Duration, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	e := q.m[key]
	if e == nil {
		e = &keyed{l: q.rate.limiter()}
		q.m[key] = e
	}
	e.last = now
	res := e.l.ReserveN(now, int(min(n, 1<<40)))
	if !res.OK() {
		return 24 * time.Hour, false
	}
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return d, false
	}
	return 0, true
}
