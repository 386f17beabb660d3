package server_test

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/skymsg/sky/server"
	"github.com/skymsg/sky/server/blob/diskblob"
	"github.com/skymsg/sky/server/servertest"
	"github.com/skymsg/sky/wire"
)

func blobEnv(t *testing.T, cfg server.BlobConfig) (*env, string) {
	dir := filepath.Join(t.TempDir(), "blobs")
	st, err := diskblob.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Store = st
	return newEnv(t, server.Config{Blobs: cfg, SweepInterval: time.Hour}), dir
}

func call(t *testing.T, c *servertest.Client, req *wire.Request) (*wire.Response, error) {
	t.Helper()
	return c.Call(ctxT(t), req)
}

func blobCreate(t *testing.T, c *servertest.Client, size int64) ([]byte, error) {
	r, err := call(t, c, &wire.Request{Op: &wire.Request_BlobCreate{BlobCreate: &wire.BlobCreate{Size: uint64(size)}}})
	return r.GetBlobCreated().GetId(), err
}

func blobPut(t *testing.T, c *servertest.Client, id []byte, off int, data []byte) error {
	_, err := call(t, c, &wire.Request{Op: &wire.Request_BlobPut{BlobPut: &wire.BlobPut{Id: id, Offset: uint64(off), Data: data}}})
	return err
}

func blobFinish(t *testing.T, c *servertest.Client, id []byte) error {
	_, err := call(t, c, &wire.Request{Op: &wire.Request_BlobFinish{BlobFinish: &wire.BlobFinish{Id: id}}})
	return err
}

func blobGet(t *testing.T, c *servertest.Client, id []byte, off int) (*wire.BlobData, error) {
	r, err := call(t, c, &wire.Request{Op: &wire.Request_BlobGet{BlobGet: &wire.BlobGet{Id: id, Offset: uint64(off), Length: wire.BlobTransferBytes}}})
	return r.GetBlobData(), err
}

// upload puts a whole blob of random bytes and returns its ID and bytes.
func upload(t *testing.T, c *servertest.Client, fileSize int64) ([]byte, []byte) {
	t.Helper()
	data := make([]byte, wire.BlobLen(wire.BlobPadded(fileSize)))
	rand.Read(data)
	id, err := blobCreate(t, c, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	for off := 0; off < len(data); off += wire.BlobTransferBytes {
		if err := blobPut(t, c, id, off, data[off:min(off+wire.BlobTransferBytes, len(data))]); err != nil {
			t.Fatal(err)
		}
	}
	if err := blobFinish(t, c, id); err != nil {
		t.Fatal(err)
	}
	return id, data
}

func download(t *testing.T, c *servertest.Client, id []byte) ([]byte, error) {
	t.Helper()
	var out []byte
	for {
		d, err := blobGet(t, c, id, len(out))
		if err != nil {
			return out, err
		}
		out = append(out, d.GetData()...)
		if uint64(len(out)) >= d.GetSize() || len(d.GetData()) == 0 {
			return out, nil
		}
	}
}

// TestBlobRoundTrip: an account uploads in chunks, resuming from what the
// server says it holds; an anonymous connection downloads by ID alone.
func TestBlobRoundTrip(t *testing.T) {
	e, _ := blobEnv(t, server.BlobConfig{})
	alice, _ := e.register()
	if got := alice.Welcome.GetLimits().GetMaxBlobBytes(); got != uint64(wire.BlobLen(wire.BlobPadded(server.DefaultMaxFileBytes))) {
		t.Fatalf("Limits.max_blob_bytes = %d", got)
	}
	data := make([]byte, wire.BlobLen(wire.BlobPadded(700<<10)))
	rand.Read(data)
	id, err := blobCreate(t, alice, int64(len(data)))
	if err != nil || len(id) != wire.BlobIDBytes {
		t.Fatalf("create: %x, %v", id, err)
	}
	T := wire.BlobTransferBytes
	if err := blobPut(t, alice, id, 0, data[:T]); err != nil {
		t.Fatal(err)
	}
	// The connection drops; a new one asks where the upload stands.
	alice.CloseNow()
	_, a := e.register()
	alice = e.connect(a)
	r, err := call(t, alice, &wire.Request{Op: &wire.Request_BlobStatus{BlobStatus: &wire.BlobStatus{Id: id}}})
	if err != nil || r.GetBlobOffset().GetOffset() != uint64(T) || r.GetBlobOffset().GetSize() != uint64(len(data)) {
		t.Fatalf("status: %v, %v", r, err)
	}
	expectCode(t, blobPut(t, alice, id, 2*T, data[2*T:]), wire.Code_BLOB_OFFSET)
	expectCode(t, blobFinish(t, alice, id), wire.Code_BLOB_OFFSET)
	for off := T; off < len(data); off += T {
		if err := blobPut(t, alice, id, off, data[off:min(off+T, len(data))]); err != nil {
			t.Fatal(err)
		}
	}
	anon := e.anonymous()
	_, err = blobGet(t, anon, id, 0)
	expectCode(t, err, wire.Code_NOT_FOUND) // not finished yet
	if err := blobFinish(t, alice, id); err != nil {
		t.Fatal(err)
	}
	got, err := download(t, anon, id)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("downloaded %d of %d bytes: %v", len(got), len(data), err)
	}
	// Uploads need an authenticated account.
	_, err = blobCreate(t, anon, int64(len(data)))
	expectCode(t, err, wire.Code_BAD_REQUEST) // anonymous connections only send sealed and download
	_, err = blobCreate(t, e.dial(), int64(len(data)))
	expectCode(t, err, wire.Code_UNAUTHENTICATED)
	expectCode(t, blobPut(t, e.dial(), id, 0, data[:100]), wire.Code_UNAUTHENTICATED)
}

