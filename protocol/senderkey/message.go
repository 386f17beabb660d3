package senderkey

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/internal/errs"
	"github.com/skymsg/sky/protocol/internal/pb"
	"github.com/skymsg/sky/protocol/internal/redact"
)

// Version is the sender-key message version, and VersionByte the first byte
// of both message types, (Version << 4) | Version. A receiver checks only
// the high nibble, as libsignal does.
const (
	Version     = 3
	VersionByte = Version<<4 | Version
)

// SignatureSize is the size of the XEdDSA signature that ends a Message.
const SignatureSize = curve.SignatureSize

// ChainKeySize is the size of a chain key.
const ChainKeySize = 32

// minDistributionSize is libsignal's lower bound on a distribution message:
// a version byte, a chain key and a public key's worth of bytes.
const minDistributionSize = 1 + 32 + 32

// DistributionID names a distribution: a group, or one sender's use of it.
// It is a UUID, carried as its 16 raw bytes.
type DistributionID [16]byte

// ParseDistributionID parses the hyphenated UUID form (any case).
func ParseDistributionID(s string) (DistributionID, error) {
	var id DistributionID
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return id, errs.Newf(errs.InvalidMessage, "distribution ID %q is not a hyphenated UUID", s)
	}
	if _, err := hex.Decode(id[:], []byte(strings.ReplaceAll(s, "-", ""))); err != nil {
		return id, errs.Newf(errs.InvalidMessage, "distribution ID %q is not a hyphenated UUID", s)
	}
	return id, nil
}

