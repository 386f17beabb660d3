package senderkey

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/skymsg/sky/protocol"
	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/internal/errs"
)

var (
	ctx   = context.Background()
	alice = protocol.Address{Name: "aaaaaaaa-0000-4000-8000-000000000001", DeviceID: 1}
	group = DistributionID{0xd1, 0x57, 0x1b, 15: 0x01}
)

// pair is a sender (Alice) and a receiver (Bob) with their stores, after
// Bob processed Alice's distribution message.
type pair struct {
	aliceStore, bobStore *MemoryStore
}

func newPair(t testing.TB) *pair {
	t.Helper()
	p := &pair{aliceStore: NewMemoryStore(), bobStore: NewMemoryStore()}
	d, err := CreateDistribution(ctx, p.aliceStore, alice, group)
	if err != nil {
		t.Fatal(err)
	}
	wire, err := ParseDistributionMessage(d.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if err := ProcessDistribution(ctx, p.bobStore, alice, wire); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *pair) send(t testing.TB, n int) ([][]byte, [][]byte) {
	t.Helper()
	var pts, cts [][]byte
	for i := range n {
		pt := fmt.Appendf(nil, "group message %d", i)
		ct, err := Encrypt(ctx, p.aliceStore, alice, group, pt)
		if err != nil {
			t.Fatal(err)
		}
		pts, cts = append(pts, pt), append(cts, ct)
	}
	return pts, cts
}

func (p *pair) receive(t testing.TB, ct []byte) ([]byte, error) {
	t.Helper()
	return Decrypt(ctx, p.bobStore, alice, ct)
}

func TestRoundTripAndFormat(t *testing.T) {
	p := newPair(t)
	pts, cts := p.send(t, 3)
	for i, ct := range cts {
		if ct[0] != VersionByte {
			t.Fatalf("version byte %#x", ct[0])
		}
		m, err := ParseMessage(ct)
		if err != nil || m.Iteration != uint32(i) || m.DistributionID != group || !bytes.Equal(m.Bytes(), ct) {
			t.Fatalf("message %d: %+v %v", i, m, err)
		}
		pt, err := p.receive(t, ct)
		if err != nil || !bytes.Equal(pt, pts[i]) {
			t.Fatalf("message %d: %q, %v", i, pt, err)
		}
	}
	d, err := CreateDistribution(ctx, p.aliceStore, alice, group)
	if err != nil || d.Iteration != 3 {
		t.Fatalf("re-created distribution message at iteration %d: %v", d.Iteration, err)
	}
	if d.ChainID >= 1<<31 {
		t.Errorf("chain ID %#x is not 31-bit", d.ChainID)
	}
}

// TestSizes pins the size of a group message: for a 100-byte plaintext,
// a 112-byte ciphertext, the header fields and a 64-byte signature.
func TestSizes(t *testing.T) {
	p := newPair(t)
	ct, err := Encrypt(ctx, p.aliceStore, alice, group, make([]byte, 100))
	if err != nil {
		t.Fatal(err)
	}
	m, _ := ParseMessage(ct)
	want := 1 + 18 + 1 + sizeVarint(m.ChainID) + 2 + 2 + 112 + SignatureSize
	if len(ct) != want {
		t.Fatalf("group message of %d bytes, want %d", len(ct), want)
	}
	d, _ := CreateDistribution(ctx, p.aliceStore, alice, group)
	t.Logf("group message for 100 bytes: %d bytes; distribution message: %d bytes", len(ct), len(d.Bytes()))
}

func sizeVarint(v uint32) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// TestFailuresChangeNothing tampers with group messages in every way and
// checks the error kind and that Bob's store is byte-for-byte unchanged,
// then that the genuine messages still decrypt.
func TestFailuresChangeNothing(t *testing.T) {
	p := newPair(t)
	pts, cts := p.send(t, 3)
	if _, err := p.receive(t, cts[0]); err != nil {
		t.Fatal(err)
	}
	before := p.bobStore.Snapshot()
	check := func(what string, ct []byte, want ...error) {
		t.Helper()
		_, err := p.receive(t, ct)
		ok := false
		for _, w := range want {
			ok = ok || errors.Is(err, w)
		}
		if !ok {
			t.Fatalf("%s: %v, want %v", what, err, want)
		}
		if after := p.bobStore.Snapshot(); !maps.EqualFunc(before, after, bytes.Equal) {
			t.Fatalf("%s changed the store", what)
		}
	}
	ct := cts[2]
	for i := range ct {
		for bit := range 8 {
			bad := bytes.Clone(ct)
			bad[i] ^= 1 << bit
			check(fmt.Sprintf("byte %d bit %d flipped", i, bit), bad, errs.InvalidSignature, errs.InvalidMessage, errs.NoSession)
		}
	}
	for n := range len(ct) {
		check(fmt.Sprintf("cut to %d bytes", n), ct[:n], errs.InvalidMessage, errs.InvalidSignature)
	}
	check("a byte appended", append(bytes.Clone(ct), 0), errs.InvalidSignature, errs.InvalidMessage)
	check("message 0 again", cts[0], errs.DuplicateMessage)

	// The same message from another distribution, another chain, another
	// sender: unknown.
	other := NewMemoryStore()
	if _, err := CreateDistribution(ctx, other, alice, DistributionID{9}); err != nil {
		t.Fatal(err)
	}
	stranger, err := Encrypt(ctx, other, alice, DistributionID{9}, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	check("another distribution", stranger, errs.NoSession)
	if _, err := CreateDistribution(ctx, other, alice, group); err != nil {
		t.Fatal(err)
	}
	otherChain, _ := Encrypt(ctx, other, alice, group, []byte("x"))
	check("another chain of the distribution", otherChain, errs.NoSession)
	if _, err := Decrypt(ctx, p.bobStore, protocol.Address{Name: "someone", DeviceID: 1}, ct); !errors.Is(err, errs.NoSession) {
		t.Fatalf("message attributed to another sender: %v", err)
	}

	for i := 1; i < 3; i++ {
		pt, err := p.receive(t, cts[i])
		if err != nil || !bytes.Equal(pt, pts[i]) {
			t.Fatalf("genuine message %d after the attacks: %v", i, err)
		}
	}
}

// TestBadCiphertextWithGoodSignature: a sender who signs a ciphertext that
// does not decrypt gets an invalid message, and the chain is not advanced.
func TestBadCiphertextWithGoodSignature(t *testing.T) {
	p := newPair(t)
	r, _ := p.aliceStore.LoadSenderKey(ctx, alice, group)
	st := r.states[0]
	bad := newMessage(group, st.chainID, 5, make([]byte, 17), *st.signingPriv)
	before := p.bobStore.Snapshot()
	if _, err := p.receive(t, bad.Bytes()); !errors.Is(err, errs.InvalidMessage) {
		t.Fatalf("signed garbage: %v", err)
	}
	if !maps.EqualFunc(before, p.bobStore.Snapshot(), bytes.Equal) {
		t.Fatal("a failed decryption changed the store")
	}
}

// TestForwardJumpLimit: 25,000 iterations ahead is accepted, 25,001 is not.
func TestForwardJumpLimit(t *testing.T) {
	for _, tc := range []struct {
		jump uint32
		ok   bool
	}{{MaxForwardJump, true}, {MaxForwardJump + 1, false}} {
		p := newPair(t)
		r, _ := p.aliceStore.LoadSenderKey(ctx, alice, group)
		advance(r, tc.jump)
		ct, err := r.Encrypt(group, []byte("far ahead"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = p.receive(t, ct.Bytes())
		if tc.ok && err != nil || !tc.ok && !errors.Is(err, errs.InvalidMessage) {
			t.Fatalf("jump of %d: %v", tc.jump, err)
		}
		if tc.ok {
			rec, _ := p.bobStore.LoadSenderKey(ctx, alice, group)
			if n := len(rec.states[0].skipped); n != MaxSkippedKeys {
				t.Fatalf("%d skipped keys kept after a jump of %d, want %d", n, tc.jump, MaxSkippedKeys)
			}
		}
	}
}

// advance moves the sender's chain n iterations ahead without messages.
func advance(r *Record, n uint32) {
	for range n {
		r.states[0].chain, _ = r.states[0].chain.next()
	}
}

// TestSkippedKeysBound delivers 2,100 messages last-first: the first 2,000
// skipped keys kept are the newest, so messages 100.. decrypt and 0..99 are
// duplicates (their keys were dropped), as in libsignal.
func TestSkippedKeysBound(t *testing.T) {
	p := newPair(t)
	pts, cts := p.send(t, 2101)
	for i := 2100; i >= 100; i-- {
		pt, err := p.receive(t, cts[i])
		if err != nil || !bytes.Equal(pt, pts[i]) {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	for i := 99; i >= 0; i -= 33 {
		if _, err := p.receive(t, cts[i]); !errors.Is(err, errs.DuplicateMessage) {
			t.Fatalf("message %d (key dropped): %v", i, err)
		}
	}
}

// TestStates checks libsignal's rules for a record's chains.
func TestStates(t *testing.T) {
	dm := func(chainID uint32, key curve.PublicKey, seed byte) *DistributionMessage {
		return &DistributionMessage{DistributionID: group, ChainID: chainID, SigningKey: key, ChainKey: [32]byte{seed}}
	}
	keys := make([]curve.PublicKey, 7)
	for i := range keys {
		keys[i] = curve.GenerateKeyPair().Public
	}
	ids := func(r *Record) (out []uint32) {
		for _, st := range r.states {
			out = append(out, st.chainID)
		}
		return out
	}
	r := NewRecord()
	for i := 1; i <= 6; i++ {
		r.Process(dm(uint32(i), keys[i], byte(i)))
	}
	if got := fmt.Sprint(ids(r)); got != "[6 5 4 3 2]" {
		t.Fatalf("after six chains: %s, want the newest five", got)
	}
	// The same chain and key again: kept as it was, moved to the front.
	r.Process(dm(3, keys[3], 0xee))
	if got := fmt.Sprint(ids(r)); got != "[3 6 5 4 2]" || r.states[0].chain.seed[0] != 3 {
		t.Fatalf("same chain again: %s, seed %d", got, r.states[0].chain.seed[0])
	}
	// The same chain ID with another key replaces it.
	r.Process(dm(5, keys[0], 0x55))
	if got := fmt.Sprint(ids(r)); got != "[5 3 6 4 2]" || r.states[0].signingKey != keys[0] || r.States() != 5 {
		t.Fatalf("same chain ID, new key: %s", got)
	}
}

// TestOwnKeyNeeded: a device cannot send with a sender key it received.
func TestOwnKeyNeeded(t *testing.T) {
	p := newPair(t)
	if _, err := Encrypt(ctx, p.bobStore, alice, group, []byte("x")); !errors.Is(err, errs.NoSession) {
		t.Fatalf("encrypting with a received key: %v", err)
	}
	if _, err := Encrypt(ctx, p.bobStore, alice, DistributionID{7}, []byte("x")); !errors.Is(err, errs.NoSession) {
		t.Fatalf("encrypting with no key: %v", err)
	}
	if _, err := NewRecord().DistributionMessage(group); !errors.Is(err, errs.NoSession) {
		t.Fatalf("distribution message of an empty record: %v", err)
	}
}

// TestChainEnd: the chain ends at iteration 2^32-1 on both sides.
func TestChainEnd(t *testing.T) {
	p := newPair(t)
	r, _ := p.aliceStore.LoadSenderKey(ctx, alice, group)
	r.states[0].chain.iteration = 1<<32 - 1
	if _, err := r.Encrypt(group, []byte("x")); !errors.Is(err, errs.InvalidState) {
		t.Fatalf("encrypt at the end of the chain: %v", err)
	}
	st := r.states[0]
	last := newMessage(group, st.chainID, 1<<32-1, make([]byte, 16), *st.signingPriv)
	rec := NewRecord()
	rec.Process(&DistributionMessage{DistributionID: group, ChainID: st.chainID, Iteration: 1<<32 - 10, SigningKey: st.signingKey})
	if _, err := rec.Decrypt(last); !errors.Is(err, errs.InvalidMessage) {
		t.Fatalf("decrypt at the end of the chain: %v", err)
	}
}

func TestRecordEncoding(t *testing.T) {
	p := newPair(t)
	_, cts := p.send(t, 40)
	for i := 39; i >= 30; i-- {
		if _, err := p.receive(t, cts[i]); err != nil {
			t.Fatal(err)
		}
	}
	for _, store := range []*MemoryStore{p.aliceStore, p.bobStore} {
		r, err := store.LoadSenderKey(ctx, alice, group)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := r.MarshalBinary()
		again, err := ParseRecord(b)
		if err != nil {
			t.Fatal(err)
		}
		b2, _ := again.MarshalBinary()
		if !bytes.Equal(b, b2) {
			t.Fatal("record does not survive a round trip")
		}
	}
	bob, _ := p.bobStore.LoadSenderKey(ctx, alice, group)
	if n := len(bob.states[0].skipped); n != 30 || bob.states[0].signingPriv != nil {
		t.Fatalf("Bob's record: %d skipped keys, own key %v", n, bob.states[0].signingPriv != nil)
	}
	b, _ := bob.MarshalBinary()
	t.Logf("record with 30 skipped keys: %d bytes", len(b))

	mine, _ := p.aliceStore.LoadSenderKey(ctx, alice, group)
	good, _ := mine.MarshalBinary()
	corrupt := map[string][]byte{
		"empty":          nil,
		"format 2":       append([]byte{2}, good[1:]...),
		"truncated":      good[:len(good)-1],
		"wrong priv key": replaceField(t, good, 5, make([]byte, 32)),
		"short seed":     replaceField(t, good, 3, make([]byte, 31)),
		"bad public key": replaceField(t, good, 4, make([]byte, 33)),
		"version 4":      replaceVarint(t, good, 7, 4),
		"skipped ragged": replaceField(t, good, 6, make([]byte, 35)),
		"skipped ahead":  replaceField(t, good, 6, append([]byte{0, 0, 1, 0}, make([]byte, 32)...)),
		"six states":     append(bytes.Clone(good), bytes.Repeat(good[1:], 5)...),
	}
	for name, b := range corrupt {
		if _, err := ParseRecord(b); !errors.Is(err, errs.InvalidState) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if r, err := ParseRecord([]byte{recordFormat}); err != nil || r.States() != 0 {
		t.Errorf("empty record: %v", err)
	}
}

// replaceField re-encodes a one-state record with field num of the state
// set to v (appended: the last occurrence wins).
func replaceField(t *testing.T, rec []byte, num int, v []byte) []byte {
	t.Helper()
	r, err := ParseRecord(rec)
	if err != nil || len(r.states) != 1 {
		t.Fatal(err)
	}
	inner := r.states[0].append(nil)
	inner = append(inner, byte(num<<3|2), byte(len(v)))
	inner = append(inner, v...)
	return append([]byte{recordFormat, 0x0a, byte(len(inner))}, inner...)
}

func replaceVarint(t *testing.T, rec []byte, num int, v byte) []byte {
	t.Helper()
	r, err := ParseRecord(rec)
	if err != nil || len(r.states) != 1 {
		t.Fatal(err)
	}
	inner := append(r.states[0].append(nil), byte(num<<3), v)
	return append([]byte{recordFormat, 0x0a, byte(len(inner))}, inner...)
}

func TestParseRefuses(t *testing.T) {
	p := newPair(t)
	d, _ := CreateDistribution(ctx, p.aliceStore, alice, group)
	good := d.Bytes()
	for name, b := range map[string][]byte{
		"empty":            nil,
		"64 bytes":         good[:64],
		"version 2":        append([]byte{0x22}, good[1:]...),
		"version 4":        append([]byte{0x43}, good[1:]...),
		"no signing key":   append(bytes.Clone(good[:len(good)-35]), make([]byte, 10)...),
		"chain key of 31":  append(bytes.Clone(good), append([]byte{0x22, 31}, make([]byte, 31)...)...),
		"uuid of 15":       append(bytes.Clone(good), append([]byte{0x0a, 15}, make([]byte, 15)...)...),
		"key type 6":       append(bytes.Clone(good), append([]byte{0x2a, 33, 6}, make([]byte, 32)...)...),
		"bad tag":          append(bytes.Clone(good), 0x80),
		"chain ID > 2^32":  append(bytes.Clone(good), 0x10, 0x80, 0x80, 0x80, 0x80, 0x10),
		"iteration string": append(bytes.Clone(good), 0x1a, 0),
	} {
		if _, err := ParseDistributionMessage(b); !errors.Is(err, errs.InvalidMessage) {
			t.Errorf("distribution message %s: %v", name, err)
		}
	}
	if _, err := ParseDistributionMessage(append(bytes.Clone(good), 0x78, 1)); err != nil {
		t.Errorf("an unknown field is not skipped: %v", err)
	}
	if low, err := ParseDistributionMessage(append([]byte{0x30}, good[1:]...)); err != nil || low.ChainID != d.ChainID {
		t.Errorf("version byte 0x30 (high nibble 3): %v", err)
	}
	for _, s := range []string{"", "d1571b07-1d00-4000-8000-00000000c0d", "d1571b07x1d00-4000-8000-00000000c0de", "g1571b07-1d00-4000-8000-00000000c0de"} {
		if _, err := ParseDistributionID(s); !errors.Is(err, errs.InvalidMessage) {
			t.Errorf("ParseDistributionID(%q): %v", s, err)
		}
	}
	if id, err := ParseDistributionID("D1571B07-1D00-4000-8000-00000000C0DE"); err != nil || id.String() != "d1571b07-1d00-4000-8000-00000000c0de" {
		t.Errorf("upper-case UUID: %v %s", err, id)
	}
}

// TestSecretsRedacted formats the key-holding types under every verb.
func TestSecretsRedacted(t *testing.T) {
	p := newPair(t)
	d, _ := CreateDistribution(ctx, p.aliceStore, alice, group)
	r, _ := p.aliceStore.LoadSenderKey(ctx, alice, group)
	hidden := [][]byte{d.ChainKey[:], r.states[0].signingPriv.Bytes()}
	type holder struct { // held by value
		D DistributionMessage
		R Record
	}
	for name, v := range map[string]any{"DistributionMessage": d, "Record": r,
		"DistributionMessage value": *d, "Record value": *r, "holder": holder{*d, *r}} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q"} {
			out := fmt.Sprintf(verb, v)
			if !strings.Contains(out, "redacted") {
				t.Errorf("%s under %s: %q", name, verb, out)
			}
			for _, h := range hidden {
				if strings.Contains(out, fmt.Sprintf("%x", h)) || strings.Contains(out, fmt.Sprint(h)) || strings.Contains(out, string(h)) {
					t.Errorf("%s under %s leaks a key: %q", name, verb, out)
				}
			}
		}
	}
}

// BenchmarkRoundTrip100 encrypts and decrypts a 100-byte group message,
// records kept in memory (no store encoding).
func BenchmarkRoundTrip100(b *testing.B) {
	p := newPair(b)
	send, _ := p.aliceStore.LoadSenderKey(ctx, alice, group)
	recv, _ := p.bobStore.LoadSenderKey(ctx, alice, group)
	pt := make([]byte, 100)
	b.ReportAllocs()
	for b.Loop() {
		m, err := send.Encrypt(group, pt)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := recv.Decrypt(m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRoundTrip100Stored is BenchmarkRoundTrip100 through the store
// functions, with both records encoded and decoded for every message.
func BenchmarkRoundTrip100Stored(b *testing.B) {
	p := newPair(b)
	pt := make([]byte, 100)
	b.ReportAllocs()
	for b.Loop() {
		ct, err := Encrypt(ctx, p.aliceStore, alice, group, pt)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Decrypt(ctx, p.bobStore, alice, ct); err != nil {
			b.Fatal(err)
		}
	}
}
