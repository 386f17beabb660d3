package envelope

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
)

// KeySize is the size of every key in the store: data keys, key-encryption
// keys and per-message keys.
const KeySize = 32

// Key is a 32-byte secret key. It never shows its bytes when formatted with
// fmt (any verb); call Zero when it is no longer needed.
//
// fmt cannot call the methods of a value in an unexported struct field, and
// on a verb it cannot apply it prints such a field raw. A struct that keeps a
// Key in a field therefore keeps a *Key (printed as an address), as Sealer,
// Index and the store do.
type Key [KeySize]byte

// NewKey returns a fresh random key from crypto/rand.
func NewKey() Key {
	var k Key
	if _, err := rand.Read(k[:]); err != nil {
		panic("envelope: crypto/rand failed: " + err.Error())
	}
	return k
}

// KeyFrom copies b, which must be KeySize bytes long, into a Key.
func KeyFrom(b []byte) (Key, bool) {
	var k Key
	if len(b) != KeySize {
		return k, false
	}
	copy(k[:], b)
	return k, true
}

// Zero overwrites the key with zeros.
func (k *Key) Zero() { clear(k[:]) }

// IsZero reports whether every byte of the key is zero.
func (k *Key) IsZero() bool { return *k == Key{} }

// String, GoString and Format redact the key for every fmt verb.
func (k Key) String() string                { return "envelope.Key{redacted}" }
func (k Key) GoString() string              { return k.String() }
func (k Key) Format(f fmt.State, verb rune) { fmt.Fprint(f, k.String()) }

// Derived is the pair of working keys the store derives from its data key:
// one seals values, the other keys the lookup hashes. Keeping them apart means
// a hash never doubles as an encryption key.
type Derived struct {
	Seal  Key
	Index Key
}

// Derive computes the working keys of a data key with HKDF-SHA256.
func Derive(dataKey *Key) Derived {
	var d Derived
	d.Seal = expand(dataKey, "sky store v1: value sealing key")
	d.Index = expand(dataKey, "sky store v1: lookup index key")
	return d
}

// Zero overwrites both working keys.
func (d *Derived) Zero() {
	d.Seal.Zero()
	d.Index.Zero()
}

// String, GoString and Format redact the keys for every fmt verb.
func (d Derived) String() string                { return "envelope.Derived{redacted}" }
func (d Derived) GoString() string              { return d.String() }
func (d Derived) Format(f fmt.State, verb rune) { fmt.Fprint(f, d.String()) }

func expand(k *Key, info string) Key {
	b, err := hkdf.Key(sha256.New, k[:], nil, info, KeySize)
	if err != nil {
		panic("envelope: hkdf: " + err.Error())
	}
	out, _ := KeyFrom(b)
	clear(b)
	return out
}