// TestBlobLimits: only padded lengths, the operator's size limit, the
// per-account quota and an active subscription.
func TestBlobLimits(t *testing.T) {
	e, _ := blobEnv(t, server.BlobConfig{MaxFileBytes: 1 << 20, Quota: server.Rate{Per: 1, Burst: 3 << 20}})
	c, _ := e.register()
	ok := wire.BlobLen(wire.BlobPadded(1 << 20))
	_, err := blobCreate(t, c, ok+1)
	expectCode(t, err, wire.Code_BAD_REQUEST) // not a blob length
	_, err = blobCreate(t, c, wire.BlobLen(wire.BlobPadded(1<<20+1)))
	expectCode(t, err, wire.Code_TOO_LARGE)
	for range 2 {
		if _, err := blobCreate(t, c, ok); err != nil {
			t.Fatal(err)
		}
	}
	_, err = blobCreate(t, c, ok)
	we := expectCode(t, err, wire.Code_QUOTA_EXCEEDED)
	if we.RetryAfter() <= 0 {
		t.Error("quota error without retry_after_ms")
	}
	// Another account has its own quota.
	d, _ := e.register()
	if _, err := blobCreate(t, d, ok); err != nil {
		t.Fatal(err)
	}
	// An account whose subscription ended cannot upload, but can download.
	_, od := e.register()
	e.clock.Advance(400 * 24 * time.Hour)
	old := e.connect(od)
	_, err = blobCreate(t, old, 4112)
	expectCode(t, err, wire.Code_SUBSCRIPTION_EXPIRED)
	_, err = blobGet(t, old, make([]byte, 16), 0)
	expectCode(t, err, wire.Code_NOT_FOUND)
}

// TestBlobExpiry: a blob goes at the message TTL, an unfinished upload at
// the end of its window; nothing of either is left in the blob directory,
// and a download of an expired blob looks like one of a blob that never
// existed.
func TestBlobExpiry(t *testing.T) {
	e, dir := blobEnv(t, server.BlobConfig{UploadWindow: 6 * time.Hour})
	c, _ := e.register()
	id, _ := upload(t, c, 5000)
	part, err := blobCreate(t, c, 4112)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(7 * time.Hour)
	if err := e.srv.Sweep(t.Context()); err != nil {
		t.Fatal(err)
	}
	expectCode(t, blobPut(t, c, part, 0, make([]byte, 4112)), wire.Code_NOT_FOUND)
	if _, err := download(t, e.anonymous(), id); err != nil {
		t.Fatalf("a finished blob went before the TTL: %v", err)
	}
	e.clock.Advance(server.DefaultMessageTTL)
	if err := e.srv.Sweep(t.Context()); err != nil {
		t.Fatal(err)
	}
	_, err = download(t, e.anonymous(), id)
	expired := expectCode(t, err, wire.Code_NOT_FOUND)
	_, err = download(t, e.anonymous(), make([]byte, 16))
	if never := expectCode(t, err, wire.Code_NOT_FOUND); never.GetMessage() != expired.GetMessage() {
		t.Errorf("an expired blob and an unknown one are told apart: %q vs %q", expired.GetMessage(), never.GetMessage())
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatalf("%d files left in the blob directory after the TTL", len(left))
	}
}

// TestBlobsOff: without a blob store the server says so.
func TestBlobsOff(t *testing.T) {
	e := newEnv(t, server.Config{})
	c, _ := e.register()
	if c.Welcome.GetLimits().GetMaxBlobBytes() != 0 {
		t.Fatal("announces attachments without a store")
	}
	_, err := blobCreate(t, c, 4112)
	expectCode(t, err, wire.Code_UNSUPPORTED)
	_, err = blobGet(t, e.anonymous(), make([]byte, 16), 0)
	expectCode(t, err, wire.Code_UNSUPPORTED)
}
