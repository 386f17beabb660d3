package ratchet

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/internal/errs"
	"github.com/skymsg/sky/protocol/message"
	"github.com/skymsg/sky/protocol/pqxdh"
	"github.com/skymsg/sky/protocol/spqr"
)

var testSPQRKey = [32]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32}

// pair returns the two states of a new session, built from fixed PQXDH
// secrets: Alice's (initiator) and Bob's.
func pair(t testing.TB) (alice, bob *State) {
	t.Helper()
	var s pqxdh.Secrets
	for i := range s.RootKey {
		s.RootKey[i], s.ChainKey[i] = byte(i), byte(i+1)
	}
	s.SPQRKey = testSPQRKey
	ikA, ikB := curve.GenerateKeyPair(), curve.GenerateKeyPair()
	spk := curve.GenerateKeyPair()
	base := curve.GenerateKeyPair()
	b, err := NewBob(&Bob{Secrets: s, LocalIdentity: ikB.Public, RemoteIdentity: ikA.Public, TheirBaseKey: base.Public, SignedPreKey: spk})
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewAlice(&Alice{Secrets: s, LocalIdentity: ikA.Public, RemoteIdentity: ikB.Public, BaseKey: base.Public, TheirSignedPreKey: spk.Public})
	if err != nil {
		t.Fatal(err)
	}
	return a, b
}

func send(t testing.TB, s *State, n int) []*message.SignalMessage {
	t.Helper()
	out := make([]*message.SignalMessage, n)
	for i := range out {
		m, err := s.Encrypt([]byte(fmt.Sprint("message ", i)), nil)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = m
	}
	return out
}

func recv(t testing.TB, s *State, m *message.SignalMessage) {
	t.Helper()
	if _, err := s.Decrypt(m, DecryptOptions{}); err != nil {
		t.Fatalf("counter %d: %v", m.Counter, err)
	}
}

func TestConversationAndWireFields(t *testing.T) {
	a, b := pair(t)
	ms := send(t, a, 3)
	for i, m := range ms {
		if m.Counter != uint32(i) || m.PreviousCounter != 0 || m.Version != 4 || m.Bytes()[0] != 0x44 {
			t.Fatalf("message %d: counter %d, previous %d, version %d", i, m.Counter, m.PreviousCounter, m.Version)
		}
		// SPQR: V1, epoch 1, key index counter+1, and the initiator's first
		// messages stream chunks 0, 1, 2 of its ML-KEM header (type Hdr).
		if len(m.PQRatchet) != 5+32 || !bytes.Equal(m.PQRatchet[:5], []byte{1, 1, byte(i + 1), 1, byte(i)}) {
			t.Fatalf("message %d: pq_ratchet %x", i, m.PQRatchet)
		}
		pt, err := b.Decrypt(m, DecryptOptions{})
		if err != nil || string(pt) != fmt.Sprint("message ", i) {
			t.Fatalf("message %d: %q %v", i, pt, err)
		}
	}
	// Bob's first decryption was a DH step, so he answers on a new key;
	// Alice keeps that chain and her initial one on his signed prekey.
	r := send(t, b, 1)[0]
	recv(t, a, r)
	if a.ReceiverChains() != 2 {
		t.Fatalf("Alice keeps %d chains", a.ReceiverChains())
	}
	ms = send(t, a, 1)
	if ms[0].PreviousCounter != 2 {
		// libsignal writes the index of the last message sent, not the count.
		t.Fatalf("previous counter %d, want 2", ms[0].PreviousCounter)
	}
	recv(t, b, ms[0])
}

