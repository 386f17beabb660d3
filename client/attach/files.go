package attach

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/skymsg/sky/client/attach/pointer"
	"github.com/skymsg/sky/client/conn"
	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/client/core"
	"github.com/skymsg/sky/client/store"
)

// Files is the attachments concern of a client: it uploads the files of
// outgoing messages and downloads and saves those of any message.
//
// A device keeps each attachment's blob (ciphertext, as on the server) in
// the store's directory under "attachments", named by a hash of the file
// key. The key lives only inside its message, which the store seals under
// that message's own key: when the message's timer runs out or the panic
// passphrase wipes the store, that key is destroyed, and with it every way
// to decrypt the blob, or even to tell which message it belonged to.
type Files struct {
	c        *core.Core
	fetching fetching
}

// New returns the attachments concern of c.
func New(c *core.Core) *Files { return &Files{c: c} }

// FileProgress is told how far the transfer of the file name is.
type FileProgress func(name string, done, total int64)

func (f *Files) dir() string { return filepath.Join(f.c.Dir(), "attachments") }

// blobPath is where this device keeps the blob of p: named by a hash of
// its key, so the name says nothing without the message.
func (f *Files) blobPath(p *pointer.Pointer) string { return filepath.Join(f.dir(), BlobName(p)) }

// BlobName is the name of p's blob file in the store's "attachments"
// directory (encrypted backups carry the files under it).
func BlobName(p *pointer.Pointer) string {
	h := sha256.Sum256(append([]byte("sky/v1 attachment file\x00"), p.Key[:]...))
	return hex.EncodeToString(h[:16]) + ".blob"
}

// Upload prepares the files at paths (metadata removed where Sky can, see
// Prepared.AsIs), uploads each once, and returns their encoded pointers
// for a message (or many: a group or broadcast sends the same pointers to
// everyone). It needs the client running and connected.
func (f *Files) Upload(ctx context.Context, paths []string, progress FileProgress) ([][]byte, []*Prepared, error) {
	if len(paths) > content.MaxAttachments {
		return nil, nil, fmt.Errorf("%d files: a message carries at most %d", len(paths), content.MaxAttachments)
	}
	cn, err := f.c.Conn(ctx)
	if err != nil {
		return nil, nil, err
	}
	maxLen := int64(cn.Welcome().GetLimits().GetMaxBlobBytes())
	if maxLen == 0 {
		return nil, nil, ErrNoAttachments
	}
	var (
		ptrs  [][]byte
		preps []*Prepared
	)
	dial := func(ctx context.Context) (Conn, error) { return f.c.Conn(ctx) }
	for _, path := range paths {
		p, err := Prepare(path, f.dir(), 0)
		if err != nil {
			return nil, nil, err
		}
		if p.Pointer.Len() > maxLen {
			os.Remove(p.BlobPath)
			return nil, nil, fmt.Errorf("%s is %d bytes: %w", p.Pointer.Name, p.Pointer.Size, ErrTooLarge)
		}
		var prog Progress
		if progress != nil {
			name := p.Pointer.Name
			prog = func(done, total int64) { progress(name, done, total) }
		}
		id, err := Upload(ctx, dial, p.BlobPath, prog)
		if err != nil {
			os.Remove(p.BlobPath)
			return nil, nil, fmt.Errorf("%s: %w", p.Pointer.Name, err)
		}
		p.Pointer.BlobID = id
		b, err := pointer.Encode(&p.Pointer)
		if err != nil {
			return nil, nil, err
		}
		// The upload is the sender's copy.
		if err := os.Rename(p.BlobPath, f.blobPath(&p.Pointer)); err != nil {
			return nil, nil, err
		}
		p.BlobPath = f.blobPath(&p.Pointer)
		ptrs, preps = append(ptrs, b), append(preps, p)
	}
	return ptrs, preps, nil
}

// ErrNoAttachment: no attachment has that ID (or its message expired).
var ErrNoAttachment = errors.New("no such attachment on this device (its message may have expired)")

