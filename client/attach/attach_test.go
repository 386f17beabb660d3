package attach_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skymsg/sky/client/attach"
	"github.com/skymsg/sky/client/attach/pointer"
	"github.com/skymsg/sky/client/conn"
	"github.com/skymsg/sky/server"
	"github.com/skymsg/sky/server/blob/diskblob"
	"github.com/skymsg/sky/server/servertest"
	"github.com/skymsg/sky/wire"
)

type env struct {
	t     testing.TB
	srv   *servertest.Server
	blobs string
	up    *conn.Conn // authenticated
}

func newEnv(t testing.TB, cfg server.BlobConfig) *env {
	return newServerEnv(t, server.Config{Blobs: cfg})
}

// newServerEnv is newEnv with the whole server configuration.
func newServerEnv(t testing.TB, cfg server.Config) *env {
	dir := filepath.Join(t.TempDir(), "server-blobs")
	st, err := diskblob.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Blobs.Store = st
	e := &env{t: t, blobs: dir, srv: servertest.Start(t, cfg)}
	e.up = e.register()
	return e
}

func (e *env) register() *conn.Conn {
	c, err := conn.Dial(e.t.Context(), e.srv.URL)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close() })
	_, priv, _ := ed25519.GenerateKey(nil)
	ik := make([]byte, 33)
	rand.Read(ik)
	if _, err := c.Register(e.t.Context(), e.srv.Code(e.t, time.Now()), priv, ik, 7); err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *env) uploader() attach.Dialer {
	return func(context.Context) (attach.Conn, error) { return e.up, nil }
}

// anonymous dials a fresh anonymous connection each time it is asked.
func (e *env) anonymous() attach.Dialer {
	return func(ctx context.Context) (attach.Conn, error) {
		c, err := conn.DialAnonymous(ctx, e.srv.URL)
		if err == nil {
			e.t.Cleanup(func() { c.Close() })
		}
		return c, err
	}
}

func writeFile(t testing.TB, name string, data []byte) string {
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	os.Chtimes(p, old, old)
	return p
}

// send prepares, uploads and returns the pointer as a recipient decodes it.
func (e *env) send(path string) (*pointer.Pointer, *attach.Prepared) {
	e.t.Helper()
	p, err := attach.Prepare(path, filepath.Join(e.t.TempDir(), "out"), 0)
	if err != nil {
		e.t.Fatal(err)
	}
	id, err := attach.Upload(e.t.Context(), e.uploader(), p.BlobPath, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	p.Pointer.BlobID = id
	b, err := pointer.Encode(&p.Pointer)
	if err != nil {
		e.t.Fatal(err)
	}
	if bytes.Contains(b, []byte(filepath.Dir(path))) || bytes.Contains(b, []byte("2001")) {
		e.t.Fatal("the pointer carries the file's directory or time")
	}
	q, err := pointer.Decode(b)
	if err != nil {
		e.t.Fatal(err)
	}
	return q, p
}

func (e *env) receive(p *pointer.Pointer, dial attach.Dialer) ([]byte, error) {
	e.t.Helper()
	dir := e.t.TempDir()
	blob := filepath.Join(dir, "in.blob")
	if err := attach.Download(e.t.Context(), dial, p, blob, nil); err != nil {
		return nil, err
	}
	out := filepath.Join(dir, attach.SafeName(p.Name))
	if err := attach.Save(blob, p, out, false); err != nil {
		return nil, err
	}
	return os.ReadFile(out)
}

func TestRoundTrip(t *testing.T) {
	e := newEnv(t, server.BlobConfig{})
	for _, n := range []int{0, 1, 1 << 20} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			data := make([]byte, n)
			rand.Read(data)
			p, prep := e.send(writeFile(t, "report.bin", data))
			if !prep.AsIs || p.Name != "report.bin" || p.Size != int64(n) {
				t.Fatalf("prepared %v, as is %v", p, prep.AsIs)
			}
			got, err := e.receive(p, e.anonymous())
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("received %d of %d bytes: %v", len(got), n, err)
			}
		})
	}
}

