package attach

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"sync"
	"time"

	"github.com/skymsg/sky/client/attach/pointer"
	"github.com/skymsg/sky/wire"
)

// Conn is a connection to the Sky server as transfers use it; client/conn's
// Conn is one.
type Conn interface {
	Start(ctx context.Context, req *wire.Request) (<-chan *wire.Response, error)
}

// Dialer returns a connection to use: the current one, or a new one after
// the last dropped. Uploads need an authenticated connection; downloads
// take any (an anonymous one is best: it ties the download to no account).
type Dialer func(ctx context.Context) (Conn, error)

// Progress is told how many of a transfer's total bytes are done.
type Progress func(done, total int64)

const (
	window = 8 // requests in flight: 2 MiB
	// retries bounds reconnections within one transfer that make no
	// progress.
	retries = 5
)

// errLost marks a connection that ended mid-transfer: dial again and go on.
var errLost = errors.New("the connection dropped")

// maxWait bounds how long one "slow down" from the server is obeyed.
const maxWait = 30 * time.Second

// slowedDown reports whether err is the server asking to slow down
// (RATE_LIMITED, UNAVAILABLE), and if so waits as long as it asked (at
// least a millisecond, at most maxWait) before the transfer goes on from
// where the server has it.
func slowedDown(ctx context.Context, err error) bool {
	var we *wire.Error
	if !errors.As(err, &we) || !errors.Is(err, wire.ErrRateLimited) && !errors.Is(err, wire.ErrUnavailable) {
		return false
	}
	t := time.NewTimer(min(max(we.RetryAfter(), time.Millisecond), maxWait))
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// call sends one request and waits for its answer.
func call(ctx context.Context, c Conn, req *wire.Request) (*wire.Response, error) {
	ch, err := c.Start(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errLost, err)
	}
	return await(ctx, ch)
}

