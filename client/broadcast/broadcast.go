package broadcast

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/client/core"
	"github.com/skymsg/sky/client/store"
)

// Broadcast lists. A broadcast list is the user's own named list of
// recipients, kept only in the user's store: a text sent to it goes to each
// recipient as an ordinary 1:1 message (each in its own conversation,
// sealed and padded like any other), so recipients neither know of the list
// nor of each other, and the server sees only separate messages.

// Lists is the broadcast-lists concern of a client, built on the client
// core; its lists live under one setting name of its own.
type Lists struct{ c *core.Core }

// New returns the broadcast-lists concern of the client core c.
func New(c *core.Core) *Lists { return &Lists{c: c} }

// setBroadcast holds the lists: field 1 repeated, each {1: name, 2: member
// repeated, 3: list ID}.
const setBroadcast = "broadcast-lists"

// Bounds of broadcast lists.
const (
	maxBroadcastLists   = 100
	maxBroadcastMembers = 1000
)

// Errors of broadcast lists.
var (
	ErrNoSuchList    = errors.New("no such broadcast list; check its name (sky broadcast list)")
	ErrBadListName   = errors.New("a broadcast list needs a name of at most 200 bytes of text")
	ErrTooManyLists  = fmt.Errorf("at most %d broadcast lists of at most %d recipients each", maxBroadcastLists, maxBroadcastMembers)
	errBadListRecord = fmt.Errorf("%w: the broadcast lists do not decode", store.ErrCorrupt)
)

// BroadcastList is a named list of recipients.
type BroadcastList struct {
	Name    string
	Members []string // sorted

	key content.GroupID // the list ID (v2.go); zero until first needed
}

func loadBroadcastLists(tx *store.Tx) ([]BroadcastList, error) {
	b, err := core.Setting(tx, setBroadcast)
	if err != nil {
		return nil, err
	}
	return decodeBroadcastLists(b)
}

func decodeBroadcastLists(b []byte) ([]BroadcastList, error) {
	f, err := core.DecodeFields(b)
	if err != nil {
		return nil, errBadListRecord
	}
	var out []BroadcastList
	for _, b := range f.Bytes[1] {
		lf, err := core.DecodeFields(b)
		if err != nil {
			return nil, errBadListRecord
		}
		l := BroadcastList{Name: string(lf.One(1))}
		for _, m := range lf.Bytes[2] {
			l.Members = append(l.Members, string(m))
		}
		if k := lf.One(3); len(k) == content.GroupIDSize {
			l.key = content.GroupID(k)
		}
		out = append(out, l)
	}
	return out, nil
}

func saveBroadcastLists(tx *store.Tx, lists []BroadcastList) error {
	if len(lists) == 0 {
		return tx.DeleteSetting(setBroadcast)
	}
	return tx.SetSetting(setBroadcast, encodeBroadcastLists(lists))
}

func encodeBroadcastLists(lists []BroadcastList) []byte {
	var b []byte
	for _, l := range lists {
		rec := core.PutBytes(nil, 1, []byte(l.Name))
		for _, m := range l.Members {
			rec = core.PutBytes(rec, 2, []byte(m))
		}
		if l.key != (content.GroupID{}) {
			rec = core.PutBytes(rec, 3, l.key[:])
		}
		b = core.PutBytes(b, 1, rec)
	}
	return b
}

// SaveBroadcastList creates or replaces the broadcast list name.
func (l *Lists) SaveBroadcastList(name string, members []string) error {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > core.MaxNameBytes || !utf8.ValidString(name) {
		return ErrBadListName
	}
	if err := l.c.CheckPeers(members); err != nil {
		return err
	}
	members = slices.Compact(slices.Sorted(slices.Values(members)))
	if len(members) == 0 || len(members) > maxBroadcastMembers {
		return ErrTooManyLists
	}
	return l.c.Update(func(tx *store.Tx) error {
		lists, err := loadBroadcastLists(tx)
		if err != nil {
			return err
		}
		next := BroadcastList{Name: name, Members: members, key: newListID()}
		for _, old := range lists {
			if old.Name != name || old.key == (content.GroupID{}) {
				continue
			}
			if subset(old.Members, members) {
				next.key = old.key // nobody removed: the recipients keep the key
			} else if err := forgetList(tx, l.c.Self(), old.key); err != nil {
				return err
			}
		}
		lists = slices.DeleteFunc(lists, func(l BroadcastList) bool { return l.Name == name })
		if len(lists) >= maxBroadcastLists {
			return ErrTooManyLists
		}
		lists = append(lists, next)
		slices.SortFunc(lists, func(a, b BroadcastList) int { return strings.Compare(a.Name, b.Name) })
		return saveBroadcastLists(tx, lists)
	})
}

