package client

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/skymsg/sky/client/store"
)

// Broadcast lists. A broadcast list is the user's own named list of
// recipients, kept only in the user's store: a text sent to it goes to each
// recipient as an ordinary 1:1 message (each in its own conversation,
// sealed and padded like any other), so recipients neither know of the list
// nor of each other, and the server sees only separate messages.

// setBroadcast holds the lists: field 1 repeated, each {1: name, 2: member
// repeated}.
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
}

func loadBroadcastLists(tx *store.Tx) ([]BroadcastList, error) {
	b, err := setting(tx, setBroadcast)
	if err != nil {
		return nil, err
	}
	return decodeBroadcastLists(b)
}

func decodeBroadcastLists(b []byte) ([]BroadcastList, error) {
	f, err := decodeFields(b)
	if err != nil {
		return nil, errBadListRecord
	}
	var out []BroadcastList
	for _, b := range f.bytes[1] {
		lf, err := decodeFields(b)
		if err != nil {
			return nil, errBadListRecord
		}
		l := BroadcastList{Name: string(lf.one(1))}
		for _, m := range lf.bytes[2] {
			l.Members = append(l.Members, string(m))
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
		rec := putBytes(nil, 1, []byte(l.Name))
		for _, m := range l.Members {
			rec = putBytes(rec, 2, []byte(m))
		}
		b = putBytes(b, 1, rec)
	}
	return b
}

// SaveBroadcastList creates or replaces the broadcast list name.
func (c *Client) SaveBroadcastList(name string, members []string) error {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > maxNameBytes || !utf8.ValidString(name) {
		return ErrBadListName
	}
	if err := c.checkMembers(members); err != nil {
		return err
	}
	members = slices.Compact(slices.Sorted(slices.Values(members)))
	if len(members) == 0 || len(members) > maxBroadcastMembers {
		return ErrTooManyLists
	}
	return c.update(func(tx *store.Tx) error {
		lists, err := loadBroadcastLists(tx)
		if err != nil {
			return err
		}
		lists = slices.DeleteFunc(lists, func(l BroadcastList) bool { return l.Name == name })
		if len(lists) >= maxBroadcastLists {
			return ErrTooManyLists
		}
		lists = append(lists, BroadcastList{Name: name, Members: members})
		slices.SortFunc(lists, func(a, b BroadcastList) int { return strings.Compare(a.Name, b.Name) })
		return saveBroadcastLists(tx, lists)
	})
}

// BroadcastLists returns the broadcast lists, by name.
func (c *Client) BroadcastLists() ([]BroadcastList, error) {
	var out []BroadcastList
	err := c.view(func(tx *store.Tx) (err error) { out, err = loadBroadcastLists(tx); return })
	return out, err
}

// DeleteBroadcastList deletes a broadcast list (the messages sent to it
// stay in their conversations).
func (c *Client) DeleteBroadcastList(name string) error {
	return c.update(func(tx *store.Tx) error {
		lists, err := loadBroadcastLists(tx)
		if err != nil {
			return err
		}
		n := len(lists)
		lists = slices.DeleteFunc(lists, func(l BroadcastList) bool { return l.Name == name })
		if len(lists) == n {
			return ErrNoSuchList
		}
		return saveBroadcastLists(tx, lists)
	})
}

// Broadcast sends text to every recipient of the broadcast list name, as a
// separate 1:1 message each (Send), and returns the messages queued. A
// recipient that cannot be sent to now (a key change waiting for the user)
// is left out; the error then names each.
func (c *Client) Broadcast(name, text string) ([]Message, error) {
	var list *BroadcastList
	lists, err := c.BroadcastLists()
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
	var out []Message
	var errs []error
	for _, m := range list.Members {
		msg, err := c.Send(m, text)
		if errors.Is(err, ErrTooLong) {
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
