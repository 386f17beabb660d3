package protocol

import (
	"fmt"

	"github.com/skymsg/sky/protocol/curve"

	"github.com/skymsg/sky/protocol/internal/errs"
	"github.com/skymsg/sky/protocol/internal/pb"
	"github.com/skymsg/sky/protocol/internal/redact"
	"github.com/skymsg/sky/protocol/ratchet"
)

// MaxArchivedStates is how many earlier session states a record keeps, as
// libsignal keeps them.
const MaxArchivedStates = 40

// SessionRecord is everything a device keeps about its sessions with one
// remote device: the current session state and up to 40 archived ones
// (newest first). Archived states still decrypt delayed messages, and a
// PreKeySignalMessage for an archived state brings it back; this is how
// simultaneous session starts and resets settle (Sesame).
type SessionRecord struct {
	current  *ratchet.State
	archived [][]byte // encoded states, newest first
	// stateSize is the encoded size of the current state when it was last
	// parsed or encoded: MarshalBinary sizes its buffer by it, so that a
	// state carrying SPQR chunks is encoded without regrowing the buffer.
	stateSize int
}

// NewSessionRecord returns an empty record.
func NewSessionRecord() *SessionRecord { return &SessionRecord{} }

// Current returns the current session state, or nil.
func (r *SessionRecord) Current() *ratchet.State { return r.current }

// ArchivedStates returns how many archived states r holds.
func (r *SessionRecord) ArchivedStates() int { return len(r.archived) }

// Clone returns a deep copy of r: changing one never changes the other.
// (Archived states are encodings that are replaced, never changed in place,
// so the copy shares them.)
func (r *SessionRecord) Clone() *SessionRecord {
	c := &SessionRecord{archived: append([][]byte(nil), r.archived...), stateSize: r.stateSize}
	if r.current != nil {
		c.current = r.current.Clone()
	}
	return c
}

// promote makes st the current state, archiving the previous one.
func (r *SessionRecord) promote(st *ratchet.State) {
	r.ArchiveCurrent()
	r.current = st
}

// ArchiveCurrent moves the current state (if any) to the archive, so that the
// next message to this device starts a new session (a session reset). The
// archived state no longer sends PreKeySignalMessages.
func (r *SessionRecord) ArchiveCurrent() {
	if r.current == nil {
		return
	}
	r.current.Pending = nil
	enc, err := r.current.MarshalBinary()
	r.current = nil
	if err != nil {
		return // an unencodable state cannot be kept; dropping it is all we can do
	}
	if len(r.archived) >= MaxArchivedStates {
		r.archived = r.archived[:MaxArchivedStates-1]
	}
	r.archived = append([][]byte{enc}, r.archived...)
}

// promoteArchived makes the decoded archived state i (already updated) current.
func (r *SessionRecord) promoteArchived(i int, st *ratchet.State) {
	r.archived = append(r.archived[:i:i], r.archived[i+1:]...)
	r.promote(st)
}

// findBaseKey makes the state with the given version and Alice base key
// current if one exists, and reports whether it did.
func (r *SessionRecord) findBaseKey(version uint8, base curve.PublicKey) bool {
	if c := r.current; c != nil && c.Version == version && c.AliceBaseKey == base {
		return true
	}
	for i, enc := range r.archived {
		st, err := ratchet.Parse(enc)
		if err != nil {
			continue
		}
		if st.Version == version && st.AliceBaseKey == base {
			r.promoteArchived(i, st)
			return true
		}
	}
	return false
}

// formatRecord is the first byte of an encoded record.
const formatRecord = 0x01

// recordSlack is how much larger than the current state's last encoding
// MarshalBinary makes its buffer.
const recordSlack = 160

// MarshalBinary encodes the record: a format byte, then field 1 the current
// state (if any) and field 2 each archived state, newest first. The result
// holds secret keys.
func (r *SessionRecord) MarshalBinary() ([]byte, error) {
	// A state grows little from one encoding to the next (counters, a
	// receiving chain, a few skipped keys): recordSlack bytes more than its
	// last size fit it, and a buffer no bigger than needed keeps the
	// allocator's size class (and the collector's work) down. A state never
	// encoded before gets a first guess.
	size := recordSlack + r.stateSize
	if r.stateSize == 0 {
		size = 640
	}
	for _, a := range r.archived {
		size += len(a) + 4
	}
	return r.AppendBinary(make([]byte, 0, size))
}

// AppendBinary appends the MarshalBinary encoding of r to b, for a store
// that reuses its buffers.
func (r *SessionRecord) AppendBinary(b []byte) ([]byte, error) {
	start := len(b)
	b = append(b, formatRecord)
	if r.current != nil {
		var err error
		b, err = appendState(b, r.current)
		if err != nil {
			return nil, err
		}
		r.stateSize = len(b) - start
	}
	for _, a := range r.archived {
		b = pb.AppendBytes(b, 2, a)
	}
	return b, nil
}

func appendState(b []byte, st *ratchet.State) ([]byte, error) {
	var err error
	b = pb.AppendMessage(b, 1, func(b []byte) []byte {
		var out []byte
		out, err = st.AppendBinary(b)
		if err != nil {
			return b
		}
		return out
	})
	return b, err
}

// ParseSessionRecord decodes a record. The current state is decoded and
// checked now; archived states are checked when they are used, and ones that
// no longer decode are then skipped.
func ParseSessionRecord(b []byte) (*SessionRecord, error) {
	if len(b) == 0 || b[0] != formatRecord {
		return nil, errs.New(errs.InvalidState, "session record of an unknown format")
	}
	// The record and its current state come in one allocation.
	a := new(struct {
		r  SessionRecord
		st ratchet.Storage
	})
	r := &a.r
	rd := pb.NewReader(b[1:])
	for {
		num, ok := rd.Next()
		if !ok {
			break
		}
		switch num {
		case 1:
			v := rd.Bytes()
			if rd.Err() != nil {
				break
			}
			if r.current != nil {
				return nil, errs.New(errs.InvalidState, "session record holds two current states")
			}
			st, err := ratchet.ParseInto(&a.st, v)
			if err != nil {
				return nil, err
			}
			r.current, r.stateSize = st, len(v)
		case 2:
			v := rd.Bytes()
			if rd.Err() != nil {
				break
			}
			if len(r.archived) == MaxArchivedStates {
				return nil, errs.New(errs.InvalidState, "session record holds too many archived states")
			}
			r.archived = append(r.archived, append([]byte(nil), v...))
		default:
			rd.Skip(num)
		}
	}
	if rd.Err() != nil {
		return nil, errs.Newf(errs.InvalidState, "session record: %v", rd.Err())
	}
	return r, nil
}

// Format redacts the record under every fmt verb.
func (r SessionRecord) Format(f fmt.State, _ rune) { redact.Format(f, "protocol.SessionRecord") }
