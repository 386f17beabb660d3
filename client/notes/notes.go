// Package notes is the notes vault: a private notebook of titled notes kept
// in the account's encrypted local store, never sent anywhere. A note can
// disappear on its own after a timer, like a disappearing message.
//
// Each note is one sealed record of the store (a setting whose name the
// store hashes), and an index record lists the notes' IDs, so the store's
// file shows neither titles, texts nor how long each note is beyond its
// sealed size.
package notes

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/skymsg/sky/client/store"
)

// Limits of the vault.
const (
	MaxTitleBytes = 200
	MaxTextBytes  = 64 << 10
	MaxNotes      = 1000
	MinTimer      = 5 * time.Second
	MaxTimer      = 4 * 7 * 24 * time.Hour
)

// Errors.
var (
	ErrNotFound = errors.New("no such note; list them to see their IDs")
	ErrTooMany  = fmt.Errorf("the notes vault is full (%d notes); delete some first", MaxNotes)
)

// Note is one note.
type Note struct {
	ID        string // 32 hex digits
	Title     string
	Text      string
	Created   time.Time
	Updated   time.Time
	Timer     time.Duration // 0: it stays until deleted
	ExpiresAt time.Time     // Updated + Timer; zero without a timer
}

// Format hides the title and text under every fmt verb, so a note never
// reaches a log by accident.
func (n Note) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "notes.Note{%s, %d title bytes, %d text bytes}", n.ID, len(n.Title), len(n.Text))
}

// DB is the store the notes live in (*store.Store).
type DB interface {
	View(func(*store.Tx) error) error
	Update(func(*store.Tx) error) error
}

// Vault is the notes of one account.
type Vault struct {
	db  DB
	now func() time.Time
}

// New returns the vault kept in db; now tells the time (for timers).
func New(db DB, now func() time.Time) *Vault { return &Vault{db: db, now: now} }

const (
	indexName = "notes/index"
	notePref  = "notes/note/"
	idBytes   = 16
)

func check(title, text string, timer time.Duration) error {
	switch {
	case strings.TrimSpace(title) == "":
		return errors.New("a note needs a title")
	case len(title) > MaxTitleBytes:
		return fmt.Errorf("the title is longer than %d bytes; shorten it", MaxTitleBytes)
	case len(text) > MaxTextBytes:
		return fmt.Errorf("the note is longer than %d KiB; split it", MaxTextBytes>>10)
	case !utf8.ValidString(title) || !utf8.ValidString(text):
		return errors.New("a note must be UTF-8 text")
	case timer != 0 && (timer < MinTimer || timer > MaxTimer):
		return errors.New("a note's timer is off, or between 5 seconds and 4 weeks")
	}
	return nil
}

// Add stores a new note and returns it.
func (v *Vault) Add(title, text string, timer time.Duration) (Note, error) {
	if err := check(title, text, timer); err != nil {
		return Note{}, err
	}
	var id [idBytes]byte
	rand.Read(id[:])
	now := v.now()
	n := Note{ID: hex.EncodeToString(id[:]), Title: title, Text: text, Created: now, Updated: now, Timer: timer}
	n.setExpiry()
	err := v.db.Update(func(tx *store.Tx) error {
		ids, err := loadIndex(tx)
		if err != nil {
			return err
		}
		if len(ids) >= MaxNotes {
			return ErrTooMany
		}
		if err := tx.SetSetting(notePref+n.ID, encodeNote(&n)); err != nil {
			return err
		}
		return saveIndex(tx, append(ids, id))
	})
	return n, err
}

func (n *Note) setExpiry() {
	n.ExpiresAt = time.Time{}
	if n.Timer > 0 {
		n.ExpiresAt = n.Updated.Add(n.Timer)
	}
}

// Edit replaces a note's title, text and timer (its countdown starts
// again).
func (v *Vault) Edit(id, title, text string, timer time.Duration) (Note, error) {
	if err := check(title, text, timer); err != nil {
		return Note{}, err
	}
	var n Note
	err := v.db.Update(func(tx *store.Tx) error {
		var err error
		if n, err = v.load(tx, id); err != nil {
			return err
		}
		n.Title, n.Text, n.Timer, n.Updated = title, text, timer, v.now()
		n.setExpiry()
		return tx.SetSetting(notePref+n.ID, encodeNote(&n))
	})
	return n, err
}

