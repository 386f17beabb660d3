package backup

// The attachments' files a backup carries: the blobs (ciphertext, as the
// device keeps them) of the messages written, in pieces, and their writing
// into a restored store, strictly in order.

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/skymsg/sky/client/attach"
	"github.com/skymsg/sky/client/attach/pointer"
	"github.com/skymsg/sky/client/content"
)

// blobNames returns the blob file names of the attachments a message's
// content carries.
func blobNames(body []byte) []string {
	ct, err := content.Decode(body)
	if err != nil {
		return nil
	}
	var out []string
	for _, a := range ct.Attachments {
		if p, err := pointer.Decode(a); err == nil {
			out = append(out, attach.BlobName(p))
		}
	}
	return out
}

// writeFiles writes the named blob files of dir in pieces, in name order.
// A file gone since the messages were read (its message expired) is
// skipped.
func writeFiles(rw *recordWriter, dir string, names map[string]bool, sum *Summary) error {
	buf := make([]byte, filePiece)
	for _, name := range slices.Sorted(maps.Keys(names)) {
		f, err := os.Open(filepath.Join(dir, name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("backing up an attachment: %w", err)
		}
		var off uint64
		for {
			n, rerr := io.ReadFull(f, buf)
			if n > 0 {
				if err := rw.write(recFile, encodeFile(FilePiece{Name: name, Offset: off, Data: buf[:n]})); err != nil {
					f.Close()
					return fmt.Errorf("writing the backup: %w", err)
				}
				off += uint64(n)
			}
			if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
				break
			}
			if rerr != nil {
				f.Close()
				return fmt.Errorf("backing up an attachment: %w", rerr)
			}
		}
		f.Close()
		if off > 0 {
			sum.Files++
			sum.FileBytes += int64(off)
		}
	}
	return nil
}

// fileWriter writes the attachments' files of a backup into the new
// store's attachments directory, strictly in order: a file's pieces one
// after the other from offset 0, each file once.
type fileWriter struct {
	dir  string
	f    *os.File
	name string
	off  uint64
	done map[string]bool
}

func (w *fileWriter) write(fp FilePiece) error {
	if fp.Name != w.name {
		if fp.Offset != 0 || w.done[fp.Name] {
			return fmt.Errorf("%w (an attachment's pieces are out of order)", ErrDamaged)
		}
		if err := w.close(); err != nil {
			return err
		}
		if err := os.MkdirAll(w.dir, 0o700); err != nil {
			return fmt.Errorf("restoring an attachment: %w", err)
		}
		f, err := os.OpenFile(filepath.Join(w.dir, fp.Name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return fmt.Errorf("restoring an attachment: %w", err)
		}
		w.f, w.name, w.off = f, fp.Name, 0
		if w.done == nil {
			w.done = map[string]bool{}
		}
		w.done[fp.Name] = true
	}
	if fp.Offset != w.off {
		return fmt.Errorf("%w (an attachment's pieces are out of order)", ErrDamaged)
	}
	if _, err := w.f.Write(fp.Data); err != nil {
		return fmt.Errorf("restoring an attachment: %w", err)
	}
	w.off += uint64(len(fp.Data))
	return nil
}

// close syncs and closes the file being written.
func (w *fileWriter) close() error {
	if w.f == nil {
		return nil
	}
	err := w.f.Sync()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	w.f = nil
	if err != nil {
		return fmt.Errorf("restoring an attachment: %w", err)
	}
	return nil
}
