package sealed

import (
	"encoding/binary"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/identity"
	"github.com/skymsg/sky/protocol/internal/errs"
	"github.com/skymsg/sky/protocol/internal/gcmsiv"
	"github.com/skymsg/sky/protocol/serviceid"
)

// The SentMessage a sender uploads (libsignal's layout, version 0x23):
//
//	0x23 || varint(count) || count × recipient || E (32) || shared ciphertext
//	recipient = service ID (17) || device… || C (32) || AT (16)
//	          | service ID (17) || 0x00                 (an excluded recipient)
//	device    = device ID (1, 1..127) || BE16(registration ID | 0x8000 if another device follows)
//
// Version 0x22 is the older form whose recipients are 16-byte ACI UUIDs.

// MaxV2RegistrationID is the largest registration ID v2 can carry (14 bits).
const MaxV2RegistrationID = 0x3FFF

// Device is one device of a v2 recipient.
type Device struct {
	ID             uint32 // 1..127
	RegistrationID uint32 // 0..MaxV2RegistrationID
}

// MultiRecipient is one account a v2 message is sealed for: its identity
// key and the devices it goes to (at least one).
type MultiRecipient struct {
	ServiceID   serviceid.ID
	IdentityKey curve.PublicKey
	Devices     []Device
	// Static, when set, is StaticSecret(sender, IdentityKey), kept by a
	// sender that writes to the same accounts often: it saves one of the
	// two X25519 agreements per recipient. The output is the same.
	Static *[32]byte
}

// StaticSecret is the agreement between the sender's identity key and a
// recipient's, which every v2 message between them uses for its
// authentication tag. Treat it as secret as the identity key itself.
func StaticSecret(from identity.KeyPair, to curve.PublicKey) ([32]byte, error) {
	return from.Private.Agree(to)
}

// EncryptMulti seals c once for every recipient (sealed sender v2) and
// returns the SentMessage. excluded names accounts deliberately left out
// (they travel in the message, without key material, so a server can check
// that a send covers a whole group). Recipients and excluded accounts must
// all differ. c's certificate must vouch for from's public key.
func EncryptMulti(c *Content, from identity.KeyPair, to []MultiRecipient, excluded []serviceid.ID) ([]byte, error) {
	if c.Sender == nil || c.Sender.IdentityKey() != from.Public {
		return nil, errs.New(errs.InvalidKey, "sealed sender: the certificate does not vouch for the sending identity key")
	}
	content, err := c.Bytes()
	if err != nil {
		return nil, err
	}
	m := newMessageKey()
	defer clear(m)
	return sealMulti(content, from, to, excluded, m)
}

// sealMulti is EncryptMulti with a given M.
func sealMulti(content []byte, from identity.KeyPair, to []MultiRecipient, excluded []serviceid.ID, m []byte) ([]byte, error) {
	if err := checkRecipients(to, excluded); err != nil {
		return nil, err
	}
	e, k := v2Keys(m)
	shared := gcmsiv.Seal(k, content)
	clear(k)
	n := 1 + protowire.SizeVarint(uint64(len(to)+len(excluded))) + len(excluded)*(serviceid.Size+1) + v2PublicSize + len(shared)
	for _, r := range to {
		n += serviceid.Size + 3*len(r.Devices) + V2KeyMaterialSize
	}
	b := make([]byte, 0, n)
	b = append(b, V2SentVersion)
	b = protowire.AppendVarint(b, uint64(len(to)+len(excluded)))
	for _, r := range to {
		b = append(b, r.ServiceID[:]...)
		for i, d := range r.Devices {
			reg := uint16(d.RegistrationID)
			if i < len(r.Devices)-1 {
				reg |= 0x8000
			}
			b = append(b, byte(d.ID))
			b = binary.BigEndian.AppendUint16(b, reg)
		}
		c, err := v2Wrap(e.Private, r.IdentityKey, e.Public, r.IdentityKey, m)
		if err != nil {
			return nil, errs.Newf(errs.InvalidKey, "sealed sender v2: the identity key of %s is unusable", r.ServiceID)
		}
		at, err := v2AuthTagFrom(r.Static, from.Private, r.IdentityKey, e.Public, c, from.Public, r.IdentityKey)
		if err != nil {
			return nil, errs.Newf(errs.InvalidKey, "sealed sender v2: the identity key of %s is unusable", r.ServiceID)
		}
		b = append(append(b, c...), at...)
	}
	for _, x := range excluded {
		b = append(append(b, x[:]...), 0)
	}
	u := e.Public.U()
	b = append(b, u[:]...)
	return append(b, shared...), nil
}

// checkRecipients refuses what libsignal would not encode or parse back:
// a recipient without devices, a device ID outside 1..127, a registration
// ID wider than 14 bits, and an account named twice.
func checkRecipients(to []MultiRecipient, excluded []serviceid.ID) error {
	seen := make(map[serviceid.ID]bool, len(to)+len(excluded))
	for _, r := range to {
		if len(r.Devices) == 0 {
			return errs.Newf(errs.InvalidMessage, "sealed sender v2: recipient %s has no devices", r.ServiceID)
		}
		for _, d := range r.Devices {
			if d.ID < 1 || d.ID > MaxDeviceID || d.RegistrationID > MaxV2RegistrationID {
				return errs.Newf(errs.InvalidMessage, "sealed sender v2: recipient %s device %d with registration ID %d (device IDs are 1..127, registration IDs at most %d)", r.ServiceID, d.ID, d.RegistrationID, MaxV2RegistrationID)
			}
		}
		if seen[r.ServiceID] {
			return errs.Newf(errs.InvalidMessage, "sealed sender v2: recipient %s named twice", r.ServiceID)
		}
		seen[r.ServiceID] = true
	}
	for _, x := range excluded {
		if seen[x] {
			return errs.Newf(errs.InvalidMessage, "sealed sender v2: %s both a recipient and excluded, or excluded twice", x)
		}
		seen[x] = true
	}
	return nil
}

