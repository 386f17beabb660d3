package keytrans

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
)

// OpeningSize is the size of a commitment's random opening.
const OpeningSize = 16

// commitKey is the fixed public HMAC key of commitments; the hiding comes
// from the opening, the binding from HMAC-SHA-256's collision resistance.
var commitKey = sha256.Sum256([]byte("Sky key transparency commitment v1"))

// Commit returns a commitment to value under label (the entry's key, the
// VRF output that stands for the account ID) and its random opening. Without the opening the commitment says nothing about
// the value.
func Commit(label, value []byte) (c [32]byte, opening [OpeningSize]byte) {
	if _, err := rand.Read(opening[:]); err != nil {
		panic("keytrans: crypto/rand failed: " + err.Error())
	}
	return commitWith(opening[:], label, value), opening
}

func commitWith(opening, label, value []byte) [32]byte {
	m := hmac.New(sha256.New, commitKey[:])
	m.Write(opening)
	m.Write(binary.BigEndian.AppendUint32(nil, uint32(len(label))))
	m.Write(label)
	m.Write(binary.BigEndian.AppendUint32(nil, uint32(len(value))))
	m.Write(value)
	var c [32]byte
	m.Sum(c[:0])
	return c
}

// OpensTo reports, in constant time, whether c commits to value under label
// with opening.
func OpensTo(c [32]byte, opening [OpeningSize]byte, label, value []byte) bool {
	want := commitWith(opening[:], label, value)
	return hmac.Equal(c[:], want[:])
}
