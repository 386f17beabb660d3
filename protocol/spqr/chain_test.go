package spqr

import (
	"bytes"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/skymsg/sky/protocol/internal/errs"
)

// hkdfRef is RFC 5869 HKDF-SHA256 straight from crypto/hkdf, used as the
// independent reference for the chain KDFs.
func hkdfRef(t *testing.T, salt, ikm []byte, info string, n int) []byte {
	t.Helper()
	if salt == nil {
		salt = make([]byte, 32)
	}
	out, err := hkdf.Key(sha256.New, ikm, salt, info, n)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// refKeys computes the first n keys of one direction of the epoch-0 chain
// from the formulas of the interop reference (section 5.4).
func refKeys(t *testing.T, auth []byte, dir Direction, n int) [][32]byte {
	g := hkdfRef(t, nil, auth, "Signal PQ Ratchet V1 Chain  Start", 96)
	seed := g[32:64]
	if dir == B2A {
		seed = g[64:96]
	}
	var keys [][32]byte
	for ctr := uint32(1); ctr <= uint32(n); ctr++ {
		info := binary.BigEndian.AppendUint32(nil, ctr)
		o := hkdfRef(t, nil, seed, string(info)+"Signal PQ Ratchet V1 Chain Next", 64)
		seed = o[:32]
		keys = append(keys, [32]byte(o[32:]))
	}
	return keys
}

func TestChainMatchesReferenceKDFs(t *testing.T) {
	auth := bytes.Repeat([]byte{0x5A}, 32)
	for _, dir := range []Direction{A2B, B2A} {
		c := NewChain(auth, dir, Params{})
		want := refKeys(t, auth, dir, 5)
		for i, w := range want {
			idx, key, err := c.SendKey(0)
			if err != nil || idx != uint32(i+1) || key != w {
				t.Fatalf("dir %d key %d: index %d, match %v, %v", dir, i+1, idx, key == w, err)
			}
		}
	}
	// One space in the start label gives different keys: the label is exact.
	g := hkdfRef(t, nil, auth, "Signal PQ Ratchet V1 Chain Start", 96)
	if bytes.Equal(g[32:64], hkdfRef(t, nil, auth, labelStart, 96)[32:64]) {
		t.Fatal("labels with one and two spaces agree; test is vacuous")
	}
}

func TestAddEpochMatchesReference(t *testing.T) {
	auth := bytes.Repeat([]byte{1}, 32)
	secret := []byte("epoch one secret")
	a, b := NewChain(auth, A2B, Params{}), NewChain(auth, B2A, Params{})
	for _, c := range []*Chain{a, b} {
		if err := c.AddEpoch(1, secret); err != nil {
			t.Fatal(err)
		}
	}
	g0 := hkdfRef(t, nil, auth, labelStart, 96)
	g1 := hkdfRef(t, g0[:32], secret, "Signal PQ Ratchet V1 Chain Add Epoch", 96)
	info := binary.BigEndian.AppendUint32(nil, 1)
	want := hkdfRef(t, nil, g1[32:64], string(info)+labelNext, 64)[32:]
	idx, key, err := a.SendKey(1)
	if err != nil || idx != 1 || !bytes.Equal(key[:], want) {
		t.Fatalf("epoch 1 first A2B key: %d %v", idx, err)
	}
	got, err := b.RecvKey(1, 1)
	if err != nil || got != key {
		t.Fatalf("B2A side does not receive it: %v", err)
	}
	if err := a.AddEpoch(3, secret); !errors.Is(err, errs.InvalidState) {
		t.Errorf("skipping an epoch: %v", err)
	}
}

func TestDirectionsMatch(t *testing.T) {
	auth := bytes.Repeat([]byte{9}, 32)
	a, b := NewChain(auth, A2B, Params{}), NewChain(auth, B2A, Params{})
	for i := 0; i < 10; i++ {
		ia, ka, _ := a.SendKey(0)
		kb, err := b.RecvKey(0, ia)
		if err != nil || ka != kb {
			t.Fatalf("A2B key %d: %v", ia, err)
		}
		ib, kb2, _ := b.SendKey(0)
		ka2, err := a.RecvKey(0, ib)
		if err != nil || ka2 != kb2 {
			t.Fatalf("B2A key %d: %v", ib, err)
		}
		if ka == kb2 {
			t.Fatal("both directions give the same key")
		}
	}
}

func TestRecvOutOfOrderAndOnce(t *testing.T) {
	auth := bytes.Repeat([]byte{3}, 32)
	want := refKeys(t, auth, A2B, 50)
	c := NewChain(auth, B2A, Params{})
	order := []uint32{5, 1, 50, 2, 49, 3, 4, 10}
	for _, i := range order {
		k, err := c.RecvKey(0, i)
		if err != nil || k != want[i-1] {
			t.Fatalf("key %d: %v", i, err)
		}
	}
	for _, i := range order {
		if _, err := c.RecvKey(0, i); !errors.Is(err, errs.InvalidMessage) {
			t.Errorf("key %d a second time: %v", i, err)
		}
	}
	for _, i := range []uint32{6, 7, 8, 9, 11, 48} {
		if k, err := c.RecvKey(0, i); err != nil || k != want[i-1] {
			t.Errorf("skipped key %d: %v", i, err)
		}
	}
	if _, err := c.RecvKey(0, 0); err == nil {
		t.Error("index 0 gave a key")
	}
}

// TestRecvBounds is the SPQR half of acceptance test 3: a jump of exactly
// MaxJump is accepted and MaxJump+1 refused; after a jump, keys more than
// MaxOutOfOrder behind the newest are gone.
func TestRecvBounds(t *testing.T) {
	auth := bytes.Repeat([]byte{4}, 32)
	c := NewChain(auth, B2A, Params{})
	if _, err := c.RecvKey(0, 25_001); !errors.Is(err, errs.InvalidMessage) {
		t.Fatalf("jump of 25,001 accepted: %v", err)
	}
	if _, err := c.RecvKey(0, 25_000); err != nil {
		t.Fatalf("jump of 25,000 refused: %v", err)
	}
	if n := len(c.links[0].recv.kept); n != 2000 {
		t.Errorf("kept %d keys after the jump, want 2000", n)
	}
	if _, err := c.RecvKey(0, 23_000); err != nil {
		t.Errorf("key 2,000 behind the newest refused: %v", err)
	}
	if _, err := c.RecvKey(0, 22_999); !errors.Is(err, errs.InvalidMessage) {
		t.Errorf("key 2,001 behind the newest accepted: %v", err)
	}
	// libsignal's observed case: message 2100 first, then 100 works and 99
	// does not (SPQR indices are message numbers + 1).
	d := NewChain(auth, B2A, Params{})
	d.RecvKey(0, 2101)
	if _, err := d.RecvKey(0, 101); err != nil {
		t.Errorf("index 101 after 2101: %v", err)
	}
	if _, err := d.RecvKey(0, 100); err == nil {
		t.Error("index 100 after 2101 accepted")
	}
	// Self-sessions lift the jump limit.
	e := NewChain(auth, B2A, Params{MaxJump: 1<<32 - 1})
	if _, err := e.RecvKey(0, 40_000); err != nil {
		t.Errorf("unlimited chain refused a jump of 40,000: %v", err)
	}
}

func TestSendEpochRetiresOldSeeds(t *testing.T) {
	c := NewChain(bytes.Repeat([]byte{5}, 32), A2B, Params{})
	for e := uint64(1); e <= 3; e++ {
		c.AddEpoch(e, []byte{byte(e)})
	}
	if _, _, err := c.SendKey(3); err != nil {
		t.Fatal(err)
	}
	if len(c.links) != 2 || c.links[0].send.hasSeed {
		t.Fatalf("after sending in epoch 3: %d links, old send seed kept %v", len(c.links), c.links[0].send.hasSeed)
	}
	if _, _, err := c.SendKey(2); !errors.Is(err, errs.InvalidState) {
		t.Errorf("sending in an older epoch: %v", err)
	}
	if _, err := c.RecvKey(2, 1); err != nil {
		t.Errorf("receiving in the epoch before the sending one: %v", err)
	}
	if _, err := c.RecvKey(1, 1); !errors.Is(err, errs.InvalidMessage) {
		t.Errorf("receiving in a forgotten epoch: %v", err)
	}
	if _, err := c.RecvKey(4, 1); !errors.Is(err, errs.InvalidMessage) {
		t.Errorf("receiving in a future epoch: %v", err)
	}
}

func TestChainEncodingRoundTrip(t *testing.T) {
	c := NewChain(bytes.Repeat([]byte{6}, 32), B2A, Params{MaxJump: 100, MaxOutOfOrder: 10})
	c.RecvKey(0, 20)
	c.RecvKey(0, 15)
	c.SendKey(0)
	c.AddEpoch(1, []byte("s"))
	enc := c.Append(nil)
	d, err := ParseChain(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(d.Append(nil), enc) {
		t.Fatal("re-encoding differs")
	}
	// Both copies continue identically.
	k1, e1 := c.RecvKey(0, 12)
	k2, e2 := d.RecvKey(0, 12)
	if e1 != nil || e2 != nil || k1 != k2 {
		t.Fatalf("decoded chain diverges: %v %v", e1, e2)
	}
	for i := 0; i < len(enc); i++ {
		ParseChain(enc[:i]) // must not panic
	}
}

func TestChainRedacted(t *testing.T) {
	c := NewChain(bytes.Repeat([]byte{7}, 32), A2B, Params{})
	seed := fmt.Sprintf("%x", c.links[0].send.seed[:8])
	type holder struct{ C Chain } // held by value
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q", "%d"} {
		for _, v := range []any{c, *c, holder{*c}} {
			got := fmt.Sprintf(verb, v)
			if strings.Contains(got, seed) || !strings.Contains(got, "redacted") {
				t.Errorf("Sprintf(%s, %T) = %q", verb, v, got)
			}
		}
	}
}