// TestForwardJumpBound is the Double Ratchet half of acceptance test 3. The
// ratchet accepts a counter exactly 25,000 ahead of its chain and refuses
// 25,001 before deriving any key; an absurd counter is refused at once.
// SPQR's key index runs one ahead of the counter, so with SPQR's own limit
// of 25,000 (as in libsignal 0.103) a jump of 25,000 is already refused by
// SPQR; the Double Ratchet bound is checked on a state whose SPQR limit is
// lifted.
func TestForwardJumpBound(t *testing.T) {
	a, b := pair(t)
	ms := send(t, a, 25_002)
	b2 := b.Clone()
	if _, err := b.Decrypt(ms[25_001], DecryptOptions{}); !errors.Is(err, errs.InvalidMessage) {
		t.Fatalf("jump of 25,001: %v", err)
	}
	if _, err := b.Decrypt(ms[25_000], DecryptOptions{}); !errors.Is(err, errs.InvalidMessage) || !strings.Contains(err.Error(), "spqr") {
		t.Fatalf("jump of 25,000 (SPQR jump 25,001): %v", err)
	}
	recv(t, b2, ms[24_999])
	if n := b2.SkippedKeys(); n != MaxSkippedKeys {
		t.Fatalf("%d skipped keys kept, want %d", n, MaxSkippedKeys)
	}
	// Keys older than the newest 2,000 are gone: such a message is a duplicate.
	recv(t, b2, ms[22_999])
	if _, err := b2.Decrypt(ms[22_998], DecryptOptions{}); !errors.Is(err, errs.DuplicateMessage) {
		t.Fatalf("message 2,001 behind: %v", err)
	}

	lifted := func() (*State, *State) {
		a, b := pair(t)
		var err error
		if b.pq, err = spqr.NewState(testSPQRKey[:], spqr.B2A, spqr.Params{MaxJump: 1<<32 - 1}); err != nil {
			t.Fatal(err)
		}
		return a, b
	}
	a, b = lifted()
	ms = send(t, a, 25_002)
	if _, err := b.Decrypt(ms[25_001], DecryptOptions{}); !errors.Is(err, errs.InvalidMessage) || !strings.Contains(err.Error(), "too far") {
		t.Fatalf("Double Ratchet jump of 25,001: %v", err)
	}
	recv(t, b, ms[25_000])

	// A counter near 2^32 is refused immediately (deriving would take hours).
	start := time.Now()
	far := message.NewSignalMessage(message.SignalMessageFields{Version: 4, RatchetKey: a.SenderRatchetKey(), Counter: 4_000_000_000,
		Ciphertext: make([]byte, 16), PQRatchet: []byte{1, 1, 1, 0}}, make([]byte, 32), a.LocalIdentity, a.RemoteIdentity)
	if _, err := b.Decrypt(far, DecryptOptions{}); !errors.Is(err, errs.InvalidMessage) || time.Since(start) > 5*time.Second {
		t.Fatalf("counter 4e9: %v after %v", err, time.Since(start))
	}
}

// TestSkippedKeyBound: after a gap of 2,100 only the newest 2,000 skipped
// keys are kept (libsignal: message 2100 first, then 100 works, 99 is
// refused), and the dropped ones are gone from the encoded state.
func TestSkippedKeyBound(t *testing.T) {
	a, b := pair(t)
	var seeds [][32]byte
	var ms []*message.SignalMessage
	for i := 0; i <= 2100; i++ {
		seeds = append(seeds, a.sender.chain.seed())
		ms = append(ms, send(t, a, 1)[0])
	}
	recv(t, b, ms[2100])
	enc := mustEncode(t, b)
	if bytes.Contains(enc, seeds[99][:]) || bytes.Contains(enc, seeds[0][:]) {
		t.Fatal("a dropped message seed is still in the encoded state")
	}
	if !bytes.Contains(enc, seeds[100][:]) || !bytes.Contains(enc, seeds[2099][:]) {
		t.Fatal("a kept message seed is missing from the encoded state")
	}
	recv(t, b, ms[100])
	if _, err := b.Decrypt(ms[99], DecryptOptions{}); !errors.Is(err, errs.DuplicateMessage) {
		t.Fatalf("message 99: %v", err)
	}
	if enc := mustEncode(t, b); bytes.Contains(enc, seeds[100][:]) {
		t.Fatal("a used message seed is still in the encoded state")
	}
	for i := 101; i < 2100; i += 97 {
		recv(t, b, ms[i])
	}
}

// TestOutOfOrderAcrossRatchetSteps delivers messages of several chains in
// reverse order.
func TestOutOfOrderAcrossRatchetSteps(t *testing.T) {
	a, b := pair(t)
	var held []*message.SignalMessage
	for round := 0; round < 4; round++ {
		ms := send(t, a, 5)
		recv(t, b, ms[4])
		held = append(held, ms[:4]...)
		r := send(t, b, 1)
		recv(t, a, r[0])
	}
	for i := len(held) - 1; i >= 0; i-- {
		recv(t, b, held[i])
	}
	for _, m := range held {
		if _, err := b.Decrypt(m, DecryptOptions{}); !errors.Is(err, errs.DuplicateMessage) {
			t.Fatalf("replay: %v", err)
		}
	}
}

