package braid

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/skymsg/sky/protocol/spqr/authenticator"
)

// party is one side of a simulated conversation.
type party struct {
	name    string
	s       *State
	secrets []EpochSecret // in the order the braid produced them
	inbox   []Message
}

func (p *party) record(t *testing.T, sec *EpochSecret) {
	t.Helper()
	if sec == nil {
		return
	}
	if want := uint64(len(p.secrets) + 1); sec.Epoch != want {
		t.Fatalf("%s: secret for epoch %d, want epoch %d", p.name, sec.Epoch, want)
	}
	p.secrets = append(p.secrets, *sec)
}

// roundTrip serializes and restores the state, as a session store would.
func (p *party) roundTrip(t *testing.T) {
	t.Helper()
	b, err := p.s.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var n State
	if err := n.UnmarshalBinary(b); err != nil {
		t.Fatalf("%s: restoring own state (%v): %v", p.name, p.s, err)
	}
	b2, _ := n.MarshalBinary()
	if !bytes.Equal(b, b2) {
		t.Fatalf("%s: state does not survive a round trip", p.name)
	}
	p.s = &n
}

// converse runs a seeded conversation: bursts of messages each way, a share
// of them dropped, the rest delivered in random order, with the states
// serialized and restored or cloned now and then. It checks that both sides
// derive the same secret for every epoch and returns the parties.
func converse(t *testing.T, seed uint64, messages int, drop float64) (a, b *party) {
	r := rand.New(rand.NewPCG(seed, seed^0x5eed))
	a = &party{name: "initiator", s: New([]byte("authentication key"), true)}
	b = &party{name: "responder", s: New([]byte("authentication key"), false)}
	for sent := 0; sent < messages; {
		from, to := a, b
		if r.IntN(2) == 0 {
			from, to = b, a
		}
		for range 1 + r.IntN(8) {
			m, sec, err := from.s.Send()
			if err != nil {
				t.Fatal(err)
			}
			from.record(t, sec)
			sent++
			if r.Float64() >= drop {
				to.inbox = append(to.inbox, m)
			}
		}
		// The receiver gets some of its mail, in random order.
		r.Shuffle(len(to.inbox), func(i, j int) { to.inbox[i], to.inbox[j] = to.inbox[j], to.inbox[i] })
		k := r.IntN(len(to.inbox) + 1)
		for _, m := range to.inbox[:k] {
			may := to.s.MayYieldSecret(m)
			sec, err := to.s.Recv(m)
			if err != nil {
				t.Fatalf("%s in %v: Recv(epoch %d %v): %v", to.name, to.s, m.Epoch, m.Type, err)
			}
			if sec != nil && !may { // package spqr relies on it
				t.Fatalf("%s: Recv(epoch %d %v) yielded a secret MayYieldSecret ruled out", to.name, m.Epoch, m.Type)
			}
			to.record(t, sec)
		}
		to.inbox = to.inbox[k:]
		switch r.IntN(4) {
		case 0:
			to.roundTrip(t)
		case 1:
			to.s = to.s.Clone()
		}
	}
	n := min(len(a.secrets), len(b.secrets))
	for i := range n {
		if a.secrets[i] != b.secrets[i] {
			t.Fatalf("epoch %d: the parties derived different secrets", i+1)
		}
	}
	return a, b
}

// TestConversation checks epoch agreement over seeded conversations with
// reordering and losses, and that epochs keep advancing.
func TestConversation(t *testing.T) {
	for _, tc := range []struct {
		seed     uint64
		messages int
		drop     float64
		epochs   int // at least this many epochs must complete
	}{
		{1, 2000, 0, 10},
		{2, 2000, 0.1, 10},
		{3, 2000, 0.3, 8},
		{4, 3000, 0.5, 8},
	} {
		t.Run(fmt.Sprintf("seed%d-drop%v", tc.seed, tc.drop), func(t *testing.T) {
			a, b := converse(t, tc.seed, tc.messages, tc.drop)
			done := min(len(a.secrets), len(b.secrets))
			if done < tc.epochs {
				t.Fatalf("only %d epochs completed (initiator at %v, responder at %v)", done, a.s, b.s)
			}
			t.Logf("%d epochs completed; initiator %v, responder %v", done, a.s, b.s)
		})
	}
}

