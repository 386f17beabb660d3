package client

import (
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/skymsg/sky/client/store"
)

// The SDK keeps its own state in the store's settings (sealed like
// everything else; their names are hashed). Values are small records in
// protobuf wire format: field n holds the record's n-th value.
const (
	setDefaultTimer = "default-timer"     // varint seconds (absent: DefaultTimer)
	setPreKeys      = "prekeys"           // prekeyState
	setHeldPeers    = "held-peers"        // bytes repeated: peers with held messages
	setSeenPruned   = "seen-pruned"       // varint unix nanoseconds: when the dedupe record was last pruned
	setSeqOut       = "seq-out/"          // + peer: varint, the last sequence number sent
	setIn           = "in/"               // + peer: inState
	setTimerV       = "timer-v/"          // + peer: timerVersion
	setPending      = "pending-identity/" // + peer: pendingIdentity
	setHeldEnv      = "held-envelopes/"   // + peer: bytes repeated, envelopes waiting for a key decision
	setBlocked      = "blocked/"          // + peer: present when the user rejected them
)

var errBadSetting = fmt.Errorf("%w: an SDK setting does not decode", store.ErrCorrupt)

// fields decodes a record into its fields: varints and byte strings by
// field number, repeated ones in order.
type fields struct {
	nums  map[protowire.Number]uint64
	bytes map[protowire.Number][][]byte
}

func decodeFields(b []byte) (fields, error) {
	f := fields{nums: map[protowire.Number]uint64{}, bytes: map[protowire.Number][][]byte{}}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return f, errBadSetting
		}
		b = b[n:]
		switch typ {
		case protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return f, errBadSetting
			}
			f.nums[num], b = v, b[n:]
		case protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return f, errBadSetting
			}
			f.bytes[num], b = append(f.bytes[num], v), b[n:]
		default:
			return f, errBadSetting
		}
	}
	return f, nil
}

func (f fields) one(n protowire.Number) []byte {
	if v := f.bytes[n]; len(v) > 0 {
		return v[0]
	}
	return nil
}

