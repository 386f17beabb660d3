package backup

import (
	"bufio"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/skymsg/sky/client/attach"
	"github.com/skymsg/sky/client/attach/pointer"
	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/client/store/keyfile"
)

// Options are the choices of one backup.
type Options struct {
	// Now is the maker's clock: messages whose deadline is at or before it
	// are left out. Zero means time.Now().
	Now time.Time
	// Disappearing includes messages with a timer. Each keeps its deadline;
	// one whose countdown has not started yet (an incoming message not read)
	// gets the deadline Now plus its timer, so every disappearing message in
	// a backup has a deadline. Off by default: see the package comment.
	Disappearing bool
	// Skip, if set, names SDK settings (without the store's "setting/"
	// prefix) that stay out of the backup: the concerns' device-bound state.
	Skip func(setting string) bool
	// Files includes the blobs of the backed-up messages' attachments that
	// this device holds (ciphertext; their keys are in the messages), so
	// that they survive the server's expiry of its copy.
	Files bool
}

// Summary says what a backup holds (or a restore brought back).
type Summary struct {
	Meta
	Records  int // store records (settings, contacts, identities, …)
	Messages int // messages of the history
	Files    int // attachments' files
	// FileBytes is the size of the attachments' files.
	FileBytes int64
	// Left out: messages with a timer not included (Options.Disappearing
	// off), or, on restore, messages whose deadline had passed.
	LeftOut int
}

func now(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now()
	}
	return t
}