// TestGPSStripped: a photo with GPS EXIF arrives without it, same pixels.
func TestGPSStripped(t *testing.T) {
	e := newEnv(t, server.BlobConfig{})
	in, _ := os.ReadFile("testdata/gps.jpg")
	p, prep := e.send(writeFile(t, "IMG_0001.jpg", in))
	if prep.AsIs || p.Type != "image/jpeg" || p.Width != 64 || p.Height != 48 || len(p.Preview) == 0 {
		t.Fatalf("pointer %v (as is %v, %d×%d, preview %d bytes)", p, prep.AsIs, p.Width, p.Height, len(p.Preview))
	}
	got, err := e.receive(p, e.anonymous())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"CANARY-GPS", "CANARY-CAMERA", "CANARY-XMP", "CANARY-IPTC", "CANARY-COMMENT", "CANARY-AFTER"} {
		if bytes.Contains(got, []byte(c)) {
			t.Errorf("%s arrived", c)
		}
	}
	if !bytes.HasPrefix(got, []byte{0xff, 0xd8}) || len(got) >= len(in) {
		t.Fatalf("received %d bytes, not a stripped JPEG of the %d sent", len(got), len(in))
	}
}

// TestHEICStripped: a HEIC photo's EXIF (GPS, camera serial) and XMP do
// not arrive; the file is as long as it was, every box in place.
func TestHEICStripped(t *testing.T) {
	e := newEnv(t, server.BlobConfig{})
	in, _ := os.ReadFile("strip/testdata/gps.heic")
	p, prep := e.send(writeFile(t, "IMG_0002.HEIC", in))
	if prep.AsIs || p.Type != "image/heic" || !slices.Contains(prep.Removed, "EXIF") || !slices.Contains(prep.Removed, "XMP") {
		t.Fatalf("pointer %v (as is %v, removed %q)", p, prep.AsIs, prep.Removed)
	}
	got, err := e.receive(p, e.anonymous())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"CANARY-GPS", "CANARY-CAMERA", "CANARY-XMP"} {
		if !bytes.Contains(in, []byte(c)) || bytes.Contains(got, []byte(c)) {
			t.Errorf("%s: sent %v, arrived %v", c, bytes.Contains(in, []byte(c)), bytes.Contains(got, []byte(c)))
		}
	}
	if len(got) != len(in) || !bytes.Equal(got[:28], in[:28]) {
		t.Fatalf("received %d bytes, not the HEIC of %d sent", len(got), len(in))
	}
}

// dropper wraps a connection and closes it after a number of requests of
// one kind, as a network that fails mid-transfer.
type dropper struct {
	c     *conn.Conn
	after int32
	n     *atomic.Int32
}

func (d dropper) Start(ctx context.Context, req *wire.Request) (<-chan *wire.Response, error) {
	if req.GetBlobPut() != nil || req.GetBlobGet() != nil {
		if d.n.Add(1) == d.after {
			d.c.Close()
		}
	}
	return d.c.Start(ctx, req)
}

