package keytrans

import (
	"encoding/binary"
	"errors"

	"github.com/skymsg/sky/keytrans/logtree"
	"github.com/skymsg/sky/protocol/curve"
)

// HeadSize is the encoded size of a Head, SignedHeadSize of a SignedHead.
const (
	HeadSize       = 8 + 8 + 32 + 32
	SignedHeadSize = HeadSize + 4 + curve.SignatureSize
	auditSigSize   = curve.PublicKeySize + curve.SignatureSize
)

var (
	headContext  = []byte("Sky key directory head v1\x00")
	auditContext = []byte("Sky key directory audit v1\x00")
)

// A Head is the state of the directory after an epoch: Size epochs in the
// log, whose root is LogRoot; the last epoch's time (milliseconds since
// 1970) and prefix-tree root, which is also the log's last leaf.
type Head struct {
	Size       uint64
	TimeMillis uint64
	LogRoot    [32]byte
	PrefixRoot [32]byte
}

// Encode returns the head's HeadSize bytes.
func (h *Head) Encode() []byte {
	b := binary.BigEndian.AppendUint64(nil, h.Size)
	b = binary.BigEndian.AppendUint64(b, h.TimeMillis)
	b = append(b, h.LogRoot[:]...)
	return append(b, h.PrefixRoot[:]...)
}

func (h *Head) read(r *reader) {
	h.Size = r.u64()
	h.TimeMillis = r.u64()
	r.fixed(h.LogRoot[:])
	r.fixed(h.PrefixRoot[:])
}

// DecodeHead reads what Encode wrote.
func DecodeHead(b []byte) (*Head, error) {
	r := &reader{b: b, what: "tree head"}
	h := &Head{}
	h.read(r)
	return h, r.done()
}

// EpochLeaf is the log leaf of epoch number n: n, its time, its prefix root.
func EpochLeaf(n, timeMillis uint64, prefixRoot [32]byte) logtree.Hash {
	b := binary.BigEndian.AppendUint64(nil, n)
	b = binary.BigEndian.AppendUint64(b, timeMillis)
	return logtree.LeafHash(append(b, prefixRoot[:]...))
}

// A SignedHead is a head signed by the directory key with ID KeyID.
type SignedHead struct {
	Head
	KeyID     uint32
	Signature [curve.SignatureSize]byte
}

// SignHead signs h with the directory's signing key.
func SignHead(h Head, keyID uint32, key curve.PrivateKey) *SignedHead {
	return &SignedHead{Head: h, KeyID: keyID, Signature: key.Sign(headContext, h.Encode())}
}

// Verify checks the signature with the certified key.
func (s *SignedHead) Verify(c *DirectoryCertificate) error {
	if s.KeyID != c.KeyID || !c.SigningKey.Verify(s.Signature[:], headContext, s.Head.Encode()) {
		return errors.Join(ErrUntrustedDirectory, errors.New("the tree head's signature is not the directory's"))
	}
	if s.Size == 0 {
		return errors.Join(ErrMalformed, errors.New("a signed head of an empty log"))
	}
	return nil
}

// Encode returns the SignedHeadSize bytes.
func (s *SignedHead) Encode() []byte {
	b := s.Head.Encode()
	b = binary.BigEndian.AppendUint32(b, s.KeyID)
	return append(b, s.Signature[:]...)
}

// DecodeSignedHead reads what Encode wrote.
func DecodeSignedHead(b []byte) (*SignedHead, error) {
	r := &reader{b: b, what: "signed tree head"}
	s := &SignedHead{}
	s.Head.read(r)
	s.KeyID = r.u32()
	r.fixed(s.Signature[:])
	return s, r.done()
}

// An AuditorSignature is an auditor's statement that it checked every
// epoch up to a head and found the log append-only and well-formed.
type AuditorSignature struct {
	Key       curve.PublicKey
	Signature [curve.SignatureSize]byte
}

// Countersign signs h as an auditor.
func Countersign(h *Head, key curve.PrivateKey) *AuditorSignature {
	return &AuditorSignature{Key: key.PublicKey(), Signature: key.Sign(auditContext, h.Encode())}
}

// ErrNotAudited says that a head lacks the countersignature of a required
// auditor.
var ErrNotAudited = errors.New("keytrans: the tree head is not countersigned by the required auditor")

// Verify checks that the auditor with key signed h.
func (a *AuditorSignature) Verify(h *Head, key curve.PublicKey) error {
	if a.Key != key || !key.Verify(a.Signature[:], auditContext, h.Encode()) {
		return ErrNotAudited
	}
	return nil
}

// Encode returns the auditor's key then its signature.
func (a *AuditorSignature) Encode() []byte {
	return append(a.Key.AppendBytes(nil), a.Signature[:]...)
}

// DecodeAuditorSignature reads what Encode wrote.
func DecodeAuditorSignature(b []byte) (*AuditorSignature, error) {
	r := &reader{b: b, what: "auditor signature"}
	key := r.bytes(curve.PublicKeySize)
	a := &AuditorSignature{}
	r.fixed(a.Signature[:])
	if err := r.done(); err != nil {
		return nil, err
	}
	var err error
	if a.Key, err = curve.ParsePublicKey(key); err != nil {
		return nil, errors.Join(ErrMalformed, err)
	}
	return a, nil
}

// ErrInconsistent says that two heads cannot both be views of one
// append-only log: a fork or a rewritten history.
var ErrInconsistent = errors.New("keytrans: tree heads are inconsistent (the directory forked or rewrote its log)")

// VerifyConsistency checks that head newer extends head older, with a
// consistency proof from the directory. Heads are taken as already signed.
func VerifyConsistency(older, newer *Head, proof []logtree.Hash) error {
	if newer.Size < older.Size {
		return errors.Join(ErrInconsistent, errors.New("the newer head has fewer epochs"))
	}
	if newer.Size == older.Size && *newer != *older {
		return errors.Join(ErrInconsistent, errors.New("two different heads of the same size"))
	}
	if newer.Size > older.Size && newer.TimeMillis < older.TimeMillis {
		return errors.Join(ErrInconsistent, errors.New("a later epoch with an earlier time"))
	}
	if err := logtree.VerifyConsistency(older.Size, newer.Size, older.LogRoot, newer.LogRoot, proof); err != nil {
		return errors.Join(ErrInconsistent, err)
	}
	return nil
}
