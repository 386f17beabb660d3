package core

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
	setPreKeys      = "prekeys"           // PreKeyState
	setHeldPeers    = "held-peers"        // bytes repeated: peers with held messages
	setSeenPruned   = "seen-pruned"       // varint unix nanoseconds: when the dedupe record was last pruned
	setSeqOut       = "seq-out/"          // + peer: varint, the last sequence number sent
	setIn           = "in/"               // + peer: SeqState
	setPending      = "pending-identity/" // + peer: pendingIdentity
	setBlocked      = "blocked/"          // + peer: present when the user rejected them
)

var ErrBadSetting = fmt.Errorf("%w: an SDK setting does not decode", store.ErrCorrupt)

// fields decodes a record into its fields: varints and byte strings by
// field number, repeated ones in order.
type Fields struct {
	Nums  map[protowire.Number]uint64
	Bytes map[protowire.Number][][]byte
}

func DecodeFields(b []byte) (Fields, error) {
	f := Fields{Nums: map[protowire.Number]uint64{}, Bytes: map[protowire.Number][][]byte{}}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return f, ErrBadSetting
		}
		b = b[n:]
		switch typ {
		case protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return f, ErrBadSetting
			}
			f.Nums[num], b = v, b[n:]
		case protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return f, ErrBadSetting
			}
			f.Bytes[num], b = append(f.Bytes[num], v), b[n:]
		default:
			return f, ErrBadSetting
		}
	}
	return f, nil
}

func (f Fields) One(n protowire.Number) []byte {
	if v := f.Bytes[n]; len(v) > 0 {
		return v[0]
	}
	return nil
}

func PutNum(b []byte, n protowire.Number, v uint64) []byte {
	b = protowire.AppendTag(b, n, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func PutBytes(b []byte, n protowire.Number, v []byte) []byte {
	b = protowire.AppendTag(b, n, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

// setting reads a setting; a missing one is nil, nil.
func Setting(tx *store.Tx, name string) ([]byte, error) {
	b, err := tx.Setting(name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return b, err
}

func SettingFields(tx *store.Tx, name string) (Fields, error) {
	b, err := Setting(tx, name)
	if err != nil {
		return Fields{}, err
	}
	return DecodeFields(b)
}

// defaultTimer returns the account default for new conversations.
func AccountTimer(tx *store.Tx) (time.Duration, error) {
	b, err := Setting(tx, setDefaultTimer)
	if err != nil || b == nil {
		return DefaultTimer, err
	}
	v, n := protowire.ConsumeVarint(b)
	if n != len(b) {
		return 0, ErrBadSetting
	}
	return time.Duration(v) * time.Second, nil
}

// PreKeyState is what the client knows about its own prekeys.
type PreKeyState struct {
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

func LoadPreKeyState(tx *store.Tx) (PreKeyState, error) {
	f, err := SettingFields(tx, setPreKeys)
	if err != nil {
		return PreKeyState{}, err
	}
	ps := PreKeyState{uint32(f.Nums[1]), uint32(f.Nums[2]), uint32(f.Nums[3]), uint32(f.Nums[4]),
		uint32(f.Nums[5]), uint32(f.Nums[6]), f.Nums[7] == 1, int64(f.Nums[8]), nil}
	for _, b := range f.Bytes[9] {
		rf, err := DecodeFields(b)
		if err != nil {
			return PreKeyState{}, err
		}
		ps.Retired = append(ps.Retired, retiredPreKeys{uint32(rf.Nums[1]), uint32(rf.Nums[2]), int64(rf.Nums[3])})
	}
	return ps, nil
}

func SavePreKeyState(tx *store.Tx, p PreKeyState) error {
	var b []byte
	up := uint64(0)
	if p.SignedUploaded {
		up = 1
	}
	for i, v := range []uint64{uint64(p.NextEC), uint64(p.NextKyber), uint64(p.UploadedEC), uint64(p.UploadedKyber), uint64(p.SignedID), uint64(p.LastResortID), up, uint64(max(p.SignedAt, 0))} {
		b = PutNum(b, protowire.Number(i+1), v)
	}
	for _, r := range p.Retired {
		b = PutBytes(b, 9, PutNum(PutNum(PutNum(nil, 1, uint64(r.SignedID)), 2, uint64(r.LastResortID)), 3, uint64(max(r.At, 0))))
	}
	return tx.SetSetting(setPreKeys, b)
}

// SeqState tracks one peer's incoming sequence numbers: every message up to
// Upto has been shown (or given up on); Held are messages that arrived ahead
// of a missing one.
type SeqState struct {
	Upto uint64
	Held []HeldMsg
}

type HeldMsg struct {
	Seq uint64
	ID  int64 // the store's message ID
	At  time.Time
}

func LoadSeq(tx *store.Tx, peer string) (SeqState, error) {
	f, err := SettingFields(tx, setIn+peer)
	if err != nil {
		return SeqState{}, err
	}
	s := SeqState{Upto: f.Nums[1]}
	for _, h := range f.Bytes[2] {
		hf, err := DecodeFields(h)
		if err != nil {
			return s, err
		}
		s.Held = append(s.Held, HeldMsg{Seq: hf.Nums[1], ID: int64(hf.Nums[2]), At: time.Unix(0, int64(hf.Nums[3]))})
	}
	return s, nil
}

func SaveSeq(tx *store.Tx, peer string, s SeqState) error {
	b := PutNum(nil, 1, s.Upto)
	for _, h := range s.Held {
		b = PutBytes(b, 2, PutNum(PutNum(PutNum(nil, 1, h.Seq), 2, uint64(h.ID)), 3, uint64(h.At.UnixNano())))
	}
	return tx.SetSetting(setIn+peer, b)
}

// stringList reads a setting holding a list of strings.
func StringList(tx *store.Tx, name string) ([]string, error) {
	f, err := SettingFields(tx, name)
	var out []string
	for _, b := range f.Bytes[1] {
		out = append(out, string(b))
	}
	return out, err
}

func SaveStringList(tx *store.Tx, name string, list []string) error {
	if len(list) == 0 {
		return tx.DeleteSetting(name)
	}
	var b []byte
	for _, s := range list {
		b = PutBytes(b, 1, []byte(s))
	}
	return tx.SetSetting(name, b)
}

// addToList adds s to the list setting name if it is not there yet.
func AddToList(tx *store.Tx, name, s string) error {
	list, err := StringList(tx, name)
	if err != nil {
		return err
	}
	for _, x := range list {
		if x == s {
			return nil
		}
	}
	return SaveStringList(tx, name, append(list, s))
}

func RemoveFromList(tx *store.Tx, name, s string) error {
	list, err := StringList(tx, name)
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
	return SaveStringList(tx, name, out)
}

func IsBlocked(tx *store.Tx, peer string) (bool, error) {
	b, err := Setting(tx, setBlocked+peer)
	return b != nil, err
}
