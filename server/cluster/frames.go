package cluster

import (
	"crypto/cipher"
	"encoding/binary"
	"errors"

	"github.com/skymsg/sky/server/store"
)

// What the nodes send each other. Every payload starts with a version byte,
// then the sending node's random ID; devices appear only as tokens.
//
//	wake:     1 ‖ node(8) ‖ token(16)…   (no token: every connection)
//	alive:    1 ‖ node(8)
//	presence: 1 ‖ node(8) ‖ kind(1) ‖ token(16)
const (
	frameVersion  = 1
	nodeIDLen     = 8
	tokenLen      = 16
	headerLen     = 1 + nodeIDLen
	presenceLen   = headerLen + 1 + tokenLen
	maxWakeTokens = 4096 // tokens per wake message (64 KiB)
)

// Presence kinds.
const (
	kindConnected      = 1 // a device authenticated on the sending node
	kindAccountDeleted = 2 // the account (token with device 0) was deleted
)

// errFrame is returned for a payload that is not a well-formed frame of
// this version; such payloads are dropped.
var errFrame = errors.New("cluster: malformed message from another node")

// nodeID names one running skyd process; fresh random bytes at every start.
type nodeID [nodeIDLen]byte

// token is a device address encrypted under the cluster's address key: the
// nodes can map it back, NATS and anyone watching it cannot.
type token [tokenLen]byte

// maxAccountLen is the longest account ID a token holds. Sky's IDs are 10.
const maxAccountLen = tokenLen - 1 - 4

// sealer makes and opens tokens: one AES block holding
// len(account) ‖ account ‖ zero padding ‖ u32(device).
type sealer struct{ b cipher.Block }

// seal returns a's token; false if the account ID is too long to fit.
func (s sealer) seal(a store.Address) (token, bool) {
	var p, t token
	if len(a.Account) == 0 || len(a.Account) > maxAccountLen {
		return t, false
	}
	p[0] = byte(len(a.Account))
	copy(p[1:], a.Account)
	binary.BigEndian.PutUint32(p[tokenLen-4:], a.Device)
	s.b.Encrypt(t[:], p[:])
	return t, true
}

// open returns the address in t; false if t was not made by seal under
// this key.
func (s sealer) open(t token) (store.Address, bool) {
	var p token
	s.b.Decrypt(p[:], t[:])
	n := int(p[0])
	if n == 0 || n > maxAccountLen {
		return store.Address{}, false
	}
	for _, b := range p[1+n : tokenLen-4] {
		if b != 0 {
			return store.Address{}, false
		}
	}
	return store.Address{Account: string(p[1 : 1+n]), Device: binary.BigEndian.Uint32(p[tokenLen-4:])}, true
}

func header(from nodeID, extra int) []byte {
	b := make([]byte, headerLen, headerLen+extra)
	b[0] = frameVersion
	copy(b[1:], from[:])
	return b
}

// parseHeader checks the version and returns the sender and the rest.
func parseHeader(b []byte) (nodeID, []byte, error) {
	var id nodeID
	if len(b) < headerLen || b[0] != frameVersion {
		return id, nil, errFrame
	}
	copy(id[:], b[1:headerLen])
	return id, b[headerLen:], nil
}

func encodeWake(from nodeID, toks []token) []byte {
	b := header(from, len(toks)*tokenLen)
	for _, t := range toks {
		b = append(b, t[:]...)
	}
	return b
}

// decodeWake returns the sender and the tokens; no tokens means "every
// connection".
func decodeWake(b []byte) (nodeID, []token, error) {
	from, rest, err := parseHeader(b)
	if err != nil {
		return from, nil, err
	}
	if len(rest)%tokenLen != 0 || len(rest)/tokenLen > maxWakeTokens {
		return from, nil, errFrame
	}
	toks := make([]token, len(rest)/tokenLen)
	for i := range toks {
		copy(toks[i][:], rest[i*tokenLen:])
	}
	return from, toks, nil
}

func encodeAlive(from nodeID) []byte { return header(from, 0) }

func decodeAlive(b []byte) (nodeID, error) {
	from, rest, err := parseHeader(b)
	if err == nil && len(rest) != 0 {
		err = errFrame
	}
	return from, err
}

// announcement is one presence message.
type announcement struct {
	from nodeID
	kind byte
	tok  token
}

func (a announcement) encode() []byte {
	b := header(a.from, presenceLen-headerLen)
	b = append(b, a.kind)
	return append(b, a.tok[:]...)
}

func decodeAnnouncement(b []byte) (announcement, error) {
	var a announcement
	from, rest, err := parseHeader(b)
	if err != nil {
		return a, err
	}
	if len(b) != presenceLen || (rest[0] != kindConnected && rest[0] != kindAccountDeleted) {
		return a, errFrame
	}
	a.from, a.kind = from, rest[0]
	copy(a.tok[:], rest[1:])
	return a, nil
}