func putNum(b []byte, n protowire.Number, v uint64) []byte {
	b = protowire.AppendTag(b, n, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func putBytes(b []byte, n protowire.Number, v []byte) []byte {
	b = protowire.AppendTag(b, n, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

// setting reads a setting; a missing one is nil, nil.
func setting(tx *store.Tx, name string) ([]byte, error) {
	b, err := tx.Setting(name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return b, err
}

func settingFields(tx *store.Tx, name string) (fields, error) {
	b, err := setting(tx, name)
	if err != nil {
		return fields{}, err
	}
	return decodeFields(b)
}

// defaultTimer returns the account default for new conversations.
func defaultTimer(tx *store.Tx) (time.Duration, error) {
	b, err := setting(tx, setDefaultTimer)
	if err != nil || b == nil {
		return DefaultTimer, err
	}
	v, n := protowire.ConsumeVarint(b)
	if n != len(b) {
		return 0, errBadSetting
	}
	return time.Duration(v) * time.Second, nil
}

// prekeyState is what the client knows about its own prekeys.
type prekeyState struct {
	NextEC, NextKyber         uint32 // the next one-time IDs to use
	UploadedEC, UploadedKyber uint32 // one-time keys up to these IDs are on the server
	SignedID, LastResortID    uint32 // the current signed EC and last-resort Kyber prekeys
	SignedUploaded            bool   // both are on the server
	// SignedAt is when the current signed and last-resort prekeys were
	// made (unix seconds; 0 in stores made before rotation existed).
	SignedAt int64
	// Retired are earlier signed and last-resort prekeys, kept for first
	// messages still on their way, oldest first.
	Retired []retiredPreKeys
}

// retiredPreKeys is a signed and a last-resort prekey that were replaced.
type retiredPreKeys struct {
	SignedID, LastResortID uint32
	At                     int64 // when they were replaced, unix seconds
}

func loadPreKeyState(tx *store.Tx) (prekeyState, error) {
	f, err := settingFields(tx, setPreKeys)
	if err != nil {
		return prekeyState{}, err
	}
	ps := prekeyState{uint32(f.nums[1]), uint32(f.nums[2]), uint32(f.nums[3]), uint32(f.nums[4]),
		uint32(f.nums[5]), uint32(f.nums[6]), f.nums[7] == 1, int64(f.nums[8]), nil}
	for _, b := range f.bytes[9] {
		rf, err := decodeFields(b)
		if err != nil {
			return prekeyState{}, err
		}
		ps.Retired = append(ps.Retired, retiredPreKeys{uint32(rf.nums[1]), uint32(rf.nums[2]), int64(rf.nums[3])})
	}
	return ps, nil
}

func savePreKeyState(tx *store.Tx, p prekeyState) error {
	var b []byte
	up := uint64(0)
	if p.SignedUploaded {
		up = 1
	}
	for i, v := range []uint64{uint64(p.NextEC), uint64(p.NextKyber), uint64(p.UploadedEC), uint64(p.UploadedKyber), uint64(p.SignedID), uint64(p.LastResortID), up, uint64(max(p.SignedAt, 0))} {
		b = putNum(b, protowire.Number(i+1), v)
	}
	for _, r := range p.Retired {
		b = putBytes(b, 9, putNum(putNum(putNum(nil, 1, uint64(r.SignedID)), 2, uint64(r.LastResortID)), 3, uint64(max(r.At, 0))))
	}
	return tx.SetSetting(setPreKeys, b)
}

// inState tracks one peer's incoming sequence numbers: every message up to
// Upto has been shown (or given up on); Held are messages that arrived ahead
// of a missing one.
type inState struct {
	Upto uint64
	Held []heldMsg
}

type heldMsg struct {
	Seq uint64
	ID  int64 // the store's message ID
	At  time.Time
}

func loadIn(tx *store.Tx, peer string) (inState, error) {
	f, err := settingFields(tx, setIn+peer)
	if err != nil {
		return inState{}, err
	}
	s := inState{Upto: f.nums[1]}
	for _, h := range f.bytes[2] {
		hf, err := decodeFields(h)
		if err != nil {
			return s, err
		}
		s.Held = append(s.Held, heldMsg{Seq: hf.nums[1], ID: int64(hf.nums[2]), At: time.Unix(0, int64(hf.nums[3]))})
	}
	return s, nil
}

func saveIn(tx *store.Tx, peer string, s inState) error {
	b := putNum(nil, 1, s.Upto)
	for _, h := range s.Held {
		b = putBytes(b, 2, putNum(putNum(putNum(nil, 1, h.Seq), 2, uint64(h.ID)), 3, uint64(h.At.UnixNano())))
	}
	return tx.SetSetting(setIn+peer, b)
}

// timerVersion orders timer changes, so both sides settle on the same
// timer even when both change it at once: a higher version wins, and at
// equal versions the change by the greater Sky ID does.
type timerVersion struct {
	V  uint64
	By string
}

func (a timerVersion) less(b timerVersion) bool {
	return a.V < b.V || (a.V == b.V && a.By < b.By)
}

func loadTimerVersion(tx *store.Tx, peer string) (timerVersion, error) {
	f, err := settingFields(tx, setTimerV+peer)
	return timerVersion{V: f.nums[1], By: string(f.one(2))}, err
}

func saveTimerVersion(tx *store.Tx, peer string, v timerVersion) error {
	return tx.SetSetting(setTimerV+peer, putBytes(putNum(nil, 1, v.V), 2, []byte(v.By)))
}

// stringList reads a setting holding a list of strings.
func stringList(tx *store.Tx, name string) ([]string, error) {
	f, err := settingFields(tx, name)
	var out []string
	for _, b := range f.bytes[1] {
		out = append(out, string(b))
	}
	return out, err
}

func saveStringList(tx *store.Tx, name string, list []string) error {
	if len(list) == 0 {
		return tx.DeleteSetting(name)
	}
	var b []byte
	for _, s := range list {
		b = putBytes(b, 1, []byte(s))
	}
	return tx.SetSetting(name, b)
}

// addToList adds s to the list setting name if it is not there yet.
func addToList(tx *store.Tx, name, s string) error {
	list, err := stringList(tx, name)
	if err != nil {
		return err
	}
	for _, x := range list {
		if x == s {
			return nil
		}
	}
	return saveStringList(tx, name, append(list, s))
}

func removeFromList(tx *store.Tx, name, s string) error {
	list, err := stringList(tx, name)
	if err != nil {
		return err
	}
	out := list[:0]
	for _, x := range list {
		if x != s {
			out = append(out, x)
		}
	}
	if len(out) == len(list) {
		return nil
	}
	return saveStringList(tx, name, out)
}

func isBlocked(tx *store.Tx, peer string) (bool, error) {
	b, err := setting(tx, setBlocked+peer)
	return b != nil, err
}
