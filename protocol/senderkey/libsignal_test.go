package senderkey

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/skymsg/sky/internal/testvec"
	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/internal/cbc"
	"github.com/skymsg/sky/protocol/internal/errs"
)

// vectors is testdata/libsignal-vectors.json, made by libsignal 0.103.0
// (testdata/libsignal.js; see testdata/README.md).
type vectors struct {
	DistributionID string      `json:"distribution_id"`
	SKDM           testvec.Hex `json:"skdm"`
	ChainID        uint32      `json:"chain_id"`
	ChainKey       testvec.Hex `json:"chain_key"`
	Messages       []struct {
		Plaintext testvec.Hex `json:"plaintext"`
		Message   testvec.Hex `json:"message"`
	} `json:"messages"`
	SKDMAfter testvec.Hex `json:"skdm_after"`
	Fixed     struct {
		ChainKey       testvec.Hex `json:"chain_key"`
		SigningPrivate testvec.Hex `json:"signing_private"`
		SigningPublic  testvec.Hex `json:"signing_public"`
		SKDM           testvec.Hex `json:"skdm"`
		SKM            testvec.Hex `json:"skm"`
	} `json:"fixed"`
}

func loadVectors(t testing.TB) *vectors {
	t.Helper()
	var v vectors
	testvec.Load(t, "testdata/libsignal-vectors.json", &v)
	return &v
}

// TestLibsignalEncodings compares Sky's encodings with libsignal's for the
// same inputs: the whole distribution message, and a group message up to
// its (randomized) signature.
func TestLibsignalEncodings(t *testing.T) {
	v := loadVectors(t)
	id, err := ParseDistributionID(v.DistributionID)
	if err != nil {
		t.Fatal(err)
	}
	signing, err := curve.ParsePrivateKey(v.Fixed.SigningPrivate)
	if err != nil {
		t.Fatal(err)
	}
	d := &DistributionMessage{DistributionID: id, ChainID: 0x12345678, Iteration: 0x0abcdef0, SigningKey: signing.PublicKey()}
	copy(d.ChainKey[:], v.Fixed.ChainKey)
	if !bytes.Equal(d.Bytes(), v.Fixed.SKDM) {
		t.Errorf("distribution message\n%x\nlibsignal's\n%x", d.Bytes(), v.Fixed.SKDM)
	}
	m := newMessage(id, 0x7fffffff, 300, []byte("sixteen byte ct!"), signing)
	n := len(m.Bytes()) - SignatureSize
	if !bytes.Equal(m.Bytes()[:n], v.Fixed.SKM[:n]) || len(m.Bytes()) != len(v.Fixed.SKM) {
		t.Errorf("group message\n%x\nlibsignal's\n%x", m.Bytes(), v.Fixed.SKM)
	}
	lm, err := ParseMessage(v.Fixed.SKM)
	if err != nil {
		t.Fatal(err)
	}
	if !lm.verify(signing.PublicKey()) || lm.ChainID != 0x7fffffff || lm.Iteration != 300 || string(lm.Ciphertext) != "sixteen byte ct!" || lm.DistributionID != id {
		t.Errorf("libsignal's group message reads %+v", lm)
	}
	if !m.verify(signing.PublicKey()) {
		t.Error("Sky's signature does not verify")
	}
}

// TestLibsignalChain reads libsignal's distribution message, derives every
// message key from its chain key and encrypts each plaintext to exactly
// libsignal's ciphertext; then decrypts libsignal's 40 messages shuffled,
// refuses them again as duplicates, and reads the re-created distribution
// message at iteration 40.
func TestLibsignalChain(t *testing.T) {
	v := loadVectors(t)
	d, err := ParseDistributionMessage(v.SKDM)
	if err != nil {
		t.Fatal(err)
	}
	if d.DistributionID.String() != v.DistributionID || d.ChainID != v.ChainID || d.Iteration != 0 ||
		!bytes.Equal(d.ChainKey[:], v.ChainKey) || !bytes.Equal(d.Bytes(), v.SKDM) {
		t.Fatalf("distribution message reads %v", d)
	}
	c := chainKey{seed: d.ChainKey}
	for i, lm := range v.Messages {
		m, err := ParseMessage(lm.Message)
		if err != nil {
			t.Fatal(err)
		}
		if m.Iteration != uint32(i) || m.ChainID != d.ChainID || m.DistributionID != d.DistributionID || !m.verify(d.SigningKey) {
			t.Fatalf("message %d: iteration %d chain %d, signature ok %v", i, m.Iteration, m.ChainID, m.verify(d.SigningKey))
		}
		iv, key := c.messageKey().keys()
		ct, err := cbc.Encrypt(nil, key, iv, lm.Plaintext)
		if err != nil || !bytes.Equal(ct, m.Ciphertext) {
			t.Fatalf("message %d: Sky's ciphertext\n%x\nlibsignal's\n%x", i, ct, m.Ciphertext)
		}
		c, _ = c.next()
	}

	r := NewRecord()
	r.Process(d)
	order := rand.New(rand.NewPCG(1, 2)).Perm(len(v.Messages))
	for _, i := range order {
		m, _ := ParseMessage(v.Messages[i].Message)
		pt, err := r.Decrypt(m)
		if err != nil || !bytes.Equal(pt, v.Messages[i].Plaintext) {
			t.Fatalf("libsignal message %d: %v", i, err)
		}
	}
	for _, i := range order[:5] {
		m, _ := ParseMessage(v.Messages[i].Message)
		if _, err := r.Decrypt(m); !errors.Is(err, errs.DuplicateMessage) {
			t.Fatalf("libsignal message %d again: %v", i, err)
		}
	}
	after, err := ParseDistributionMessage(v.SKDMAfter)
	if err != nil || after.Iteration != uint32(len(v.Messages)) || after.ChainID != d.ChainID || after.SigningKey != d.SigningKey {
		t.Fatalf("re-created distribution message: %v %v", after, err)
	}
	if after.ChainKey != c.seed {
		t.Fatal("the re-created distribution message's chain key is not the chain's key at iteration 40")
	}
}