// TestReceiverChainBound: a sixth chain pushes the oldest out.
func TestReceiverChainBound(t *testing.T) {
	a, b := pair(t)
	old := send(t, a, 2)
	recv(t, b, old[1])
	for i := 0; i < 5; i++ {
		recv(t, a, send(t, b, 1)[0])
		recv(t, b, send(t, a, 1)[0])
	}
	if b.ReceiverChains() != MaxReceiverChain {
		t.Fatalf("%d chains", b.ReceiverChains())
	}
	if _, err := b.Decrypt(old[0], DecryptOptions{}); !errors.Is(err, errs.InvalidMessage) {
		t.Fatalf("message of a dropped chain: %v", err)
	}
}

// TestDecryptFailureLeavesStateUnchanged flips every bit of a message that
// needs a DH step and skipped keys, and checks the encoded state after each
// refusal.
func TestDecryptFailureLeavesStateUnchanged(t *testing.T) {
	a, b := pair(t)
	recv(t, b, send(t, a, 1)[0])
	recv(t, a, send(t, b, 1)[0])
	m := send(t, a, 3)[2] // new chain at Bob, two skipped keys
	before, _ := b.MarshalBinary()
	raw := m.Bytes()
	for i := range raw {
		for bit := 0; bit < 8; bit++ {
			c := bytes.Clone(raw)
			c[i] ^= 1 << bit
			mm, err := message.ParseSignalMessage(c)
			if err != nil {
				continue
			}
			if _, err := b.Decrypt(mm, DecryptOptions{}); err == nil {
				t.Fatalf("bit %d of byte %d flipped: accepted", bit, i)
			}
			if after, _ := b.MarshalBinary(); !bytes.Equal(before, after) {
				t.Fatalf("bit %d of byte %d flipped: state changed", bit, i)
			}
		}
	}
	recv(t, b, m)
}

func TestAddressesField(t *testing.T) {
	a, b := pair(t)
	addrs := bytes.Repeat([]byte{7}, message.AddressesSize)
	m, _ := a.Encrypt([]byte("x"), addrs)
	if !bytes.Equal(m.Addresses, addrs) {
		t.Fatal("addresses not written")
	}
	other := bytes.Repeat([]byte{8}, message.AddressesSize)
	for _, opt := range []DecryptOptions{{}, {Addresses: other}} {
		if _, err := b.Decrypt(m, opt); !errors.Is(err, errs.InvalidMessage) {
			t.Fatalf("mismatched addresses %x accepted: %v", opt.Addresses, err)
		}
	}
	if _, err := b.Decrypt(m, DecryptOptions{Addresses: addrs}); err != nil {
		t.Fatal(err)
	}
	// A message without the field is accepted whatever the expectation.
	n, _ := a.Encrypt([]byte("y"), nil)
	if _, err := b.Decrypt(n, DecryptOptions{Addresses: other}); err != nil {
		t.Fatal(err)
	}
}

func TestEncodingRoundTrip(t *testing.T) {
	a, b := pair(t)
	ms := send(t, a, 10)
	recv(t, b, ms[7])
	a.Pending = &Pending{HasPreKeyID: true, PreKeyID: 5, SignedPreKeyID: 6, KyberPreKeyID: 7, KyberCiphertext: make([]byte, 1569), BaseKey: a.AliceBaseKey, Timestamp: 99}
	for _, s := range []*State{a, b} {
		enc, err := s.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		p, err := Parse(enc)
		if err != nil {
			t.Fatal(err)
		}
		again, _ := p.MarshalBinary()
		if !bytes.Equal(enc, again) {
			t.Fatal("re-encoding differs")
		}
		// Cutting the encoding anywhere inside the required fields fails.
		for i := 0; i < 40; i++ {
			if _, err := Parse(enc[:i]); !errors.Is(err, errs.InvalidState) {
				t.Fatalf("state cut to %d bytes: %v", i, err)
			}
		}
	}
	p, _ := Parse(mustEncode(t, b))
	for _, i := range []int{3, 0, 9, 8} {
		recv(t, p, ms[i])
	}
	if _, err := Parse(nil); !errors.Is(err, errs.InvalidState) {
		t.Fatal("empty state accepted")
	}
	if _, err := Parse([]byte{2}); !errors.Is(err, errs.InvalidState) {
		t.Fatal("unknown format accepted")
	}
}

