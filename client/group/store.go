package group

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/client/core"
	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/protocol"
	"github.com/skymsg/sky/protocol/senderkey"
)

// What the client keeps about groups, in the store's settings (sealed like
// everything else, their names hashed):
const (
	setGroups    = "groups"         // bytes repeated: the IDs of every group known
	setGroup     = "group/"         // + group ID: Record
	setGroupSent = "group-sk-sent/" // + group ID: bytes repeated, members holding the own current sender key
	setGroupSeq  = "group-seq/"     // + group ID: varint, the last sequence number of an own group text
	setSenderKey = "sk/"            // + sender "." device "/" + group ID: senderkey.Record
	setGroupHeld = "group-held/"    // + group ID: held group items (heldItem), waiting for the group or a member
	setHeldGrps  = "group-held-ids" // bytes repeated: the groups with held items, oldest first
)

// Bounds of what is held for groups not known yet (or senders not yet
// members): per group, in items and in bytes, how many groups, and for how
// long. A group message from a sender with no session yet is held before
// anything authenticates it (its certificate is the server's to mint), so
// the server can fill these bounds at will: the byte bound keeps the
// storage it can take small, and each rewrite of a group's list cheap.
const (
	maxHeldPerGroup      = 200
	maxHeldBytesPerGroup = 2 << 20
	maxHeldGroups        = 32
	heldGroupTTL         = 48 * time.Hour
)

// loadGroup returns the record of a group, or nil if it is unknown.
func loadGroup(tx *store.Tx, id content.GroupID) (*Record, error) {
	b, err := core.Setting(tx, setGroup+id.String())
	if err != nil || b == nil {
		return nil, err
	}
	r, err := ParseRecord(b)
	if err != nil {
		return nil, fmt.Errorf("%w: a group record does not decode", store.ErrCorrupt)
	}
	return r, nil
}

// saveGroup stores a group's record and lists the group.
func saveGroup(tx *store.Tx, r *Record) error {
	b, err := r.MarshalBinary()
	if err != nil {
		return err
	}
	if err := tx.SetSetting(setGroup+r.State.ID.String(), b); err != nil {
		return err
	}
	return core.AddToList(tx, setGroups, r.State.ID.String())
}

// groupIDs returns every known group.
func groupIDs(tx *store.Tx) ([]content.GroupID, error) {
	list, err := core.StringList(tx, setGroups)
	var out []content.GroupID
	for _, s := range list {
		id, perr := content.ParseGroupID(s)
		if perr != nil {
			return nil, fmt.Errorf("%w: the group list is damaged", store.ErrCorrupt)
		}
		out = append(out, id)
	}
	return out, err
}