// String returns the lower-case hyphenated UUID.
func (id DistributionID) String() string {
	h := hex.EncodeToString(id[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// DistributionMessage hands a sender key to a group member (libsignal's
// SenderKeyDistributionMessage): 0x33 || {1: distribution UUID (16 bytes),
// 2: chain ID, 3: iteration, 4: chain key (32), 5: signing key (33)}. It
// carries the chain key at Iteration, so it must only travel encrypted; it
// redacts the chain key when formatted.
type DistributionMessage struct {
	DistributionID DistributionID
	ChainID        uint32
	Iteration      uint32
	ChainKey       [ChainKeySize]byte
	SigningKey     curve.PublicKey
}

// Bytes encodes m in libsignal's field order.
func (m *DistributionMessage) Bytes() []byte {
	b := make([]byte, 0, 1+18+12+34+35)
	b = append(b, VersionByte)
	b = pb.AppendBytes(b, 1, m.DistributionID[:])
	b = pb.AppendUint64(b, 2, uint64(m.ChainID))
	b = pb.AppendUint64(b, 3, uint64(m.Iteration))
	b = pb.AppendBytes(b, 4, m.ChainKey[:])
	return pb.AppendBytes(b, 5, m.SigningKey.Bytes())
}

// ParseDistributionMessage decodes a distribution message. All five fields
// are required, with the exact sizes above. Errors wrap
// protocol.ErrInvalidMessage.
func ParseDistributionMessage(b []byte) (*DistributionMessage, error) {
	if len(b) < minDistributionSize {
		return nil, invalidDistribution("%d bytes is too short", len(b))
	}
	if err := checkVersion(b[0]); err != nil {
		return nil, invalidDistribution("%s", err)
	}
	f, err := readFields(b[1:], 5)
	switch {
	case err != nil:
		return nil, invalidDistribution("%v", err)
	case len(f.bytes4) != ChainKeySize || len(f.bytes5) != curve.PublicKeySize:
		return nil, invalidDistribution("chain key or signing key missing or of the wrong size")
	}
	key, err := curve.ParsePublicKey(f.bytes5)
	if err != nil {
		return nil, invalidDistribution("signing key: %s", errs.Detail(err))
	}
	m := DistributionMessage{DistributionID: f.dist, ChainID: f.chainID, Iteration: f.iteration, SigningKey: key}
	copy(m.ChainKey[:], f.bytes4)
	return &m, nil
}

// Format prints m with its chain key redacted, whatever the verb.
func (m DistributionMessage) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "{DistributionID:%s ChainID:%d Iteration:%d ChainKey:%s SigningKey:%s}",
		m.DistributionID, m.ChainID, m.Iteration, redact.String("senderkey.ChainKey"), m.SigningKey)
}

// String redacts the chain key.
func (m DistributionMessage) String() string { return fmt.Sprint(m) }

// GoString redacts the chain key.
func (m DistributionMessage) GoString() string { return fmt.Sprint(m) }

// Message is a group message (libsignal's SenderKeyMessage): 0x33 ||
// {1: distribution UUID, 2: chain ID, 3: iteration, 4: ciphertext} ||
// signature, where the 64-byte XEdDSA signature covers every byte before it.
type Message struct {
	DistributionID DistributionID
	ChainID        uint32
	Iteration      uint32
	Ciphertext     []byte

	raw []byte // the whole message, signature last
}

// Bytes returns the encoded message.
func (m *Message) Bytes() []byte { return m.raw }

// newMessage encodes and signs a message.
func newMessage(id DistributionID, chainID, iteration uint32, ciphertext []byte, key curve.PrivateKey) *Message {
	b := make([]byte, 0, 1+18+12+3+len(ciphertext)+SignatureSize)
	b = append(b, VersionByte)
	b = pb.AppendBytes(b, 1, id[:])
	b = pb.AppendUint64(b, 2, uint64(chainID))
	b = pb.AppendUint64(b, 3, uint64(iteration))
	b = pb.AppendBytes(b, 4, ciphertext)
	sig := key.Sign(b)
	b = append(b, sig[:]...)
	return &Message{DistributionID: id, ChainID: chainID, Iteration: iteration, Ciphertext: b[len(b)-SignatureSize-len(ciphertext) : len(b)-SignatureSize], raw: b}
}

// ParseMessage decodes a group message; the signature is checked later,
// against the sender key (Record.Decrypt). All four fields are required.
// Errors wrap protocol.ErrInvalidMessage.
func ParseMessage(b []byte) (*Message, error) {
	if len(b) < 1+SignatureSize {
		return nil, invalidMessage("%d bytes is too short", len(b))
	}
	if err := checkVersion(b[0]); err != nil {
		return nil, invalidMessage("%s", err)
	}
	f, err := readFields(b[1:len(b)-SignatureSize], 4)
	switch {
	case err != nil:
		return nil, invalidMessage("%v", err)
	case f.bytes4 == nil:
		return nil, invalidMessage("ciphertext missing")
	}
	return &Message{DistributionID: f.dist, ChainID: f.chainID, Iteration: f.iteration,
		Ciphertext: append([]byte(nil), f.bytes4...), raw: append([]byte(nil), b...)}, nil
}

// fields are the protobuf fields of both message types: 1 distribution
// UUID, 2 chain ID, 3 iteration (all required), and the bytes fields 4 and 5.
type fields struct {
	dist               DistributionID
	chainID, iteration uint32
	bytes4, bytes5     []byte
}

// readFields reads fields 1..last of b and skips the others, as protobuf
// readers skip unknown fields.
func readFields(b []byte, last protowire.Number) (*fields, error) {
	var (
		f                        fields
		dist                     []byte
		hasChainID, hasIteration bool
	)
	r := pb.NewReader(b)
	for {
		num, ok := r.Next()
		if !ok {
			break
		}
		switch {
		case num > last:
			r.Skip(num)
		case num == 1:
			dist = r.Bytes()
		case num == 2:
			f.chainID, hasChainID = r.Uint32(), true
		case num == 3:
			f.iteration, hasIteration = r.Uint32(), true
		case num == 4:
			f.bytes4 = r.Bytes()
		case num == 5:
			f.bytes5 = r.Bytes()
		default:
			r.Skip(num)
		}
	}
	if r.Err() != nil {
		return nil, r.Err()
	}
	if len(dist) != len(f.dist) || !hasChainID || !hasIteration {
		return nil, errors.New("distribution ID, chain ID or iteration missing or malformed")
	}
	copy(f.dist[:], dist)
	return &f, nil
}

// verify reports whether the message is signed by key.
func (m *Message) verify(key curve.PublicKey) bool {
	n := len(m.raw) - SignatureSize
	return key.Verify(m.raw[n:], m.raw[:n])
}

// checkVersion accepts a version byte whose high nibble is Version.
func checkVersion(v byte) error {
	switch {
	case v>>4 < Version:
		return fmt.Errorf("legacy version %d is not supported", v>>4)
	case v>>4 > Version:
		return fmt.Errorf("unknown version %d", v>>4)
	}
	return nil
}
