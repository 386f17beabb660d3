package backup

import (
	"bufio"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/skymsg/sky/client/store"
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
	acct.Credential.Zero()
	var salt [saltLen]byte
	if _, err := rand.Read(salt[:]); err != nil {
		return Summary{}, err
	}
	sw, err := newSealWriter(w, k, salt)
	if err != nil {
		return Summary{}, err
	}
	bw := bufio.NewWriterSize(sw, chunkSize)
	d := &dumper{opts: opts, at: at, rw: &recordWriter{w: bw}, files: map[string]bool{},
		sum: Summary{Meta: Meta{Created: at, AccountID: acct.ID, Server: acct.Server, Disappearing: opts.Disappearing}}}
	if err := d.rw.write(recMeta, encodeMeta(d.sum.Meta)); err != nil {
		return Summary{}, fmt.Errorf("writing the backup: %w", err)
	}
	if err := st.Dump(at, d.row, d.message); err != nil {
		return Summary{}, fmt.Errorf("backing up: %w", err)
	}
	if err := writeFiles(d.rw, filepath.Join(st.Dir(), "attachments"), d.files, &d.sum); err != nil {
		return Summary{}, err
	}
	if err := d.rw.end(); err != nil {
		return Summary{}, fmt.Errorf("writing the backup: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return Summary{}, fmt.Errorf("writing the backup: %w", err)
	}
	if err := sw.Close(); err != nil {
		return Summary{}, err
	}
	return d.sum, nil
}

// dumper turns what the store's Dump hands over into records, applying
// Options.
type dumper struct {
	opts  Options
	at    time.Time // the backup's time
	rw    *recordWriter
	files map[string]bool // blob files of the messages written
	sum   Summary
}

func (d *dumper) row(table string, key, value []byte) error {
	if table == "kv" && d.opts.Skip != nil {
		if name, ok := strings.CutPrefix(string(key), "setting/"); ok && d.opts.Skip(name) {
			return nil
		}
	}
	d.sum.Records++
	return d.rw.write(recRow, encodeRow(Row{Table: table, Key: key, Value: value}))
}

// message writes a message, or leaves out one with a timer unless
// Options.Disappearing; an included one that has no deadline yet gets the
// backup's time plus its timer.
func (d *dumper) message(m *store.Message) error {
	if m.Timer > 0 || !m.ExpiresAt.IsZero() {
		if !d.opts.Disappearing {
			d.sum.LeftOut++
			return nil
		}
		if m.ExpiresAt.IsZero() {
			m.ExpiresAt = d.at.Add(m.Timer)
		}
	}
	d.sum.Messages++
	if d.opts.Files {
		for _, name := range blobNames(m.Body) {
			d.files[name] = true
		}
	}
	return d.rw.write(recMessage, encodeMessage(m))
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