// TestResume: a connection dropped mid-upload and one dropped
// mid-download; both transfers go on from where they were.
func TestResume(t *testing.T) {
	e := newEnv(t, server.BlobConfig{})
	data := make([]byte, 3<<20)
	rand.Read(data)
	p, err := attach.Prepare(writeFile(t, "big", data), t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	var dials, puts atomic.Int32
	up := func(ctx context.Context) (attach.Conn, error) {
		if dials.Add(1) == 1 {
			return dropper{e.up, 6, &puts}, nil
		}
		return e.register(), nil // a new connection (here: of another account)
	}
	id, err := attach.Upload(t.Context(), up, p.BlobPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	if dials.Load() < 2 {
		t.Fatal("the upload never reconnected: the test dropped nothing")
	}
	p.Pointer.BlobID = id
	var gdials, gets atomic.Int32
	down := func(ctx context.Context) (attach.Conn, error) {
		c, err := conn.DialAnonymous(ctx, e.srv.URL)
		if err != nil {
			return nil, err
		}
		t.Cleanup(func() { c.Close() })
		if gdials.Add(1) == 1 {
			return dropper{c, 7, &gets}, nil
		}
		return c, nil
	}
	got, err := e.receive(&p.Pointer, down)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("received %d of %d bytes: %v", len(got), len(data), err)
	}
	if gdials.Load() < 2 {
		t.Fatal("the download never reconnected")
	}
}

// hostile answers every BlobGet with what its function makes of the real
// blob's bytes.
type hostile struct {
	blob []byte
	f    func(off int, data []byte, size int) (*wire.BlobData, *wire.Error)
}

func (h hostile) Start(_ context.Context, req *wire.Request) (<-chan *wire.Response, error) {
	g := req.GetBlobGet()
	off := int(g.GetOffset())
	end := min(off+int(g.GetLength()), len(h.blob))
	d, e := h.f(off, bytes.Clone(h.blob[off:end]), len(h.blob))
	ch := make(chan *wire.Response, 1)
	if e != nil {
		ch <- &wire.Response{Error: e}
	} else {
		ch <- &wire.Response{Result: &wire.Response_BlobData{BlobData: d}}
	}
	return ch, nil
}

// TestHostileServer: whatever a server does to a blob, the download is
// refused with a typed error, the partial file is gone, and nothing was
// decrypted.
func TestHostileServer(t *testing.T) {
	data := bytes.Repeat([]byte("the real file. "), 50000)
	p, err := attach.Prepare(writeFile(t, "real.txt", data), t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	blob, _ := os.ReadFile(p.BlobPath)
	other, _ := attach.Prepare(writeFile(t, "other.txt", bytes.Repeat([]byte("a forged file! "), 50000)), t.TempDir(), 0)
	forged, _ := os.ReadFile(other.BlobPath)
	for _, tc := range []struct {
		name string
		f    func(off int, data []byte, size int) (*wire.BlobData, *wire.Error)
		want error
	}{
		{"more than announced", func(off int, d []byte, size int) (*wire.BlobData, *wire.Error) {
			return &wire.BlobData{Data: d, Size: uint64(size + 100)}, nil
		}, attach.ErrOverflow},
		{"longer chunk", func(off int, d []byte, size int) (*wire.BlobData, *wire.Error) {
			return &wire.BlobData{Data: append(d, 0), Size: uint64(size)}, nil
		}, attach.ErrOverflow},
		{"truncated", func(off int, d []byte, size int) (*wire.BlobData, *wire.Error) {
			return &wire.BlobData{Data: d[:len(d)/2], Size: uint64(size)}, nil
		}, attach.ErrTruncated},
		{"flipped byte", func(off int, d []byte, size int) (*wire.BlobData, *wire.Error) {
			if off == 0 {
				d[100] ^= 1
			}
			return &wire.BlobData{Data: d, Size: uint64(size)}, nil
		}, attach.ErrDigest},
		{"substituted", func(off int, d []byte, size int) (*wire.BlobData, *wire.Error) {
			return &wire.BlobData{Data: forged[off : off+len(d)], Size: uint64(size)}, nil
		}, attach.ErrDigest},
		{"missing", func(int, []byte, int) (*wire.BlobData, *wire.Error) {
			return nil, wire.NewError(wire.Code_NOT_FOUND, "no such attachment")
		}, attach.ErrMissing},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "in.blob")
			dial := func(context.Context) (attach.Conn, error) { return hostile{blob, tc.f}, nil }
			err := attach.Download(t.Context(), dial, &p.Pointer, path, nil)
			if !errors.Is(err, tc.want) {
				t.Fatalf("%v, want %v", err, tc.want)
			}
			if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
				t.Fatal("the refused download was kept")
			}
			if err := attach.Save(path, &p.Pointer, filepath.Join(dir, "out"), false); !errors.Is(err, attach.ErrNotDownloaded) {
				t.Fatalf("saving a refused download: %v", err)
			}
		})
	}
	// A blob tampered with on the local disk after the download is
	// refused on save, and leaves no file.
	dir := t.TempDir()
	bad := bytes.Clone(blob)
	bad[len(bad)-1] ^= 1
	os.WriteFile(filepath.Join(dir, "b"), bad, 0o600)
	if err := attach.Save(filepath.Join(dir, "b"), &p.Pointer, filepath.Join(dir, "out"), false); !errors.Is(err, attach.ErrDigest) {
		t.Fatalf("tampered local blob: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) != 1 {
		t.Fatalf("files left: %v", left)
	}
}

