package actions

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/skymsg/sky/client/core"
	"github.com/skymsg/sky/client/store"
)

// Broadcasts. A broadcast list sends each recipient their own 1:1 copy, so
// a reply or a reaction to one is an action in that 1:1 chat like any
// other. What makes sense across the copies is the author's: an edit or a
// deletion for everyone of the broadcast, carried out on every copy. For
// that the client keeps, per list, which copies each recent broadcast made
// (recipient and message ID, nothing of the text), for as long as they can
// be edited or deleted (EditLimit; at most MaxBroadcasts per list).

// MaxBroadcasts bounds the broadcasts remembered per list.
const MaxBroadcasts = 50

// ErrNoSuchBroadcast: the message is not a copy of a recent broadcast of
// the list.
var ErrNoSuchBroadcast = errors.New("no such broadcast: give the ID of one of its copies (sky broadcast send prints them), sent to this list within 24 hours")

// Copy is one recipient's copy of a broadcast.
type Copy struct {
	Peer, ID string
}

const copiesPref = "broadcast-copies/" // + list name

// RecordBroadcast remembers the copies one broadcast to list made.
func RecordBroadcast(tx *store.Tx, list string, sentAt time.Time, copies []Copy) error {
	bs, err := loadBroadcasts(tx, list, sentAt)
	if err != nil || len(copies) == 0 {
		return err
	}
	bs = append(bs, broadcast{at: sentAt, copies: copies})
	if len(bs) > MaxBroadcasts {
		bs = bs[len(bs)-MaxBroadcasts:]
	}
	return saveBroadcasts(tx, list, bs)
}

// Copies returns the copies of the broadcast to list that one of whose
// copies is message id.
func Copies(tx *store.Tx, list, id string, now time.Time) ([]Copy, error) {
	bs, err := loadBroadcasts(tx, list, now)
	if err != nil {
		return nil, err
	}
	for _, b := range bs {
		if slices.ContainsFunc(b.copies, func(c Copy) bool { return c.ID == id }) {
			return b.copies, nil
		}
	}
	return nil, ErrNoSuchBroadcast
}

// ForgetBroadcasts forgets the broadcasts of a deleted list.
func ForgetBroadcasts(tx *store.Tx, list string) error { return tx.DeleteSetting(copiesPref + list) }

type broadcast struct {
	at     time.Time
	copies []Copy
}

// loadBroadcasts reads a list's broadcasts, leaving out those too old to
// act on at now. Record: repeated 1 {1: sent at (Unix ms), repeated 2
// {1: peer, 2: message ID}}.
func loadBroadcasts(tx *store.Tx, list string, now time.Time) ([]broadcast, error) {
	f, err := core.SettingFields(tx, copiesPref+list)
	if err != nil {
		return nil, err
	}
	var out []broadcast
	for _, rec := range f.Bytes[1] {
		bf, err := core.DecodeFields(rec)
		if err != nil {
			return nil, err
		}
		b := broadcast{at: time.UnixMilli(int64(bf.Nums[1]))}
		for _, c := range bf.Bytes[2] {
			cf, err := core.DecodeFields(c)
			if err != nil || len(cf.Bytes[1]) != 1 || len(cf.Bytes[2]) != 1 {
				return nil, fmt.Errorf("%w: a broadcast's copies", store.ErrCorrupt)
			}
			b.copies = append(b.copies, Copy{Peer: string(cf.One(1)), ID: string(cf.One(2))})
		}
		if now.Sub(b.at) <= max(EditLimit, DeleteLimit) {
			out = append(out, b)
		}
	}
	return out, nil
}

func saveBroadcasts(tx *store.Tx, list string, bs []broadcast) error {
	var b []byte
	for _, x := range bs {
		rec := core.PutNum(nil, 1, uint64(x.at.UnixMilli()))
		for _, c := range x.copies {
			rec = core.PutBytes(rec, 2, core.PutBytes(core.PutBytes(nil, 1, []byte(c.Peer)), 2, []byte(c.ID)))
		}
		b = core.PutBytes(b, 1, rec)
	}
	return tx.SetSetting(copiesPref+list, b)
}
