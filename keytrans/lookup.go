package keytrans

import (
	"errors"

	"github.com/skymsg/sky/keytrans/prefix"
	"github.com/skymsg/sky/keytrans/vrf"
)

// MaxValueSize bounds a directory value (an identity key is 33 bytes; a
// device-list head will fit too).
const MaxValueSize = 1024

// ErrLookup says that a lookup proof does not show what it claims.
var ErrLookup = errors.New("keytrans: the directory's lookup proof does not verify")

// Index returns where account's entry sits and the VRF proof of it.
func Index(k *vrf.PrivateKey, account string) (prefix.Key, [vrf.ProofSize]byte) {
	beta, pi := k.Evaluate([]byte(account))
	var key prefix.Key
	copy(key[:], beta[:])
	return key, pi
}

// A Lookup is the directory's answer for one account at one head: the VRF
// proof of where its entry sits, the prefix-tree proof of what is there,
// and, if the entry exists, the value and the opening of its commitment.
type Lookup struct {
	VRFProof [vrf.ProofSize]byte
	Proof    *prefix.Proof
	Opening  [OpeningSize]byte
	Value    []byte
}

// An Entry is what a verified lookup shows: the account's current value
// and how many values it has had.
type Entry struct {
	Version uint32
	Value   []byte
}

// VerifyLookup checks l for account against head h of the directory
// certified by c, and returns the entry, or nil if the directory proves the
// account has none.
func VerifyLookup(c *DirectoryCertificate, h *Head, account string, l *Lookup) (*Entry, error) {
	beta, err := c.VRFKey.Verify([]byte(account), l.VRFProof[:])
	if err != nil {
		return nil, errors.Join(ErrLookup, err)
	}
	var key prefix.Key
	copy(key[:], beta[:])
	leaf, err := prefix.Verify(h.PrefixRoot, key, l.Proof)
	if err != nil {
		return nil, errors.Join(ErrLookup, err)
	}
	if leaf == nil {
		if l.Value != nil {
			return nil, errors.Join(ErrLookup, errors.New("a value for an absent entry"))
		}
		return nil, nil
	}
	if !OpensTo(leaf.Commitment, l.Opening, key[:], l.Value) {
		return nil, errors.Join(ErrLookup, errors.New("the value is not the one committed to"))
	}
	return &Entry{Version: leaf.Version, Value: l.Value}, nil
}

// Encode: VRF proof, 2-byte length and prefix proof, then 0x00 (no entry)
// or 0x01, opening, 2-byte length and value.
func (l *Lookup) Encode() []byte {
	b := append([]byte(nil), l.VRFProof[:]...)
	b = appendVBytes(b, l.Proof.Encode())
	if l.Value == nil {
		return append(b, 0)
	}
	b = append(b, 1)
	b = append(b, l.Opening[:]...)
	return appendVBytes(b, l.Value)
}

// maxPrefixProof is the largest prefix proof encoding.
const maxPrefixProof = 2 + 32 + 32*prefix.MaxDepth + 1 + prefix.LeafSize

// DecodeLookup reads what Encode wrote.
func DecodeLookup(b []byte) (*Lookup, error) {
	r := &reader{b: b, what: "lookup proof"}
	l := &Lookup{}
	r.fixed(l.VRFProof[:])
	pb := r.vbytes(maxPrefixProof)
	switch r.u8() {
	case 0:
	case 1:
		r.fixed(l.Opening[:])
		l.Value = r.vbytes(MaxValueSize)
		if l.Value == nil && r.err == nil {
			l.Value = []byte{}
		}
	default:
		r.fail("unknown entry flag")
	}
	if err := r.done(); err != nil {
		return nil, err
	}
	var err error
	if l.Proof, err = prefix.DecodeProof(pb); err != nil {
		return nil, errors.Join(ErrMalformed, err)
	}
	return l, nil
}
