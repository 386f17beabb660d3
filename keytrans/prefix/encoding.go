package prefix

import (
	"encoding/binary"
	"errors"
)

// Proof encoding: depth (2 bytes, big-endian, at most 256); a bitmap of
// ceil(depth/8) bytes, most significant bit first, with a 1 for each
// sibling that is not empty (unused bits zero); those siblings, 32 bytes
// each; then 0x00 for an empty end or 0x01, key, version (4 bytes),
// commitment for a leaf. Empty siblings cost one bit, so a proof in a tree
// of n random keys is about 32·log2(n) bytes.

var errEncoding = errors.New("prefix: malformed proof encoding")

// LeafSize is the encoded size of a leaf.
const LeafSize = 32 + 4 + 32

// AppendLeaf appends the leaf's encoding: key, version, commitment.
func AppendLeaf(b []byte, l *Leaf) []byte {
	b = append(b, l.Key[:]...)
	b = binary.BigEndian.AppendUint32(b, l.Version)
	return append(b, l.Commitment[:]...)
}

// DecodeLeaf reads exactly LeafSize bytes.
func DecodeLeaf(b []byte) (*Leaf, error) {
	if len(b) != LeafSize {
		return nil, errEncoding
	}
	l := &Leaf{Version: binary.BigEndian.Uint32(b[32:])}
	copy(l.Key[:], b)
	copy(l.Commitment[:], b[36:])
	return l, nil
}

// Encode returns the proof's compact encoding.
func (p *Proof) Encode() []byte {
	d := len(p.Siblings)
	b := binary.BigEndian.AppendUint16(nil, uint16(d))
	bitmap := make([]byte, (d+7)/8)
	for i, s := range p.Siblings {
		if s != (Hash{}) {
			bitmap[i/8] |= 0x80 >> (i % 8)
		}
	}
	b = append(b, bitmap...)
	for _, s := range p.Siblings {
		if s != (Hash{}) {
			b = append(b, s[:]...)
		}
	}
	if p.Terminal == nil {
		return append(b, 0)
	}
	return AppendLeaf(append(b, 1), p.Terminal)
}

// DecodeProof reads what Encode wrote and nothing else: the one encoding
// of each proof, with no byte left over.
func DecodeProof(b []byte) (*Proof, error) {
	if len(b) < 2 {
		return nil, errEncoding
	}
	d := int(binary.BigEndian.Uint16(b))
	b = b[2:]
	if d > MaxDepth || len(b) < (d+7)/8 {
		return nil, errEncoding
	}
	bitmap := b[:(d+7)/8]
	b = b[len(bitmap):]
	if d%8 != 0 && bitmap[len(bitmap)-1]&(0xFF>>(d%8)) != 0 {
		return nil, errEncoding
	}
	p := &Proof{Siblings: make([]Hash, d)}
	for i := range d {
		if bitmap[i/8]&(0x80>>(i%8)) == 0 {
			continue
		}
		if len(b) < 32 {
			return nil, errEncoding
		}
		copy(p.Siblings[i][:], b)
		b = b[32:]
		if p.Siblings[i] == (Hash{}) {
			return nil, errEncoding
		}
	}
	switch {
	case len(b) == 1 && b[0] == 0:
		return p, nil
	case len(b) == 1+LeafSize && b[0] == 1:
		l, _ := DecodeLeaf(b[1:])
		p.Terminal = l
		return p, nil
	}
	return nil, errEncoding
}