// lockstep sends one message each way per step, delivered in order.
func lockstep(t testing.TB, a, b *State, steps int) {
	for range steps {
		for _, p := range [][2]*State{{a, b}, {b, a}} {
			m, _, err := p[0].Send()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p[1].Recv(m); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestRolesAlternate checks that the initiator owns the key pair of odd
// epochs and the responder of even ones.
func TestRolesAlternate(t *testing.T) {
	a, b := New([]byte("k"), true), New([]byte("k"), false)
	owner := map[uint64]string{}
	for range 400 {
		for _, p := range []struct {
			name string
			s, o *State
		}{{"initiator", a, b}, {"responder", b, a}} {
			m, _, _ := p.s.Send()
			if m.Type == MsgHdr {
				if prev, ok := owner[m.Epoch]; ok && prev != p.name {
					t.Fatalf("epoch %d: both sides sent headers", m.Epoch)
				}
				owner[m.Epoch] = p.name
			}
			if _, err := p.o.Recv(m); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(owner) < 5 {
		t.Fatalf("only %d epochs started", len(owner))
	}
	for e, who := range owner {
		if want := map[bool]string{true: "initiator", false: "responder"}[e%2 == 1]; who != want {
			t.Errorf("epoch %d key pair owned by the %s, want the %s", e, who, want)
		}
	}
}

// deliverUntil sends from one state to the other until the sender's message
// has type typ, and returns that message undelivered.
func deliverUntil(t *testing.T, from, to *State, typ MsgType) Message {
	t.Helper()
	for range 200 {
		m, _, err := from.Send()
		if err != nil {
			t.Fatal(err)
		}
		if m.Type == typ {
			return m
		}
		if _, err := to.Recv(m); err != nil {
			t.Fatal(err)
		}
		// keep the other direction moving
		r, _, _ := to.Send()
		if _, err := from.Recv(r); err != nil {
			t.Fatal(err)
		}
	}
	t.Fatalf("no %v message", typ)
	return Message{}
}

func snapshot(s *State) []byte {
	b, _ := s.MarshalBinary()
	return b
}

// TestRejectsAndKeepsState checks that forged headers, ciphertexts and keys
// and messages from the future are refused with the right error and leave
// the state byte for byte as it was.
func TestRejectsAndKeepsState(t *testing.T) {
	t.Run("header MAC", func(t *testing.T) {
		a, b := New([]byte("k"), true), New([]byte("other k"), false)
		for range 3 {
			m, _, _ := a.Send()
			before := snapshot(b)
			_, err := b.Recv(m)
			if err != nil {
				if !errors.Is(err, authenticator.ErrHeaderMAC) {
					t.Fatalf("got %v, want ErrHeaderMAC", err)
				}
				if !bytes.Equal(before, snapshot(b)) {
					t.Fatal("state changed on a refused header")
				}
				return
			}
		}
		t.Fatal("a header under another authentication key was accepted")
	})
	t.Run("ciphertext MAC", func(t *testing.T) {
		a, b := New([]byte("k"), true), New([]byte("k"), false)
		m := deliverUntil(t, b, a, MsgCt2)
		var err error
		for i := 0; err == nil && i < 10; i++ {
			m.Chunk.Data[0] ^= 1
			before := snapshot(a)
			if _, err = a.Recv(m); err != nil {
				if !errors.Is(err, authenticator.ErrCiphertextMAC) {
					t.Fatalf("got %v, want ErrCiphertextMAC", err)
				}
				if !bytes.Equal(before, snapshot(a)) {
					t.Fatal("state changed on a refused ciphertext")
				}
			}
			m, _, _ = b.Send()
		}
		if err == nil {
			t.Fatal("tampered ct2 accepted")
		}
	})
	t.Run("key vector", func(t *testing.T) {
		a, b := New([]byte("k"), true), New([]byte("k"), false)
		m := deliverUntil(t, a, b, MsgEk)
		var err error
		for i := 0; err == nil && i < 60; i++ {
			m.Chunk.Data[5] ^= 0x10
			before := snapshot(b)
			if _, err = b.Recv(m); err != nil {
				if !errors.Is(err, ErrKeyMismatch) {
					t.Fatalf("got %v, want ErrKeyMismatch", err)
				}
				if !bytes.Equal(before, snapshot(b)) {
					t.Fatal("state changed on a refused key")
				}
			}
			m, _, _ = a.Send()
		}
		if err == nil {
			t.Fatal("tampered key vector accepted")
		}
	})
	t.Run("future epoch", func(t *testing.T) {
		a := New([]byte("k"), true)
		before := snapshot(a)
		if _, err := a.Recv(Message{Epoch: 2}); !errors.Is(err, ErrEpoch) {
			t.Fatalf("got %v, want ErrEpoch", err)
		}
		if !bytes.Equal(before, snapshot(a)) {
			t.Fatal("state changed")
		}
	})
}

// TestUnmarshalRejects checks truncated, extended and corrupted states.
func TestUnmarshalRejects(t *testing.T) {
	a, b := New([]byte("k"), true), New([]byte("k"), false)
	lockstep(t, a, b, 20)
	good := snapshot(a)
	for _, bad := range [][]byte{nil, {2}, good[:len(good)-1], append(bytes.Clone(good), 0), {1, 0, 1}} {
		var s State
		if err := s.UnmarshalBinary(bad); !errors.Is(err, ErrState) {
			t.Errorf("state %x…: got %v", bad[:min(len(bad), 8)], err)
		}
	}
	wrongPhase := bytes.Clone(good)
	wrongPhase[2] = byte(ct2Sampled)
	var s State
	if s.UnmarshalBinary(wrongPhase) == nil {
		t.Error("state with another phase's fields accepted")
	}
}

// TestStateRedacts checks that formatting a state shows no secret.
func TestStateRedacts(t *testing.T) {
	a := New([]byte("k"), true)
	a.Send()
	type holder struct{ S State } // held by value
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q", "%d"} {
		for _, v := range []any{a, *a, holder{*a}} {
			s := fmt.Sprintf(verb, v)
			if !strings.Contains(s, "redacted") || strings.Contains(s, fmt.Sprintf("%x", a.seed[:4])) || strings.Contains(s, fmt.Sprint(a.seed[:4])) {
				t.Errorf("%s, %T: %q", verb, v, s)
			}
		}
	}
	sec := EpochSecret{Epoch: 3, Secret: [32]byte{0xab, 0xcd}}
	if s := fmt.Sprintf("%v %x %#v", sec, sec, sec); strings.Contains(s, "abcd") || !strings.Contains(s, "redacted") {
		t.Errorf("epoch secret printed as %q", s)
	}
}