// TestLimits: the server's size limit and quota come back as typed errors.
func TestLimits(t *testing.T) {
	e := newEnv(t, server.BlobConfig{MaxFileBytes: 64 << 10, Quota: server.Rate{Per: 1, Burst: 150 << 10}})
	big, err := attach.Prepare(writeFile(t, "big", make([]byte, 100<<10)), t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := attach.Upload(t.Context(), e.uploader(), big.BlobPath, nil); !errors.Is(err, attach.ErrTooLarge) {
		t.Fatalf("over the limit: %v", err)
	}
	if _, err := attach.Prepare(writeFile(t, "big", make([]byte, 100<<10)), t.TempDir(), 64<<10); !errors.Is(err, attach.ErrTooLarge) {
		t.Fatalf("Prepare over the limit: %v", err)
	}
	ok, _ := attach.Prepare(writeFile(t, "ok", make([]byte, 60<<10)), t.TempDir(), 0)
	for range 2 {
		if _, err := attach.Upload(t.Context(), e.uploader(), ok.BlobPath, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := attach.Upload(t.Context(), e.uploader(), ok.BlobPath, nil); !errors.Is(err, attach.ErrQuota) {
		t.Fatalf("over the quota: %v", err)
	}
}

func TestSafeName(t *testing.T) {
	for in, want := range map[string]string{
		"photo.jpg":              "photo.jpg",
		"../../etc/passwd":       "passwd",
		`..\..\boot.ini`:         "boot.ini",
		".bashrc":                "_bashrc",
		"..":                     "_.",
		"":                       "attachment",
		"a\x1b[31mred\x00.txt":   "a_[31mred_.txt",
		"rtl\u202egnp.exe":       "rtl_gnp.exe",
		"CON:*?":                 "CON___",
		strings.Repeat("é", 200): strings.Repeat("é", 127),
	} {
		if got := attach.SafeName(in); got != want {
			t.Errorf("SafeName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSaveNeverOverwrites(t *testing.T) {
	p, err := attach.Prepare(writeFile(t, "a", []byte("new")), t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	out := writeFile(t, "existing", []byte("keep me"))
	if err := attach.Save(p.BlobPath, &p.Pointer, out, false); !errors.Is(err, attach.ErrExists) {
		t.Fatalf("save over a file: %v", err)
	}
	if b, _ := os.ReadFile(out); string(b) != "keep me" {
		t.Fatal("overwritten")
	}
	if err := attach.Save(p.BlobPath, &p.Pointer, out, true); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(out); string(b) != "new" {
		t.Fatal("--force did not write")
	}
}

// TestLargeFile sends a 100 MiB file, the default limit, through a real
// skyd and back, bit for bit. It is slow: SKY_SLOW_TESTS=1 runs it.
func TestLargeFile(t *testing.T) {
	if os.Getenv("SKY_SLOW_TESTS") != "1" {
		t.Skip("set SKY_SLOW_TESTS=1 to send a 100 MiB file")
	}
	e := newEnv(t, server.BlobConfig{})
	data := make([]byte, server.DefaultMaxFileBytes)
	rand.Read(data)
	p, _ := e.send(writeFile(t, "big.bin", data))
	got, err := e.receive(p, e.anonymous())
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("received %d of %d bytes: %v", len(got), len(data), err)
	}
}

// TestTransferRates: attachment chunks are not requests of the connection
// rate (a 2 MiB file is 9 chunks each way, over a burst of 4 that does not
// refill: before they were, the upload failed RATE_LIMITED), and when the
// server's transfer rate says slow down, both directions wait as told and
// finish.
func TestTransferRates(t *testing.T) {
	data := make([]byte, 2<<20)
	rand.Read(data)
	for name, cfg := range map[string]server.Config{
		"chunks are no requests": {ConnRate: server.Rate{Per: 1e-3, Burst: 4}},
		"transfer rate":          {Blobs: server.BlobConfig{TransferRate: server.Rate{Per: 8 << 20, Burst: 1 << 20}}},
	} {
		t.Run(name, func(t *testing.T) {
			e := newServerEnv(t, cfg)
			p, _ := e.send(writeFile(t, "two.bin", data))
			got, err := e.receive(p, e.anonymous())
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("received %d of %d bytes: %v", len(got), len(data), err)
			}
		})
	}
}

// TestDuration: a recording's duration is read from its container and
// reaches the recipient in the pointer, with its type.
func TestDuration(t *testing.T) {
	e := newEnv(t, server.BlobConfig{})
	for _, c := range []struct {
		file, typ string
		ms        int64
	}{
		{"tone.opus", "audio/ogg", 1500},
		{"clip.mp4", "video/mp4", 2600},
		{"tone-bare.mp3", "audio/mpeg", 1656},
	} {
		b, err := os.ReadFile(filepath.Join("media", "testdata", c.file))
		if err != nil {
			t.Fatal(err)
		}
		p, _ := e.send(writeFile(t, c.file, b))
		if p.Type != c.typ || (p.Duration-time.Duration(c.ms)*time.Millisecond).Abs() > 60*time.Millisecond {
			t.Errorf("%s: %s, %v; want %s, %d ms", c.file, p.Type, p.Duration, c.typ, c.ms)
		}
	}
}

// TestDownloadLater: a download stopped part way (the program quit) goes
// on from the partial file the next time, whose bytes count toward the
// digest: a partial file changed meanwhile makes the download fail
// ErrDigest and removes it, never a blob that differs from the pointer's.
func TestDownloadLater(t *testing.T) {
	e := newEnv(t, server.BlobConfig{})
	data := make([]byte, 2<<20)
	rand.Read(data)
	p, _ := e.send(writeFile(t, "later.bin", data))
	for _, tamper := range []bool{false, true} {
		part := filepath.Join(t.TempDir(), "in.blob")
		ctx, stop := context.WithCancel(t.Context())
		err := attach.Download(ctx, e.anonymous(), p, part, func(done, total int64) {
			if done >= 3*wire.BlobTransferBytes {
				stop()
			}
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("the stopped download: %v", err)
		}
		fi, err := os.Stat(part)
		if err != nil || fi.Size() < 3*wire.BlobTransferBytes || fi.Size() >= p.Len() {
			t.Fatalf("partial file: %v, %v", fi, err)
		}
		if tamper {
			f, _ := os.OpenFile(part, os.O_WRONLY, 0)
			f.WriteAt([]byte{0xff}, 100)
			f.Close()
		}
		err = attach.Download(t.Context(), e.anonymous(), p, part, nil)
		switch {
		case tamper && !errors.Is(err, attach.ErrDigest):
			t.Fatalf("a tampered partial file: %v", err)
		case tamper:
			if _, err := os.Stat(part); !os.IsNotExist(err) {
				t.Fatal("the tampered download is still there")
			}
		case err != nil:
			t.Fatalf("going on: %v", err)
		default:
			out := filepath.Join(t.TempDir(), "out")
			if err := attach.Save(part, p, out, false); err != nil {
				t.Fatal(err)
			}
			if b, _ := os.ReadFile(out); !bytes.Equal(b, data) {
				t.Fatal("the resumed download differs")
			}
		}
	}
}
