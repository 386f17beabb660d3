// Package wire is Sky's client–server protocol: protobuf Frames (generated
// from sky.proto) carried as binary WebSocket messages, plus the small rules
// both sides must agree on: the protocol version, size limits, the bytes a
// device signs to authenticate, and errors usable with errors.Is.
//
// The protocol is documented in docs/protocol.md.
package wire

import (
	"encoding/binary"
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"
)

// Version is the protocol version this package speaks.
const Version = 1

// Path is the HTTP path of the WebSocket endpoint.
const Path = "/v1/websocket"

// Limits every client and server agree on.
const (
	// MaxMessageBytes is the largest Send.content.
	MaxMessageBytes = 256 << 10
	// MaxClientFrameBytes is the largest frame a client may send: a full
	// message plus room for the request around it. Servers refuse larger
	// frames from the length in the frame header, before reading them.
	MaxClientFrameBytes = MaxMessageBytes + 8<<10
	// MaxServerFrameBytes is the largest frame a server sends (a Push of
	// several envelopes); clients should accept frames this large.
	MaxServerFrameBytes = 1 << 20
	// MaxPushEnvelopes is the most envelopes one Push frame may hold; a
	// client refuses a larger one before decoding it.
	MaxPushEnvelopes = 1024
	// MaxPreKeysPerUpload caps the one-time prekeys (both kinds together)
	// in one UploadPreKeys.
	MaxPreKeysPerUpload = 100
	// MaxPreKeyBytes and MaxSignatureBytes bound each key blob.
	MaxPreKeyBytes    = 2048
	MaxSignatureBytes = 128
	// MaxIdentityKeyBytes bounds Register.identity_key.
	MaxIdentityKeyBytes = 128
	// ChallengeBytes is the length of Welcome.challenge.
	ChallengeBytes = 32
	// MessageIDBytes is the length of Envelope.id.
	MessageIDBytes = 16
	// MaxAcksPerRequest caps Ack.ids.
	MaxAcksPerRequest = 1024
	// MaxAccountIDBytes bounds account IDs in requests.
	MaxAccountIDBytes = 64
)

// ErrMalformed is returned (wrapped) by Decode for bytes that are not one
// well-formed Frame.
var ErrMalformed = errors.New("wire: malformed frame")

// Encode marshals f.
func Encode(f *Frame) ([]byte, error) {
	return proto.Marshal(f)
}

// Decode unmarshals one frame of at most limit bytes and checks that exactly
// one body is set. It never panics, whatever b holds.
func Decode(b []byte, limit int) (*Frame, error) {
	if len(b) > limit {
		return nil, fmt.Errorf("%w: %d bytes is over the limit of %d", ErrMalformed, len(b), limit)
	}
	f := new(Frame)
	if err := (proto.UnmarshalOptions{RecursionLimit: 16}).Unmarshal(b, f); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if f.Body == nil {
		return nil, fmt.Errorf("%w: no body", ErrMalformed)
	}
	return f, nil
}

const (
	authContext     = "sky/v1 authenticate\x00"
	registerContext = "sky/v1 register\x00"
)

// AuthSignedData is what a device signs, with its Ed25519 authentication
// key, to authenticate on a connection whose Welcome carried challenge. The
// challenge is fresh per connection, so a signature cannot be replayed.
func AuthSignedData(challenge []byte, account string, device uint32) []byte {
	b := make([]byte, 0, len(authContext)+len(challenge)+4+len(account)+4)
	b = append(b, authContext...)
	b = append(b, challenge...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(account)))
	b = append(b, account...)
	return binary.BigEndian.AppendUint32(b, device)
}

// RegisterSignedData is what a new device signs to register on a
// connection whose Welcome carried challenge, proving it holds the private
// half of authKey.
func RegisterSignedData(challenge, authKey, identityKey []byte, registrationID uint32) []byte {
	b := make([]byte, 0, len(registerContext)+len(challenge)+len(authKey)+4+len(identityKey)+4)
	b = append(b, registerContext...)
	b = append(b, challenge...)
	b = append(b, authKey...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(identityKey)))
	b = append(b, identityKey...)
	return binary.BigEndian.AppendUint32(b, registrationID)
}