// SentMessage is a parsed v2 SentMessage: enough to split it, nothing
// decrypted. The slices point into the bytes it was parsed from.
type SentMessage struct {
	Version    byte
	Recipients []SentRecipient // in order of first appearance
	Excluded   []serviceid.ID
	shared     []byte // E || shared ciphertext
}

// SentRecipient is one recipient account of a SentMessage.
type SentRecipient struct {
	ServiceID serviceid.ID
	Devices   []Device
	// KeyMaterial is C || AT, V2KeyMaterialSize bytes.
	KeyMaterial []byte
}

// ParseSentMessage parses a SentMessage as libsignal does: version 0x22
// (ACI UUIDs) or 0x23 (service IDs); device IDs 1..127; a device list ends
// with a registration ID whose top bit is clear; registration IDs keep
// their low 14 bits; an account named again adds devices, unless either
// occurrence is excluded; at least the 32 bytes of E must follow.
// maxRecipients bounds the count before anything is allocated for it.
// Errors wrap protocol.ErrInvalidMessage.
func ParseSentMessage(b []byte, maxRecipients int) (*SentMessage, error) {
	if len(b) == 0 {
		return nil, v2Errorf("empty message")
	}
	msg := &SentMessage{Version: b[0]}
	if b[0] != V2ReceivedVersion && b[0] != V2SentVersion {
		return nil, v2Errorf("version byte %#x is not a multi-recipient message", b[0])
	}
	count, n := protowire.ConsumeVarint(b[1:])
	if n < 0 {
		return nil, v2Errorf("bad recipient count")
	}
	if count > uint64(maxRecipients) {
		return nil, v2Errorf("%d recipients; at most %d are accepted", count, maxRecipients)
	}
	p := parser{b: b, at: 1 + n}
	index := make(map[serviceid.ID]int, count)
	for range count {
		id, devices, km, err := p.recipient(msg.Version)
		if err != nil {
			return nil, err
		}
		i, dup := index[id]
		switch {
		case dup && (devices == nil || i < 0):
			return nil, v2Errorf("recipient %s named again with an excluded entry", id)
		case dup:
			msg.Recipients[i].Devices = append(msg.Recipients[i].Devices, devices...)
		case devices == nil:
			index[id] = -1
			msg.Excluded = append(msg.Excluded, id)
		default:
			index[id] = len(msg.Recipients)
			msg.Recipients = append(msg.Recipients, SentRecipient{ServiceID: id, Devices: devices, KeyMaterial: km})
		}
	}
	if len(b)-p.at < v2PublicSize {
		return nil, v2Errorf("the message ends before its ephemeral key")
	}
	msg.shared = b[p.at:]
	return msg, nil
}

// parser walks a SentMessage.
type parser struct {
	b  []byte
	at int
}

func (p *parser) take(n int) ([]byte, error) {
	if len(p.b)-p.at < n {
		return nil, v2Errorf("the message ends inside a recipient")
	}
	s := p.b[p.at : p.at+n : p.at+n]
	p.at += n
	return s, nil
}

// recipient reads one entry; devices is nil for an excluded recipient.
func (p *parser) recipient(version byte) (serviceid.ID, []Device, []byte, error) {
	var id serviceid.ID
	if version == V2ReceivedVersion {
		u, err := p.take(16)
		if err != nil {
			return id, nil, nil, err
		}
		copy(id[1:], u)
	} else {
		raw, err := p.take(serviceid.Size)
		if err != nil {
			return id, nil, nil, err
		}
		var ok bool
		if id, ok = serviceid.FromBinary(raw); !ok {
			return id, nil, nil, v2Errorf("a recipient's service ID has unknown kind %d", raw[0])
		}
	}
	var devices []Device
	for {
		d, err := p.take(1)
		if err != nil {
			return id, nil, nil, err
		}
		if d[0] == 0 {
			if devices != nil {
				return id, nil, nil, v2Errorf("device ID 0 inside %s's device list", id)
			}
			return id, nil, nil, nil
		}
		if d[0] > MaxDeviceID {
			return id, nil, nil, v2Errorf("device ID %d of %s is not 1..127", d[0], id)
		}
		reg, err := p.take(2)
		if err != nil {
			return id, nil, nil, err
		}
		r := binary.BigEndian.Uint16(reg)
		devices = append(devices, Device{ID: uint32(d[0]), RegistrationID: uint32(r & MaxV2RegistrationID)})
		if r&0x8000 == 0 {
			break
		}
	}
	km, err := p.take(V2KeyMaterialSize)
	return id, devices, km, err
}

// Received returns the ReceivedMessage for r, one of m.Recipients: what the
// server delivers to each of r's devices.
func (m *SentMessage) Received(r *SentRecipient) []byte {
	out := make([]byte, 0, 1+len(r.KeyMaterial)+len(m.shared))
	out = append(out, V2ReceivedVersion)
	out = append(out, r.KeyMaterial...)
	return append(out, m.shared...)
}

// SharedSize is the length of the part every recipient receives alike (E
// and the shared ciphertext).
func (m *SentMessage) SharedSize() int { return len(m.shared) }

// Recipient returns the recipient entry of id, or nil.
func (m *SentMessage) Recipient(id serviceid.ID) *SentRecipient {
	for i := range m.Recipients {
		if m.Recipients[i].ServiceID == id {
			return &m.Recipients[i]
		}
	}
	return nil
}

func (d Device) String() string { return fmt.Sprintf("%d (registration %d)", d.ID, d.RegistrationID) }