// Get returns one note.
func (v *Vault) Get(id string) (Note, error) {
	var n Note
	err := v.db.View(func(tx *store.Tx) error {
		var err error
		n, err = v.load(tx, id)
		return err
	})
	return n, err
}

// load reads a note; an expired one is not found.
func (v *Vault) load(tx *store.Tx, id string) (Note, error) {
	raw, err := hex.DecodeString(id)
	if err != nil || len(raw) != idBytes {
		return Note{}, ErrNotFound
	}
	b, err := tx.Setting(notePref + id)
	if errors.Is(err, store.ErrNotFound) {
		return Note{}, ErrNotFound
	}
	if err != nil {
		return Note{}, err
	}
	n, err := decodeNote(b)
	if err != nil {
		return Note{}, fmt.Errorf("%w: note %s does not decode", store.ErrCorrupt, id)
	}
	n.ID = id
	if !n.ExpiresAt.IsZero() && !n.ExpiresAt.After(v.now()) {
		return Note{}, ErrNotFound
	}
	return n, nil
}

// List returns the notes, the most recently changed first. Expired notes
// are left out (Expire deletes them).
func (v *Vault) List() ([]Note, error) {
	var out []Note
	err := v.db.View(func(tx *store.Tx) error {
		ids, err := loadIndex(tx)
		if err != nil {
			return err
		}
		for _, id := range ids {
			n, err := v.load(tx, hex.EncodeToString(id[:]))
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			out = append(out, n)
		}
		return nil
	})
	slices.SortStableFunc(out, func(a, b Note) int { return b.Updated.Compare(a.Updated) })
	return out, err
}

// Delete deletes a note.
func (v *Vault) Delete(id string) error {
	return v.db.Update(func(tx *store.Tx) error {
		if _, err := v.load(tx, id); err != nil {
			return err
		}
		return v.remove(tx, id)
	})
}

func (v *Vault) remove(tx *store.Tx, id string) error {
	ids, err := loadIndex(tx)
	if err != nil {
		return err
	}
	ids = slices.DeleteFunc(ids, func(x [idBytes]byte) bool { return hex.EncodeToString(x[:]) == id })
	if err := tx.DeleteSetting(notePref + id); err != nil {
		return err
	}
	return saveIndex(tx, ids)
}

// Expire deletes the notes whose timer ran out and returns how many.
func (v *Vault) Expire() (int, error) {
	n := 0
	err := v.db.Update(func(tx *store.Tx) error {
		ids, err := loadIndex(tx)
		if err != nil {
			return err
		}
		for _, raw := range ids {
			id := hex.EncodeToString(raw[:])
			if _, err := v.load(tx, id); errors.Is(err, ErrNotFound) {
				if err := v.remove(tx, id); err != nil {
					return err
				}
				n++
			} else if err != nil {
				return err
			}
		}
		return nil
	})
	return n, err
}

func loadIndex(tx *store.Tx) ([][idBytes]byte, error) {
	b, err := tx.Setting(indexName)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	ids, err := decodeIndex(b)
	if err != nil {
		return nil, fmt.Errorf("%w: the notes index does not decode", store.ErrCorrupt)
	}
	return ids, nil
}

func saveIndex(tx *store.Tx, ids [][idBytes]byte) error {
	if len(ids) == 0 {
		return tx.DeleteSetting(indexName)
	}
	b := make([]byte, 0, len(ids)*idBytes)
	for _, id := range ids {
		b = append(b, id[:]...)
	}
	return tx.SetSetting(indexName, b)
}

func decodeIndex(b []byte) ([][idBytes]byte, error) {
	if len(b)%idBytes != 0 || len(b)/idBytes > MaxNotes {
		return nil, errors.New("bad index length")
	}
	ids := make([][idBytes]byte, len(b)/idBytes)
	for i := range ids {
		copy(ids[i][:], b[i*idBytes:])
	}
	return ids, nil
}