// Write writes an encrypted backup of st to w under k. It reads st in one
// consistent snapshot and streams it: memory stays bounded whatever the
// history's size. w receives the whole file; what to do with a failed one
// (remove it) is the caller's business (Create does it).
func Write(st *store.Store, w io.Writer, k RecoveryKey, opts Options) (Summary, error) {
	at := now(opts.Now)
	var acct store.Account
	if err := st.View(func(t *store.Tx) error {
		var err error
		acct, err = t.Account()
		return err
	}); err != nil {
		return Summary{}, fmt.Errorf("backing up: reading the account: %w", err)
	}
	var salt [saltLen]byte
	if _, err := rand.Read(salt[:]); err != nil {
		return Summary{}, err
	}
	sw, err := newSealWriter(w, k, salt)
	if err != nil {
		return Summary{}, err
	}
	bw := bufio.NewWriterSize(sw, chunkSize)
	rw := &recordWriter{w: bw}
	sum := Summary{Meta: Meta{Created: at, AccountID: acct.ID, Server: acct.Server, Disappearing: opts.Disappearing}}
	acct.Credential.Zero()
	if err := rw.write(recMeta, encodeMeta(sum.Meta)); err != nil {
		return Summary{}, fmt.Errorf("writing the backup: %w", err)
	}
	files := map[string]bool{}
	row := func(table string, key, value []byte) error {
		if table == "kv" && opts.Skip != nil {
			if name, ok := strings.CutPrefix(string(key), "setting/"); ok && opts.Skip(name) {
				return nil
			}
		}
		sum.Records++
		return rw.write(recRow, encodeRow(Row{Table: table, Key: key, Value: value}))
	}
	msg := func(m *store.Message) error {
		if m.Timer > 0 || !m.ExpiresAt.IsZero() {
			if !opts.Disappearing {
				sum.LeftOut++
				return nil
			}
			if m.ExpiresAt.IsZero() {
				m.ExpiresAt = at.Add(m.Timer)
			}
		}
		sum.Messages++
		if opts.Files {
			for _, name := range blobNames(m.Body) {
				files[name] = true
			}
		}
		return rw.write(recMessage, encodeMessage(m))
	}
	if err := st.Dump(at, row, msg); err != nil {
		return Summary{}, fmt.Errorf("backing up: %w", err)
	}
	if err := writeFiles(rw, filepath.Join(st.Dir(), "attachments"), files, &sum); err != nil {
		return Summary{}, err
	}
	if err := rw.end(); err != nil {
		return Summary{}, fmt.Errorf("writing the backup: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return Summary{}, fmt.Errorf("writing the backup: %w", err)
	}
	if err := sw.Close(); err != nil {
		return Summary{}, err
	}
	return sum, nil
}

// Create writes a backup of st to the file path, atomically: into a
// temporary file beside it, synced, then renamed. An existing file is never
// replaced. On failure nothing is left at path.
func Create(st *store.Store, path string, k RecoveryKey, opts Options) (Summary, error) {
	if _, err := os.Lstat(path); err == nil {
		return Summary{}, fmt.Errorf("%s already exists; choose another file name (a backup never replaces a file)", path)
	}
	return writeAtomic(path, func(w io.Writer) (Summary, error) { return Write(st, w, k, opts) })
}

// writeAtomic writes path through a temporary file in its directory.
func writeAtomic(path string, fn func(io.Writer) (Summary, error)) (Summary, error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".sky-backup-*.tmp")
	if err != nil {
		return Summary{}, fmt.Errorf("creating the backup file in %s: %w", dir, err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			if store.EraseBackupFile(tmp) != nil {
				os.Remove(tmp) // nothing of a backup in it yet
			}
		}
	}()
	sum, err := fn(f)
	if err != nil {
		return Summary{}, err
	}
	if err := f.Sync(); err != nil {
		return Summary{}, fmt.Errorf("writing the backup file: %w", err)
	}
	if err := f.Close(); err != nil {
		return Summary{}, fmt.Errorf("writing the backup file: %w", err)
	}
	if err := os.Link(tmp, path); err != nil {
		// Link refuses an existing path (no replacing); a file system
		// without hard links gets a rename after a last check.
		if _, serr := os.Lstat(path); serr == nil {
			return Summary{}, fmt.Errorf("%s already exists; choose another file name (a backup never replaces a file)", path)
		}
		if err := os.Rename(tmp, path); err != nil {
			return Summary{}, fmt.Errorf("writing the backup file: %w", err)
		}
	} else {
		os.Remove(tmp)
	}
	ok = true
	syncDir(dir)
	return sum, nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

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

// Handler receives the contents of a backup as Read decodes them.
type Handler struct {
	Meta    func(Meta) error
	Row     func(Row) error
	Message func(*store.Message) error
	File    func(FilePiece) error
}

// Read decodes a whole backup from r under k, calling h for each record in
// order. It returns nil only once the last chunk authenticated and the end
// record matched: everything handed to h before that may belong to a
// damaged or truncated file, so a caller applies it somewhere it can throw
// away (Restore builds the new store aside and moves it into place last).
func Read(r io.Reader, k RecoveryKey, h Handler) error {
	or, err := newOpenReader(r, k)
	if err != nil {
		return err
	}
	return decodeRecords(or, h)
}

// decodeRecords decodes the plaintext of a backup, strictly (format.go).
func decodeRecords(r io.Reader, h Handler) error {
	rr := &recordReader{r: bufio.NewReaderSize(r, chunkSize)}
	for i := 0; ; i++ {
		typ, b, err := rr.next()
		if err != nil {
			return err
		}
		if (i == 0) != (typ == recMeta) {
			return fmt.Errorf("%w (its records are out of order)", ErrDamaged)
		}
		switch typ {
		case recEnd:
			return nil
		case recMeta:
			m, err := decodeMeta(b)
			if err != nil {
				return fmt.Errorf("%w (its description does not decode)", ErrDamaged)
			}
			if h.Meta != nil {
				err = h.Meta(m)
			}
			if err != nil {
				return err
			}
		case recRow:
			row, err := decodeRow(b)
			if err != nil {
				return fmt.Errorf("%w (a record does not decode)", ErrDamaged)
			}
			if h.Row != nil {
				err = h.Row(row)
			}
			if err != nil {
				return err
			}
		case recFile:
			fp, err := decodeFile(b)
			if err != nil {
				return fmt.Errorf("%w (an attachment's piece does not decode)", ErrDamaged)
			}
			if h.File != nil {
				err = h.File(fp)
			}
			if err != nil {
				return err
			}
		case recMessage:
			m, err := decodeMessage(b)
			if err != nil {
				return fmt.Errorf("%w (a message does not decode)", ErrDamaged)
			}
			if h.Message != nil {
				err = h.Message(&m)
			}
			if err != nil {
				return err
			}
		}
	}
}

// RestoreOptions are the choices of a restore.
type RestoreOptions struct {
	// Now is the restorer's clock: messages whose deadline is at or before
	// it are not restored. Zero means time.Now().
	Now time.Time
	// KDF is the Argon2id cost of the new store's passphrase (zero: the
	// store's default).
	KDF keyfile.Params
}

// loadBatch is how many records one transaction of a restore writes.
const loadBatch = 512

// Restore makes a new store in dir from the backup in r, protected by
// passphrase. dir must not hold a store. The store is built in a directory
// beside dir and moved into place only after the whole backup authenticated
// and loaded; a wrong key, a damaged or truncated file, or any other
// failure leaves nothing behind (the half-built store is crypto-erased).
// The new store has keys of its own, no sessions and no panic passphrase.
func Restore(dir string, r io.Reader, k RecoveryKey, passphrase []byte, opts RestoreOptions) (Summary, error) {
	if ok, err := store.Exists(dir); err != nil || ok {
		if err == nil {
			err = ErrHomeInUse
		}
		return Summary{}, err
	}
	at := now(opts.Now)
	tmp := dir + ".restoring"
	if err := store.Discard(tmp); err != nil {
		return Summary{}, fmt.Errorf("removing an earlier restore that did not finish (%s): %w", tmp, err)
	}
	os.Remove(tmp)
	st, err := store.Create(tmp, passphrase, store.Options{KDF: opts.KDF})
	if err != nil {
		return Summary{}, fmt.Errorf("restoring: creating the new store: %w", err)
	}
	sum, err := load(st, r, k, at)
	if err == nil {
		err = markRestored(st, sum.Created)
	}
	if err == nil {
		err = st.Close()
	}
	if err == nil {
		err = moveInto(tmp, dir)
	}
	if err != nil {
		if st.Wipe() != nil {
			store.Discard(tmp)
		}
		return Summary{}, err
	}
	return sum, nil
}

// load reads the backup into st, in batches of transactions.
func load(st *store.Store, r io.Reader, k RecoveryKey, at time.Time) (Summary, error) {
	var sum Summary
	var pending []func(*store.Tx) error
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		err := st.Update(func(t *store.Tx) error {
			for _, f := range pending {
				if err := f(t); err != nil {
					return err
				}
			}
			return nil
		})
		pending = pending[:0]
		if err != nil {
			return fmt.Errorf("restoring: %w", err)
		}
		return nil
	}
	add := func(f func(*store.Tx) error) error {
		pending = append(pending, f)
		if len(pending) >= loadBatch {
			return flush()
		}
		return nil
	}
	fw := &fileWriter{dir: filepath.Join(st.Dir(), "attachments")}
	defer fw.close()
	err := Read(r, k, Handler{
		Meta: func(m Meta) error { sum.Meta = m; return nil },
		File: func(fp FilePiece) error {
			if fp.Offset == 0 {
				sum.Files++
			}
			sum.FileBytes += int64(len(fp.Data))
			return fw.write(fp)
		},
		Row: func(row Row) error {
			sum.Records++
			row.Key, row.Value = clone(row.Key), clone(row.Value)
			return add(func(t *store.Tx) error {
				err := t.Load(row.Table, row.Key, row.Value)
				clear(row.Value)
				if errors.Is(err, store.ErrInvalid) {
					return fmt.Errorf("%w (%v)", ErrDamaged, err)
				}
				return err
			})
		},
		Message: func(m *store.Message) error {
			if !m.ExpiresAt.IsZero() && !m.ExpiresAt.After(at) {
				sum.LeftOut++ // its deadline passed since the backup was made
				return nil
			}
			sum.Messages++
			mm := *m
			mm.Body, mm.Annex = store.Secret(clone(m.Body)), store.Secret(clone(m.Annex))
			return add(func(t *store.Tx) error {
				err := t.LoadMessage(&mm, at)
				mm.Body.Zero()
				mm.Annex.Zero()
				if errors.Is(err, store.ErrInvalid) {
					return fmt.Errorf("%w (%v)", ErrDamaged, err)
				}
				return err
			})
		},
	})
	if err == nil {
		err = flush()
	}
	if cerr := fw.close(); err == nil {
		err = cerr
	}
	return sum, err
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

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}

// moveInto renames the finished store directory tmp to dir (an empty dir is
// replaced).
func moveInto(tmp, dir string) error {
	if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("restoring: %s is not empty; restore into a fresh home: %w", dir, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("restoring: moving the new store into place: %w", err)
	}
	syncDir(filepath.Dir(dir))
	return nil
}
