package store

import (
	"github.com/skymsg/sky/client/store/envelope"
)

// Encoders and decoders of the records. Each decoder is fuzzed
// (FuzzRecordDecoders).

func encodeAccount(a *Account) []byte {
	w := newWriter()
	w.str(a.ID)
	w.str(a.Server)
	w.uint(uint64(a.DeviceID))
	w.bytes(a.Credential)
	return w.b
}

func decodeAccount(b []byte) (Account, error) {
	r := newReader(b)
	a := Account{ID: r.str(), Server: r.str(), DeviceID: r.uint32()}
	a.Credential = Secret(r.copyBytes())
	return a, r.done()
}

func encodeLocalIdentity(l *LocalIdentity) []byte {
	w := newWriter()
	w.bytes(l.KeyPair)
	w.uint(uint64(l.RegistrationID))
	return w.b
}

func decodeLocalIdentity(b []byte) (LocalIdentity, error) {
	r := newReader(b)
	l := LocalIdentity{KeyPair: Secret(r.copyBytes()), RegistrationID: r.uint32()}
	return l, r.done()
}

func encodePeerIdentity(p *PeerIdentity) []byte {
	w := newWriter()
	w.bytes(p.Key)
	w.bool(p.Verified)
	w.time(p.FirstSeen)
	return w.b
}

func decodePeerIdentity(b []byte) (PeerIdentity, error) {
	r := newReader(b)
	p := PeerIdentity{Key: r.copyBytes(), Verified: r.bool(), FirstSeen: r.time()}
	return p, r.done()
}

func encodeContact(c *Contact) []byte {
	w := newWriter()
	w.str(c.ID)
	w.str(c.Name)
	w.time(c.AddedAt)
	return w.b
}

func decodeContact(b []byte) (Contact, error) {
	r := newReader(b)
	c := Contact{ID: r.str(), Name: r.str(), AddedAt: r.time()}
	return c, r.done()
}

func encodeRequest(q *Request) []byte {
	w := newWriter()
	w.str(q.ID)
	w.time(q.FirstAt)
	return w.b
}

func decodeRequest(b []byte) (Request, error) {
	r := newReader(b)
	q := Request{ID: r.str(), FirstAt: r.time()}
	return q, r.done()
}

func encodeConversation(c *Conversation) []byte {
	w := newWriter()
	w.str(c.ID)
	w.int(int64(c.Timer))
	w.time(c.UpdatedAt)
	return w.b
}

func decodeConversation(b []byte) (Conversation, error) {
	r := newReader(b)
	c := Conversation{ID: r.str(), Timer: r.duration(), UpdatedAt: r.time()}
	return c, r.done()
}

// encodeMessage encodes everything of a message except its ID (the row's)
// and its expiry (kept with its key).
func encodeMessage(m *Message) []byte {
	w := newWriter()
	w.str(m.Conversation)
	w.str(m.Sender)
	w.str(m.MessageID)
	w.bool(m.Outgoing)
	w.uint(uint64(m.State))
	w.bytes(m.Body)
	w.time(m.SentAt)
	w.time(m.ReceivedAt)
	w.time(m.ReadAt)
	w.int(int64(m.Timer))
	// Trailing fields, so stores written before them read as before:
	// the failure (written when set, or when an annex follows) and the
	// annex (written when not empty).
	if m.Failure != "" || len(m.Annex) > 0 {
		w.str(m.Failure)
	}
	if len(m.Annex) > 0 {
		w.bytes(m.Annex)
	}
	return w.b
}

func decodeMessage(b []byte) (Message, error) {
	r := newReader(b)
	m := Message{Conversation: r.str(), Sender: r.str(), MessageID: r.str(), Outgoing: r.bool()}
	st := r.uint()
	if st > uint64(Failed) {
		r.err = errRecord
	}
	m.State = State(st)
	m.Body = Secret(r.copyBytes())
	m.SentAt, m.ReceivedAt, m.ReadAt = r.time(), r.time(), r.time()
	m.Timer = r.duration()
	if r.err == nil && len(r.b) > 0 {
		m.Failure = r.str()
		if r.err == nil && len(r.b) > 0 {
			m.Annex = Secret(r.copyBytes())
		}
		if len(m.Annex) == 0 && m.Failure == "" {
			r.err = errRecord // written only when set: the encoding stays canonical
		}
	}
	return m, r.done()
}