func await(ctx context.Context, ch <-chan *wire.Response) (*wire.Response, error) {
	select {
	case r, ok := <-ch:
		if !ok {
			return nil, errLost
		}
		if e := r.GetError(); e != nil {
			return nil, e
		}
		return r, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Upload creates a blob on the server and uploads the blob file at path
// into it, in chunks, several in flight. After a dropped connection it
// dials again, asks the server how far it got, and goes on from there. It
// returns the blob's ID once the server has it whole.
func Upload(ctx context.Context, dial Dialer, path string, progress Progress) (id [wire.BlobIDBytes]byte, err error) {
	f, err := os.Open(path)
	if err != nil {
		return id, fmt.Errorf("opening the encrypted copy: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return id, err
	}
	size := fi.Size()
	if wire.BlobPaddedOf(size) == 0 {
		return id, fmt.Errorf("%s is not a padded blob (%d bytes)", path, size)
	}
	c, err := dial(ctx)
	if err != nil {
		return id, err
	}
	r, err := call(ctx, c, &wire.Request{Op: &wire.Request_BlobCreate{BlobCreate: &wire.BlobCreate{Size: uint64(size)}}})
	if err != nil {
		return id, serverError("starting the upload", err)
	}
	if copy(id[:], r.GetBlobCreated().GetId()) != len(id) {
		return id, fmt.Errorf("starting the upload: the server answered without a blob ID")
	}
	off, fails := int64(0), 0
	for {
		var next int64
		next, err = putFrom(ctx, c, id, f, off, size, progress)
		if err == nil {
			break
		}
		if !errors.Is(err, errLost) && !errors.Is(err, wire.ErrBlobOffset) && !slowedDown(ctx, err) {
			return id, serverError("uploading", err)
		}
		if next == off {
			if fails++; fails > retries {
				return id, fmt.Errorf("uploading: %w, %d times without progress; try again later", err, fails)
			}
		} else {
			fails = 0
		}
		if c, off, err = resumeAt(ctx, dial, id, size); err != nil {
			return id, err
		}
	}
	if _, err := call(ctx, c, &wire.Request{Op: &wire.Request_BlobFinish{BlobFinish: &wire.BlobFinish{Id: id[:]}}}); err != nil {
		return id, serverError("finishing the upload", err)
	}
	return id, nil
}

// resumeAt dials again and asks the server how much of upload id it has,
// as long as the connection drops or the server asks to slow down (at most
// retries times).
func resumeAt(ctx context.Context, dial Dialer, id [wire.BlobIDBytes]byte, size int64) (Conn, int64, error) {
	var last error
	for range retries {
		c, err := dial(ctx)
		if err != nil {
			return nil, 0, err
		}
		r, err := call(ctx, c, &wire.Request{Op: &wire.Request_BlobStatus{BlobStatus: &wire.BlobStatus{Id: id[:]}}})
		if err == nil {
			off := int64(r.GetBlobOffset().GetOffset())
			if off > size || off%wire.BlobTransferBytes != 0 && off != size {
				return nil, 0, fmt.Errorf("resuming the upload: the server claims %d of %d bytes", off, size)
			}
			return c, off, nil
		}
		if !errors.Is(err, errLost) && !slowedDown(ctx, err) {
			return nil, 0, serverError("resuming the upload", err)
		}
		last = err
	}
	return nil, 0, fmt.Errorf("resuming the upload: %w, %d times; try again later", last, retries)
}

// chunkBufs are the buffers uploads read chunks into, kept from one
// upload (or resumption) to the next rather than made anew for each.
var chunkBufs = sync.Pool{New: func() any { b := make([]byte, wire.BlobTransferBytes); return &b }}

// putFrom puts the blob from off to size; on failure it returns how far
// the server acknowledged.
func putFrom(ctx context.Context, c Conn, id [wire.BlobIDBytes]byte, f io.ReaderAt, off, size int64, progress Progress) (int64, error) {
	var bufs [window]*[]byte
	defer func() {
		for _, b := range bufs {
			if b != nil {
				chunkBufs.Put(b)
			}
		}
	}()
	var q []<-chan *wire.Response
	sent, done := off, off
	for i := 0; done < size; {
		for len(q) < window && sent < size {
			if bufs[i%window] == nil {
				bufs[i%window] = chunkBufs.Get().(*[]byte)
			}
			b := (*bufs[i%window])[:min(wire.BlobTransferBytes, size-sent)]
			i++
			if _, err := f.ReadAt(b, sent); err != nil {
				return done, fmt.Errorf("reading the encrypted copy: %w", err)
			}
			ch, err := c.Start(ctx, &wire.Request{Op: &wire.Request_BlobPut{BlobPut: &wire.BlobPut{Id: id[:], Offset: uint64(sent), Data: b}}})
			if err != nil {
				return done, fmt.Errorf("%w: %v", errLost, err)
			}
			q = append(q, ch)
			sent += int64(len(b))
		}
		r, err := await(ctx, q[0])
		if err != nil {
			// The chunks already sent are answered before the caller
			// resumes: they may still spend the server's transfer rate,
			// so the last slow-down among them says how long to wait.
			for _, ch := range q[1:] {
				if _, e := await(ctx, ch); errors.Is(e, wire.ErrRateLimited) {
					err = e
				}
			}
			return done, err
		}
		q = q[1:]
		done = int64(r.GetBlobOffset().GetOffset())
		if progress != nil {
			progress(done, size)
		}
	}
	return done, nil
}

// Download fetches the blob p points to into the file at path (continuing
// what an earlier, interrupted download left there), then checks its
// length and digest. It returns nil only for exactly the blob p describes;
// otherwise it removes the file, unless ctx ended first (then what arrived
// stays, for the next call to go on from). Nothing is decrypted.
func Download(ctx context.Context, dial Dialer, p *pointer.Pointer, path string, progress Progress) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("saving the download: %w", err)
	}
	defer f.Close()
	size := p.Len()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	have := fi.Size()
	if have > size || have%wire.BlobTransferBytes != 0 && have != size {
		have = 0 // not a prefix this client wrote: start again
	}
	if err := f.Truncate(have); err != nil {
		return err
	}
	// The digest is computed as the chunks arrive, in order, while the
	// next ones are in flight, rather than by reading the file again at
	// the end; a resumed download first hashes what it has.
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, have)); err != nil {
		return fmt.Errorf("reading the partial download: %w", err)
	}
	fails := 0
	for have < size {
		c, err := dial(ctx)
		if err != nil {
			return err
		}
		next, err := getFrom(ctx, c, p, f, h, have, size, progress)
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return err // stopped: the partial file stays for the next time
		case (errors.Is(err, errLost) || slowedDown(ctx, err)) && next > have:
			fails = 0
		case errors.Is(err, errLost) || errors.Is(err, wire.ErrRateLimited) || errors.Is(err, wire.ErrUnavailable):
			if fails++; fails > retries {
				return fmt.Errorf("downloading: %w, %d times without progress; try again later", err, fails)
			}
		default:
			f.Close()
			os.Remove(path)
			return err
		}
		have = next
	}
	if subtle.ConstantTimeCompare(h.Sum(nil), p.Digest[:]) != 1 {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("downloading %q: %w", p.Name, ErrDigest)
	}
	return f.Sync()
}

