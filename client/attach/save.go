package attach

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/skymsg/sky/client/attach/blobcrypt"
	"github.com/skymsg/sky/client/attach/pointer"
)

// Decrypt checks the downloaded blob at blobPath against p's digest, then
// writes the file it holds to w. A blob that fails the check writes
// nothing.
func Decrypt(w io.Writer, blobPath string, p *pointer.Pointer) error {
	f, err := os.Open(blobPath)
	if errors.Is(err, os.ErrNotExist) {
		return ErrNotDownloaded
	} else if err != nil {
		return fmt.Errorf("opening the attachment: %w", err)
	}
	defer f.Close()
	r, err := blobcrypt.Open(f, p.Key, p.Digest, p.Size, p.Padded)
	if err != nil {
		return fmt.Errorf("opening %q: %w", p.Name, err)
	}
	if _, err := io.Copy(w, r); err != nil {
		return fmt.Errorf("decrypting %q: %w", p.Name, err)
	}
	return nil
}

// ErrExists: Save would overwrite a file.
var ErrExists = errors.New("a file of that name exists; choose another name, or overwrite it deliberately")

// Save decrypts the blob at blobPath into the file out, which it never
// overwrites unless force is set. It writes to a temporary file beside out
// and renames it into place only once the whole file decrypted, so a
// tampered blob leaves nothing behind.
func Save(blobPath string, p *pointer.Pointer, out string, force bool) error {
	if _, err := os.Lstat(out); err == nil && !force {
		return fmt.Errorf("%s: %w", out, ErrExists)
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), ".sky-save-*")
	if err != nil {
		return fmt.Errorf("saving the attachment: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := Decrypt(tmp, blobPath, p); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if !force {
		// Link fails if out appeared meanwhile: never overwrite.
		if err := os.Link(tmp.Name(), out); err != nil {
			if errors.Is(err, os.ErrExist) {
				return fmt.Errorf("%s: %w", out, ErrExists)
			}
			return fmt.Errorf("saving the attachment: %w", err)
		}
		os.Remove(tmp.Name())
	} else if err := os.Rename(tmp.Name(), out); err != nil {
		return fmt.Errorf("saving the attachment: %w", err)
	}
	ok = true
	return nil
}

// SafeName turns a file name a peer chose into one safe to create in a
// directory: no directories, no control or format characters, no leading
// dot (no hidden files, no ".."), at most 255 bytes, never empty.
func SafeName(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	var b strings.Builder
	for _, r := range name {
		switch {
		case r == utf8.RuneError, unicode.IsControl(r), unicode.Is(unicode.Cf, r), r == ':' || r == '*' || r == '?' || r == '"' || r == '<' || r == '>' || r == '|':
			b.WriteByte('_')
		default:
			b.WriteRune(r)
		}
	}
	name = strings.TrimSpace(b.String())
	for strings.HasPrefix(name, ".") {
		name = "_" + name[1:]
	}
	for len(name) > pointer.MaxNameBytes {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	if name == "" || name == "_" {
		return "attachment"
	}
	return name
}