// ensureGroupConversation gives the group its conversation settings (the
// store lists conversations by them) with the group's timer.
func ensureGroupConversation(tx *store.Tx, s *State, now time.Time) error {
	conv, err := tx.Conversation(s.ID.String())
	if err == nil && conv.Timer == s.Timer {
		return nil
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return tx.PutConversation(store.Conversation{ID: s.ID.String(), Timer: s.Timer, UpdatedAt: now})
}

// skStore keeps sender-key records in the store, one setting per (sender
// device, group). Writes wait in memory until commit, so a group message
// that decrypts but then proves bad changes nothing.
type skStore struct {
	tx      *store.Tx
	pending map[string][]byte
}

func newSKStore(tx *store.Tx) *skStore { return &skStore{tx: tx, pending: map[string][]byte{}} }

func senderKeyName(sender protocol.Address, id senderkey.DistributionID) string {
	return setSenderKey + sender.Name + "." + strconv.FormatUint(uint64(sender.DeviceID), 10) + "/" + content.GroupID(id).String()
}

// LoadSenderKey implements senderkey.Store.
func (s *skStore) LoadSenderKey(_ context.Context, sender protocol.Address, id senderkey.DistributionID) (*senderkey.Record, error) {
	name := senderKeyName(sender, id)
	b, ok := s.pending[name]
	if !ok {
		var err error
		if b, err = core.Setting(s.tx, name); err != nil || b == nil {
			return nil, err
		}
	}
	r, err := senderkey.ParseRecord(b)
	if err != nil {
		return nil, fmt.Errorf("%w: a sender key does not decode", store.ErrCorrupt)
	}
	return r, nil
}

// StoreSenderKey implements senderkey.Store.
func (s *skStore) StoreSenderKey(_ context.Context, sender protocol.Address, id senderkey.DistributionID, r *senderkey.Record) error {
	b, err := r.MarshalBinary()
	if err != nil {
		return err
	}
	s.pending[senderKeyName(sender, id)] = b
	return nil
}

func (s *skStore) commit() error {
	for name, b := range s.pending {
		if err := s.tx.SetSetting(name, b); err != nil {
			return err
		}
	}
	clear(s.pending)
	return nil
}

// forgetSenderKey deletes what the client holds of a member's sender key
// for a group.
func forgetSenderKey(tx *store.Tx, member string, id content.GroupID) error {
	return tx.DeleteSetting(senderKeyName(protocol.Address{Name: member, DeviceID: core.AnnouncedDevice}, senderkey.DistributionID(id)))
}

// heldItem is a group item that came before the client could use it: a
// sender key or group message for a group it does not know yet, or from a
// sender it does not count as a member yet (the change adding them is
// still on its way). Both were authenticated before they were held.
type heldItem struct {
	Kind  uint64 // heldSenderKey or heldMessage
	Peer  string
	Dev   uint32
	Bytes []byte // the distribution message, or the sender-key message
	At    time.Time
	Next  uint64 // a sender key's next sequence number
	// Key, for a message that came before any session with its sender,
	// is the identity key its certificate vouched for: it must be the one
	// pinned for the sender when the message is used.
	Key []byte
}

const (
	heldSenderKey = 1
	heldMessage   = 2
)

func loadHeld(tx *store.Tx, id content.GroupID) ([]heldItem, error) {
	b, err := core.Setting(tx, setGroupHeld+id.String())
	if err != nil {
		return nil, err
	}
	return decodeHeld(b)
}

func saveHeld(tx *store.Tx, id content.GroupID, items []heldItem) error {
	if len(items) == 0 {
		if err := tx.DeleteSetting(setGroupHeld + id.String()); err != nil {
			return err
		}
		return core.RemoveFromList(tx, setHeldGrps, id.String())
	}
	if err := tx.SetSetting(setGroupHeld+id.String(), encodeHeld(items)); err != nil {
		return err
	}
	return core.AddToList(tx, setHeldGrps, id.String())
}

// encodeHeld and decodeHeld are the stored form of held items: field 1
// repeated, each {1: kind, 2: peer, 3: device, 4: bytes, 5: unix
// nanoseconds, 6: next sequence number, 7: identity key}.
func encodeHeld(items []heldItem) []byte {
	var b []byte
	for _, it := range items {
		rec := core.PutBytes(core.PutNum(nil, 1, it.Kind), 2, []byte(it.Peer))
		rec = core.PutBytes(core.PutNum(rec, 3, uint64(it.Dev)), 4, it.Bytes)
		rec = core.PutNum(core.PutNum(rec, 5, uint64(it.At.UnixNano())), 6, it.Next)
		if len(it.Key) > 0 {
			rec = core.PutBytes(rec, 7, it.Key)
		}
		b = core.PutBytes(b, 1, rec)
	}
	return b
}

func decodeHeld(b []byte) ([]heldItem, error) {
	f, err := core.DecodeFields(b)
	if err != nil {
		return nil, err
	}
	var out []heldItem
	for _, b := range f.Bytes[1] {
		hf, err := core.DecodeFields(b)
		if err != nil {
			return nil, err
		}
		it := heldItem{Kind: hf.Nums[1], Peer: string(hf.One(2)), Dev: uint32(hf.Nums[3]), Bytes: hf.One(4),
			At: time.Unix(0, int64(hf.Nums[5])), Next: hf.Nums[6], Key: hf.One(7)}
		if len(it.Key) == 0 {
			it.Key = nil
		}
		if (it.Kind != heldSenderKey && it.Kind != heldMessage) || it.Peer == "" || len(it.Bytes) == 0 || hf.Nums[3] > 1<<32-1 || hf.Nums[5] > 1<<62 {
			return nil, core.ErrBadSetting
		}
		out = append(out, it)
	}
	return out, nil
}

// heldSize is about what an item takes in its group's list.
func heldSize(it heldItem) int { return len(it.Bytes) + len(it.Key) + len(it.Peer) + 32 }

// hold keeps an item for a group until the group or its sender turns up,
// within the bounds above (the oldest go first).
func hold(tx *store.Tx, id content.GroupID, it heldItem) error {
	items, err := loadHeld(tx, id)
	if err != nil {
		return err
	}
	fresh := len(items) == 0
	items = append(items, it)
	size := 0
	for _, x := range items {
		size += heldSize(x)
	}
	for len(items) > 1 && (len(items) > maxHeldPerGroup || size > maxHeldBytesPerGroup) {
		size -= heldSize(items[0])
		items = items[1:]
	}
	if size > maxHeldBytesPerGroup {
		items = nil // a single item over the bound is not kept either
	}
	if fresh && len(items) > 0 {
		groups, err := core.StringList(tx, setHeldGrps)
		if err != nil {
			return err
		}
		for len(groups) >= maxHeldGroups {
			old, err := content.ParseGroupID(groups[0])
			if err == nil {
				err = saveHeld(tx, old, nil)
			}
			if err != nil {
				return err
			}
			groups = groups[1:]
		}
	}
	return saveHeld(tx, id, items)
}

// LoadRecord returns the record of a group, or nil if it is unknown.
func LoadRecord(tx *store.Tx, id content.GroupID) (*Record, error) { return loadGroup(tx, id) }

// SaveRecord stores a group's record as it is (for tests and benchmarks
// that set up a group without its messages).
func SaveRecord(tx *store.Tx, r *Record) error { return saveGroup(tx, r) }

// SaveSent records who holds the user's current sender key for a group.
func SaveSent(tx *store.Tx, id content.GroupID, members []string) error {
	return saveSent(tx, id, members)
}

// SenderKeys returns the sender keys the client holds, as a
// senderkey.Store reading tx (its writes are kept only in memory).
func SenderKeys(tx *store.Tx) senderkey.Store { return newSKStore(tx) }

// FindRecord resolves a group by ID, else by a unique name.
func FindRecord(tx *store.Tx, ref string) (*Record, error) { return findGroup(tx, ref) }