// getFrom reads the blob from off to size into f, and into h, several
// requests in flight, refusing any answer that does not fit what p
// announced.
func getFrom(ctx context.Context, c Conn, p *pointer.Pointer, f io.WriterAt, h hash.Hash, off, size int64, progress Progress) (int64, error) {
	// The digest, the costliest step, runs beside the disk writes and the
	// next chunks' arrival, on chunks nothing else touches once received
	// (at most a window of them waiting); every chunk written is hashed
	// before getFrom returns.
	// A connection that reads chunks in place (client/conn) gets each
	// chunk's buffer back once it is written and hashed.
	recycle := func([]byte) {}
	if r, ok := c.(interface{ RecycleChunk([]byte) }); ok {
		recycle = r.RecycleChunk
	}
	hashing, hashed := make(chan []byte, window), make(chan struct{})
	go func() {
		defer close(hashed)
		for b := range hashing {
			h.Write(b)
			recycle(b)
		}
	}()
	defer func() { close(hashing); <-hashed }()
	var q []<-chan *wire.Response
	asked, done := off, off
	for done < size {
		for len(q) < window && asked < size {
			n := min(wire.BlobTransferBytes, size-asked)
			ch, err := c.Start(ctx, &wire.Request{Op: &wire.Request_BlobGet{BlobGet: &wire.BlobGet{Id: p.BlobID[:], Offset: uint64(asked), Length: uint32(n)}}})
			if err != nil {
				return done, fmt.Errorf("%w: %v", errLost, err)
			}
			q = append(q, ch)
			asked += n
		}
		r, err := await(ctx, q[0])
		if err != nil {
			if errors.Is(err, errLost) {
				return done, err
			}
			return done, serverError(fmt.Sprintf("downloading %q", p.Name), err)
		}
		q = q[1:]
		d := r.GetBlobData()
		want := min(wire.BlobTransferBytes, size-done)
		switch {
		case int64(d.GetSize()) > size || int64(len(d.GetData())) > want:
			return done, fmt.Errorf("downloading %q: %w", p.Name, ErrOverflow)
		case int64(d.GetSize()) < size || int64(len(d.GetData())) < want:
			return done, fmt.Errorf("downloading %q: %w: the server has %d of %d bytes", p.Name, ErrTruncated, d.GetSize(), size)
		}
		if _, err := f.WriteAt(d.GetData(), done); err != nil {
			return done, fmt.Errorf("saving the download: %w", err)
		}
		hashing <- d.GetData()
		done += want
		if progress != nil {
			progress(done, size)
		}
	}
	return done, nil
}
