package server

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"fmt"
)

// idCodec turns store sequence numbers into the opaque 16-byte message IDs
// clients see, and back. The store's sequence is global, so handing it out
// as is would tell every recipient how much traffic the server carries; an
// ID is instead one AES block, seq‖0⁶⁴, encrypted under a key kept in the
// store (so every node and every restart agrees). It is a permutation, so
// IDs stay unique and stable; an ID that does not decrypt to eight zero
// bytes was never issued and is ignored.
type idCodec struct {
	block cipher.Block
}

func newIDCodec(key []byte) (*idCodec, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("message ID key: %w", err)
	}
	return &idCodec{block: b}, nil
}

// encodeTo writes the ID of seq into out, without allocating.
func (c *idCodec) encodeTo(out *[16]byte, seq uint64) {
	var p [16]byte
	binary.BigEndian.PutUint64(p[:8], seq)
	c.block.Encrypt(out[:], p[:])
}

func (c *idCodec) decode(id []byte) (uint64, bool) {
	if len(id) != 16 {
		return 0, false
	}
	var p [16]byte
	c.block.Decrypt(p[:], id)
	if binary.BigEndian.Uint64(p[8:]) != 0 {
		return 0, false
	}
	return binary.BigEndian.Uint64(p[:8]), true
}