func mustEncode(t *testing.T, s *State) []byte {
	b, err := s.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestStateRedacted(t *testing.T) {
	a, _ := pair(t)
	root := fmt.Sprintf("%x", a.rootKey[:6])
	rootDec := strings.Trim(fmt.Sprint(a.rootKey[:6]), "[]")
	type holder struct{ S State } // held by value
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q", "%d"} {
		for _, v := range []any{a, *a, holder{*a}} {
			got := fmt.Sprintf(verb, v)
			if strings.Contains(got, root) || strings.Contains(got, rootDec) || !strings.Contains(got, "redacted") {
				t.Errorf("Sprintf(%s, %T) = %.200q", verb, v, got)
			}
		}
	}
}

func FuzzParseState(f *testing.F) {
	a, b := pair(f)
	ms := send(f, a, 4)
	b.Decrypt(ms[3], DecryptOptions{})
	f.Add(mustEncode(&testing.T{}, a))
	f.Add(mustEncode(&testing.T{}, b))
	f.Fuzz(func(t *testing.T, enc []byte) {
		s, err := Parse(enc)
		if err != nil {
			return
		}
		again, err := s.MarshalBinary()
		if err != nil {
			t.Fatalf("parsed state does not encode: %v", err)
		}
		if _, err := Parse(again); err != nil {
			t.Fatalf("re-encoded state does not parse: %v", err)
		}
		s.Clone()
		m, err := s.Encrypt([]byte("x"), nil)
		if err == nil {
			s.Decrypt(m, DecryptOptions{})
		}
	})
}

// TestSPQRRefusalAfterMAC: the message key salted with SPQR's key is worked
// out before SPQR's state changes, and SPQR takes the message only after the
// MAC and body check out; a message whose MAC is right but whose SPQR chunk
// the braid refuses (a header that does not authenticate once complete) must
// still leave the state as it was. Each of Alice's messages goes to a copy
// of Bob first with one bit of its SPQR chunk flipped under a correct MAC.
func TestSPQRRefusalAfterMAC(t *testing.T) {
	a, b := pair(t)
	refused := 0
	for i := range 12 {
		before := a.Clone()
		real, err := a.Encrypt([]byte(fmt.Sprint("message ", i)), nil)
		if err != nil {
			t.Fatal(err)
		}
		forged := forgePQ(t, before, real)
		c := b.Clone()
		want := mustEncode(t, c)
		if _, err := c.Decrypt(forged, DecryptOptions{}); err != nil {
			if !strings.Contains(err.Error(), "post-quantum") {
				t.Fatalf("message %d: refused for another reason: %v", i, err)
			}
			refused++
			if !bytes.Equal(mustEncode(t, c), want) {
				t.Fatalf("message %d: a refused SPQR chunk changed the state", i)
			}
		}
		recv(t, b, real)
	}
	if refused == 0 {
		t.Fatal("no forged chunk was refused: the test did not reach the braid's check")
	}
}

// forgePQ rebuilds real with the keys of s (the sender's state before
// sending it), with the last bit of its SPQR message (chunk data) flipped and the
// MAC computed over that.
func forgePQ(t *testing.T, s *State, real *message.SignalMessage) *message.SignalMessage {
	t.Helper()
	// The copy's SPQR message may differ (a key pair sampled afresh), but
	// its key is the chain's next, the one the real message used.
	_, pqKey, err := s.pq.AppendSend(nil)
	if err != nil {
		t.Fatal(err)
	}
	pqMsg := bytes.Clone(real.PQRatchet)
	pqMsg[len(pqMsg)-1] ^= 1
	seed, _ := s.sender.chain.step()
	keys := deriveMessageKeys(seed, pqKey)
	return message.NewSignalMessage(message.SignalMessageFields{
		Version: real.Version, RatchetKey: real.RatchetKey, Counter: real.Counter,
		PreviousCounter: real.PreviousCounter, Ciphertext: real.Ciphertext, PQRatchet: pqMsg,
	}, keys.mac[:], s.LocalIdentity, s.RemoteIdentity)
}