// Pointer returns the pointer of attachment id ("LOCALID.N").
func (f *Files) Pointer(id string) (*pointer.Pointer, error) {
	localID, i, err := core.ParseAttachmentID(id)
	if err != nil {
		return nil, err
	}
	var p *pointer.Pointer
	err = f.c.View(func(tx *store.Tx) error {
		m, err := tx.Message(localID)
		if errors.Is(err, store.ErrNotFound) {
			return ErrNoAttachment
		} else if err != nil {
			return err
		}
		ct, err := content.Decode(m.Body)
		if err != nil {
			return err
		}
		if i >= len(ct.Attachments) {
			return ErrNoAttachment
		}
		p, err = pointer.Decode(ct.Attachments[i])
		return err
	})
	return p, err
}

// Fetch downloads attachment id to this device, if it is not here yet,
// and checks it; it returns the pointer. The download goes over an
// anonymous connection, so it names no account to the server.
func (f *Files) Fetch(ctx context.Context, id string, progress FileProgress) (*pointer.Pointer, error) {
	p, err := f.Pointer(id)
	if err != nil {
		return nil, err
	}
	local := f.blobPath(p)
	defer f.fetching.lock(local)()
	if _, err := os.Stat(local); err == nil {
		return p, nil
	}
	if err := os.MkdirAll(f.dir(), 0o700); err != nil {
		return nil, err
	}
	var anon *conn.Conn
	defer func() {
		if anon != nil {
			anon.Close()
		}
	}()
	dial := func(ctx context.Context) (Conn, error) {
		if anon != nil {
			select {
			case <-anon.Done():
				anon.Close()
			default:
				return anon, nil
			}
		}
		var err error
		anon, err = conn.DialAnonymous(ctx, f.c.Server())
		return anon, err
	}
	var prog Progress
	if progress != nil {
		prog = func(done, total int64) { progress(p.Name, done, total) }
	}
	part := local + ".part"
	if err := Download(ctx, dial, p, part, prog); err != nil {
		return nil, err
	}
	return p, os.Rename(part, local)
}

// Save downloads attachment id if needed and writes the decrypted file to
// out: a file name, a directory (the file goes in it under its sanitised
// name), or "" (the sanitised name in the current directory). It never
// overwrites a file unless force is set, and returns the path written.
func (f *Files) Save(ctx context.Context, id, out string, force bool, progress FileProgress) (string, error) {
	p, err := f.Fetch(ctx, id, progress)
	if err != nil {
		return "", err
	}
	if out == "" {
		out = SafeName(p.Name)
	} else if fi, err := os.Stat(out); err == nil && fi.IsDir() {
		out = filepath.Join(out, SafeName(p.Name))
	}
	if err := Save(f.blobPath(p), p, out, force); err != nil {
		if errors.Is(err, ErrDigest) || errors.Is(err, ErrTampered) {
			os.Remove(f.blobPath(p)) // fetch it again next time
		}
		return "", err
	}
	return out, nil
}

// Sweep removes the blobs this device keeps for attachments whose messages
// are gone (expired, deleted, or wiped): their keys went with the
// messages, so the files could never be opened again; this removes them
// too. It returns how many it removed. The client runs it when it opens
// and after each expiry run it is asked for (Client.Expire).
func (f *Files) Sweep() (int, error) {
	entries, err := os.ReadDir(f.dir())
	if errors.Is(err, os.ErrNotExist) || err == nil && len(entries) == 0 {
		return 0, nil
	} else if err != nil {
		return 0, err
	}
	live := map[string]bool{}
	err = f.c.View(func(tx *store.Tx) error {
		convs, err := tx.Conversations()
		if err != nil {
			return err
		}
		for _, cv := range convs {
			ms, err := tx.Messages(cv.ID, 0, 0)
			if err != nil {
				return err
			}
			for _, m := range ms {
				ct, err := content.Decode(m.Body)
				if err != nil {
					continue
				}
				for _, a := range ct.Attachments {
					if p, err := pointer.Decode(a); err == nil {
						live[filepath.Base(f.blobPath(p))] = true
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range entries {
		name := e.Name()
		if live[name] || live[strings.TrimSuffix(name, ".part")] {
			continue
		}
		if os.Remove(filepath.Join(f.dir(), name)) == nil {
			n++
		}
	}
	return n, nil
}