// messageKey is the row of message_keys: the key that seals one message and
// its expiry.
type messageKey struct {
	Key       envelope.Key
	ExpiresAt int64 // unix nanoseconds; 0: none
}

func encodeMessageKey(k *messageKey) []byte {
	w := newWriter()
	w.bytes(k.Key[:])
	w.int(k.ExpiresAt)
	return w.b
}

func decodeMessageKey(b []byte) (messageKey, error) {
	r := newReader(b)
	k := messageKey{Key: r.key(), ExpiresAt: r.int()}
	if k.ExpiresAt < 0 {
		r.err = errRecord
	}
	return k, r.done()
}

func encodeOutgoing(o *Outgoing) []byte {
	w := newWriter()
	w.str(o.To)
	w.int(o.MessageRef)
	w.bytes(o.Payload)
	w.time(o.CreatedAt)
	w.uint(uint64(o.Attempts))
	return w.b
}

func decodeOutgoing(b []byte) (Outgoing, error) {
	r := newReader(b)
	o := Outgoing{To: r.str(), MessageRef: r.int(), Payload: Secret(r.copyBytes()), CreatedAt: r.time()}
	n := r.uint()
	if n > 1<<31-1 || o.MessageRef < 0 {
		r.err = errRecord
	}
	o.Attempts = int(n)
	return o, r.done()
}

// panicState is what the unlocked store keeps about the panic passphrase: the
// panic key (which seals the payload), the key derived from the panic
// passphrase (so every rewrite of the key file can re-seal the panic slot with
// a fresh nonce without asking for the passphrase) and the user's choices.
type panicState struct {
	Key           envelope.Key
	KEK           envelope.Key
	DeleteAccount bool
	WipeList      []byte // the list that removes the other devices (PanicOptions)
}

func encodePanicState(p *panicState) []byte {
	w := newWriter()
	w.bytes(p.Key[:])
	w.bytes(p.KEK[:])
	w.bool(p.DeleteAccount)
	if len(p.WipeList) > 0 {
		w.bytes(p.WipeList)
	}
	return w.b
}

func decodePanicState(b []byte) (panicState, error) {
	r := newReader(b)
	p := panicState{Key: r.key(), KEK: r.key(), DeleteAccount: r.bool()}
	if r.err == nil && len(r.b) > 0 { // none in records written before wipe lists
		if p.WipeList = r.copyBytes(); p.WipeList == nil {
			r.err = errRecord // present, it is never empty
		}
	}
	return p, r.done()
}

func (p *panicState) zero() {
	p.Key.Zero()
	p.KEK.Zero()
	clear(p.WipeList)
}

// seenRecord is a dedupe entry: the ID (so it can be checked on read) and
// when it was first seen (so old entries can be forgotten).
func encodeSeen(id string, atNanos int64) []byte {
	w := newWriter()
	w.str(id)
	w.int(atNanos)
	return w.b
}

func decodeSeen(b []byte) (string, int64, error) {
	r := newReader(b)
	id, at := r.str(), r.int()
	return id, at, r.done()
}

// kvRecord wraps every value of a table keyed by a lookup hash with the
// plaintext key it was stored under, so a read can check that the row is the
// one asked for and a listing can return the keys.
func encodeKV(key, value []byte) []byte {
	w := newWriter()
	w.bytes(key)
	w.bytes(value)
	return w.b
}

func decodeKV(b []byte) (key, value []byte, err error) {
	r := newReader(b)
	key, value = r.bytes(), r.bytes()
	return key, value, r.done()
}
