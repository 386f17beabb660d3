// Package serviceid is libsignal's service ID: the name of an account as
// the protocol writes it, either an ACI (a bare hyphenated UUID) or a PNI
// ("PNI:" and a UUID), and its 17-byte fixed-width binary form (a kind byte,
// 0 ACI or 1 PNI, and the 16 UUID bytes) used in the addresses field of
// PreKey messages and in sealed sender v2.
package serviceid

import (
	"encoding/hex"
	"strings"
)

// Size is the length of the fixed-width binary form.
const Size = 17

// Kinds of service ID (the first byte of the binary form).
const (
	ACI = 0
	PNI = 1
)

// ID is a service ID in fixed-width binary form.
type ID [Size]byte

// Parse returns the service ID a name spells, as libsignal parses it: a
// hyphenated UUID (any case) is an ACI, "PNI:" followed by one is a PNI;
// anything else is not a service ID.
func Parse(name string) (ID, bool) {
	var out ID
	if rest, ok := strings.CutPrefix(name, "PNI:"); ok {
		out[0] = PNI
		name = rest
	}
	if len(name) != 36 || name[8] != '-' || name[13] != '-' || name[18] != '-' || name[23] != '-' {
		return out, false
	}
	hexDigits := name[0:8] + name[9:13] + name[14:18] + name[19:23] + name[24:36]
	if _, err := hex.Decode(out[1:], []byte(hexDigits)); err != nil {
		return out, false
	}
	return out, true
}

// FromBinary reads the fixed-width form; false for a kind other than ACI
// and PNI.
func FromBinary(b []byte) (ID, bool) {
	if len(b) != Size || b[0] > PNI {
		return ID{}, false
	}
	return ID(b), true
}

// String is the name form: the lower-case hyphenated UUID, prefixed by
// "PNI:" for a PNI.
func (id ID) String() string {
	h := hex.EncodeToString(id[1:])
	s := h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
	if id[0] == PNI {
		return "PNI:" + s
	}
	return s
}