// BroadcastLists returns the broadcast lists, by name.
func (l *Lists) BroadcastLists() ([]BroadcastList, error) {
	var out []BroadcastList
	err := l.c.View(func(tx *store.Tx) (err error) { out, err = loadBroadcastLists(tx); return })
	return out, err
}

// DeleteBroadcastList deletes a broadcast list (the messages sent to it
// stay in their conversations).
func (l *Lists) DeleteBroadcastList(name string) error {
	return l.c.Update(func(tx *store.Tx) error {
		lists, err := loadBroadcastLists(tx)
		if err != nil {
			return err
		}
		n := len(lists)
		for _, old := range lists {
			if old.Name == name && old.key != (content.GroupID{}) {
				if err := forgetList(tx, l.c.Self(), old.key); err != nil {
					return err
				}
			}
		}
		lists = slices.DeleteFunc(lists, func(l BroadcastList) bool { return l.Name == name })
		if len(lists) == n {
			return ErrNoSuchList
		}
		return saveBroadcastLists(tx, lists)
	})
}

// Broadcast sends text to every recipient of the broadcast list name and
// returns the messages queued, one in each recipient's conversation: to
// those that keep the user as a contact as one sender-key message for all
// (one sealed sender v2 upload; v2.go), to the others as a separate 1:1
// message each (Send). A recipient that cannot be sent to now (a key
// change waiting for the user) is left out; the error then names each.
func (l *Lists) Broadcast(name, text string) ([]core.Message, error) {
	return l.BroadcastWith(name, text, nil)
}

// BroadcastWith is Broadcast for a text that carries attachments (their
// encoded pointers): uploaded once, the same pointers go to everyone.
func (l *Lists) BroadcastWith(name, text string, atts [][]byte) ([]core.Message, error) {
	var list *BroadcastList
	lists, err := l.BroadcastLists()
	if err != nil {
		return nil, err
	}
	for i := range lists {
		if lists[i].Name == name {
			list = &lists[i]
		}
	}
	if list == nil {
		return nil, ErrNoSuchList
	}
	if len(text) > content.MaxTextBytes {
		return nil, core.ErrTooLong
	}
	var out []core.Message
	rest := list.Members
	err = l.c.Update(func(tx *store.Tx) error {
		if err := l.ensureKey(tx, list); err != nil {
			return err
		}
		var err error
		out, rest, err = l.sendV2(tx, list, text, atts)
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(out) > 0 {
		l.c.KickOutbox()
		l.c.KickExpiry()
		l.c.Notify()
	}
	var errs []error
	for _, m := range rest {
		msg, err := l.c.SendWith(m, text, atts)
		if errors.Is(err, core.ErrTooLong) {
			return out, err
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("to %s: %w", m, err))
			continue
		}
		out = append(out, msg)
	}
	return out, errors.Join(errs...)
}

// subset reports whether every element of a (sorted) is in b (sorted).
func subset(a, b []string) bool {
	for _, x := range a {
		if _, ok := slices.BinarySearch(b, x); !ok {
			return false
		}
	}
	return true
}

// ensureKey gives a list made before list IDs its ID.
func (l *Lists) ensureKey(tx *store.Tx, list *BroadcastList) error {
	if list.key != (content.GroupID{}) {
		return nil
	}
	lists, err := loadBroadcastLists(tx)
	if err != nil {
		return err
	}
	list.key = newListID()
	for i := range lists {
		if lists[i].Name == list.Name {
			lists[i].key = list.key
		}
	}
	return saveBroadcastLists(tx, lists)
}
