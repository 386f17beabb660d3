package spqr

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/skymsg/sky/internal/testvec"
	"github.com/skymsg/sky/protocol/internal/errs"
	"github.com/skymsg/sky/protocol/internal/pb"
	"github.com/skymsg/sky/protocol/spqr/braid"
)

func pair(t testing.TB) (alice, bob *State) {
	auth := bytes.Repeat([]byte{0x11}, 32)
	a, err := NewState(auth, A2B, Params{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewState(auth, B2A, Params{})
	if err != nil {
		t.Fatal(err)
	}
	return a, b
}

// wire is one SPQR message in flight with the key its sender used.
type wire struct {
	msg []byte
	key [32]byte
}

type peer struct {
	name     string
	s        *State
	inbox    []wire
	maxEpoch uint64 // highest epoch seen in this peer's messages
}

func (p *peer) send(t testing.TB) wire {
	t.Helper()
	msg, key, err := p.s.Send()
	if err != nil {
		t.Fatalf("%s: Send: %v", p.name, err)
	}
	m, _, err := braid.ParseMessage(msg)
	if err != nil {
		t.Fatalf("%s sent an unparsable message %x: %v", p.name, msg, err)
	}
	if m.Epoch < p.maxEpoch {
		t.Fatalf("%s: epoch went back from %d to %d", p.name, p.maxEpoch, m.Epoch)
	}
	p.maxEpoch = m.Epoch
	return wire{msg, key}
}

func (p *peer) recv(t testing.TB, w wire) {
	t.Helper()
	key, err := p.s.Recv(w.msg)
	if err != nil {
		t.Fatalf("%s: Recv(%x…): %v", p.name, w.msg[:min(len(w.msg), 8)], err)
	}
	if key != w.key {
		t.Fatalf("%s: key differs from the sender's", p.name)
	}
}

// converse runs a seeded conversation through a lossy, reordering network,
// restoring states from their encoding and cloning them now and then, and
// checks that every delivered message yields its sender's key.
func converse(t testing.TB, a, b *State, seed uint64, messages int, drop float64) (pa, pb *peer) {
	r := rand.New(rand.NewPCG(seed, 99))
	pa, pb = &peer{name: "initiator", s: a}, &peer{name: "responder", s: b}
	for sent := 0; sent < messages; {
		from, to := pa, pb
		if r.IntN(2) == 1 {
			from, to = pb, pa
		}
		for range 1 + r.IntN(6) {
			w := from.send(t)
			sent++
			if r.Float64() >= drop {
				to.inbox = append(to.inbox, w)
			}
		}
		r.Shuffle(len(to.inbox), func(i, j int) { to.inbox[i], to.inbox[j] = to.inbox[j], to.inbox[i] })
		k := r.IntN(len(to.inbox) + 1)
		for _, w := range to.inbox[:k] {
			to.recv(t, w)
		}
		to.inbox = to.inbox[k:]
		switch r.IntN(5) {
		case 0:
			enc, err := to.s.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			to.s = new(State)
			if err := to.s.UnmarshalBinary(enc); err != nil {
				t.Fatalf("%s: restoring own state: %v", to.name, err)
			}
		case 1:
			to.s = to.s.Clone()
		}
	}
	return pa, pb
}

// TestConversation runs long conversations with reordering and losses and
// checks that SPQR epochs advance in both directions.
func TestConversation(t *testing.T) {
	for _, tc := range []struct {
		seed     uint64
		messages int
		drop     float64
		epochs   uint64 // both sides' messages must reach this epoch
	}{
		{1, 1500, 0, 8},
		{2, 1500, 0.1, 6},
		{3, 2000, 0.3, 5},
		{4, 5000, 0.05, 5},
	} {
		t.Run(fmt.Sprintf("seed%d-drop%v", tc.seed, tc.drop), func(t *testing.T) {
			a, b := pair(t)
			pa, pb := converse(t, a, b, tc.seed, tc.messages, tc.drop)
			t.Logf("epochs reached: initiator %d, responder %d", pa.maxEpoch, pb.maxEpoch)
			if pa.maxEpoch < tc.epochs || pb.maxEpoch < tc.epochs {
				t.Fatalf("epochs reached %d and %d, want at least %d", pa.maxEpoch, pb.maxEpoch, tc.epochs)
			}
			if pa.s.Epoch() < tc.epochs || pb.s.Epoch() < tc.epochs {
				t.Fatalf("Epoch() is %d and %d", pa.s.Epoch(), pb.s.Epoch())
			}
		})
	}
}

// TestOldEpochMessagesDecrypt holds back messages while epochs advance and
// delivers them late: keys of the previous epoch stay available.
func TestOldEpochMessagesDecrypt(t *testing.T) {
	a, b := pair(t)
	pa, pb := &peer{name: "a", s: a}, &peer{name: "b", s: b}
	var late []wire
	for i := 0; i < 400; i++ {
		w := pa.send(t)
		if i%50 == 7 {
			late = append(late, w)
		} else {
			pb.recv(t, w)
		}
		pa.recv(t, pb.send(t))
		// Deliver a held-back message once the sender is one epoch on.
		if len(late) > 0 {
			m, _, _ := braid.ParseMessage(late[0].msg)
			if m.Epoch+1 == pa.maxEpoch {
				pb.recv(t, late[0])
				late = late[1:]
			}
		}
	}
	if pa.maxEpoch < 4 {
		t.Fatalf("epoch %d only", pa.maxEpoch)
	}
}

type liteFixture struct {
	AuthKey  string
	Sessions []struct {
		Alice, Bob     string
		ToBob, ToAlice []struct{ Msg, Key string }
	}
}

func unhex(t *testing.T, s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestLiteSessionsKeepDecrypting loads states written by the SPQR-lite
// implementation (commit 3aed0a4; testdata/lite-sessions.json) and checks
// that they decrypt the messages that were in flight when they were saved,
// keep exchanging messages with each other, stay in the lite format, and
// interoperate with a peer running the braid, as libsignal does with them.
func TestLiteSessionsKeepDecrypting(t *testing.T) {
	var fx liteFixture
	testvec.Load(t, "testdata/lite-sessions.json", &fx)
	for i, sess := range fx.Sessions {
		var a, b State
		if err := a.UnmarshalBinary(unhex(t, sess.Alice)); err != nil {
			t.Fatal(err)
		}
		if err := b.UnmarshalBinary(unhex(t, sess.Bob)); err != nil {
			t.Fatal(err)
		}
		pa, pb := &peer{name: "lite alice", s: &a}, &peer{name: "lite bob", s: &b}
		for _, m := range sess.ToBob {
			pb.recv(t, wire{unhex(t, m.Msg), [32]byte(unhex(t, m.Key))})
		}
		for _, m := range sess.ToAlice {
			pa.recv(t, wire{unhex(t, m.Msg), [32]byte(unhex(t, m.Key))})
		}
		converse(t, pa.s, pb.s, uint64(i), 300, 0.1)
		for _, s := range []*State{&a, &b} {
			enc, _ := s.MarshalBinary()
			if enc[0] != formatLite || s.Epoch() != 1 {
				t.Fatalf("session %d: a lite state became format %#x, epoch %d", i, enc[0], s.Epoch())
			}
		}
	}

	// A lite state against a state running the braid, in both roles: the
	// braid side streams its header forever (initiator) or waits for one
	// (responder), and every message decrypts.
	auth := unhex(t, fx.AuthKey)
	var liteBob, liteAlice State
	liteBob.UnmarshalBinary(unhex(t, fx.Sessions[0].Bob))
	liteAlice.UnmarshalBinary(unhex(t, fx.Sessions[0].Alice))
	fullAlice, _ := NewState(auth, A2B, Params{})
	fullBob, _ := NewState(auth, B2A, Params{})
	// The fixture's states already used keys 1…n; move the new states' chains
	// past them so that both sides' counters agree.
	for _, p := range []struct{ full, lite *State }{{fullAlice, &liteAlice}, {fullBob, &liteBob}} {
		for p.full.chain.links[0].send.ctr < p.lite.chain.links[0].send.ctr {
			p.full.chain.SendKey(0)
		}
		for p.full.chain.links[0].recv.ctr < p.lite.chain.links[0].recv.ctr {
			p.full.chain.RecvKey(0, p.full.chain.links[0].recv.ctr+1)
		}
	}
	fa, lb := converse(t, fullAlice, &liteBob, 7, 400, 0.1)
	la, fb := converse(t, &liteAlice, fullBob, 8, 400, 0.1)
	if fa.maxEpoch != 1 || lb.maxEpoch != 1 || la.maxEpoch != 1 || fb.maxEpoch != 1 {
		t.Fatal("epochs moved with a lite peer")
	}
}

// TestRefuses checks that malformed SPQR messages and key indexes outside
// libsignal's limits are refused as invalid messages.
func TestRefuses(t *testing.T) {
	cases := map[string][]byte{
		"epoch 0":           {0x01, 0x00, 0x01, 0x00},
		"epoch 2 too early": {0x01, 0x02, 0x01, 0x00},
		"index 0 (no key)":  {0x01, 0x01, 0x00, 0x00},
		"type missing":      {0x01, 0x01, 0x01},
		"type 7":            {0x01, 0x01, 0x01, 0x07},
		"chunk truncated":   append([]byte{0x01, 0x01, 0x01, 0x01, 0x00}, make([]byte, 31)...),
		"chunk index > 16b": append([]byte{0x01, 0x01, 0x01, 0x01, 0x80, 0x80, 0x04}, make([]byte, 32)...),
		"index > 32 bits":   {0x01, 0x01, 0x80, 0x80, 0x80, 0x80, 0x10, 0x00},
		"jump 25,001":       {0x01, 0x01, 0xa9, 0xc3, 0x01, 0x00},
		"forged header":     append([]byte{0x01, 0x01, 0x01, 0x01, 0x02}, make([]byte, 32)...),
	}
	for name, msg := range cases {
		_, b := pair(t)
		if name == "forged header" { // two chunks complete the header with a bad MAC
			b.Recv(append([]byte{0x01, 0x01, 0x02, 0x01, 0x00}, make([]byte, 32)...))
			b.Recv(append([]byte{0x01, 0x01, 0x03, 0x01, 0x01}, make([]byte, 32)...))
		}
		if _, err := b.Recv(msg); !errors.Is(err, errs.InvalidMessage) {
			t.Errorf("%s: %v", name, err)
		}
	}
	_, b := pair(t)
	if _, err := b.Recv([]byte{0x01, 0x01, 0xa8, 0xc3, 0x01, 0x00}); err != nil {
		t.Errorf("jump of exactly 25,000 refused: %v", err)
	}
	_, b = pair(t)
	if _, err := b.Recv(append([]byte{0x01, 0x01, 0x01, 0x00}, 0xEE, 0xFF)); err != nil {
		t.Errorf("trailing bytes refused: %v", err)
	}
	// libsignal 0.103 reads any non-zero version byte as v1.
	a, b := pair(t)
	msg, key, _ := a.Send()
	msg[0] = 0x7f
	if got, err := b.Recv(msg); err != nil || got != key {
		t.Errorf("version byte 0x7f: %v", err)
	}
	if _, err := NewState(make([]byte, 31), A2B, Params{}); err == nil {
		t.Error("31-byte auth key accepted")
	}
}

// TestVersionNegotiation checks libsignal's two refusals of a peer without
// SPQR: below the minimum version before anything was received, a version
// mismatch after.
func TestVersionNegotiation(t *testing.T) {
	a, b := pair(t)
	for _, msg := range [][]byte{nil, {}, {0x00, 0x01, 0x01, 0x00}} {
		_, err := b.Recv(msg)
		if !errors.Is(err, errs.InvalidMessage) || !strings.Contains(err.Error(), "minimum version") {
			t.Errorf("%x before negotiation: %v", msg, err)
		}
	}
	m, _, _ := a.Send()
	if _, err := b.Recv(m); err != nil {
		t.Fatal(err)
	}
	enc, _ := b.MarshalBinary()
	var c State
	c.UnmarshalBinary(enc)
	for _, s := range []*State{b, &c} {
		_, err := s.Recv(nil)
		if !errors.Is(err, errs.InvalidMessage) || !strings.Contains(err.Error(), "version mismatch") {
			t.Errorf("empty message after negotiation: %v", err)
		}
	}
}

// TestStateEncoding checks formats, round trips at every phase, and the
// refusal of malformed or inconsistent encodings.
func TestStateEncoding(t *testing.T) {
	a, b := pair(t)
	pa, pb := &peer{name: "a", s: a}, &peer{name: "b", s: b}
	for range 200 {
		for _, p := range [][2]*peer{{pa, pb}, {pb, pa}} {
			p[1].recv(t, p[0].send(t))
			enc, err := p[1].s.MarshalBinary()
			if err != nil || enc[0] != formatBraid {
				t.Fatalf("format %#x, %v", enc[0], err)
			}
			var c State
			if err := c.UnmarshalBinary(enc); err != nil {
				t.Fatal(err)
			}
			again, _ := c.MarshalBinary()
			if !bytes.Equal(enc, again) {
				t.Fatal("encoding does not round-trip")
			}
		}
	}
	enc, _ := a.MarshalBinary()
	bad := [][]byte{nil, {0x03}, {formatBraid}, {formatBraid, 0x08, 1}, enc[:len(enc)-1], append(bytes.Clone(enc), 0)}
	for _, x := range bad {
		var s State
		if err := s.UnmarshalBinary(x); !errors.Is(err, errs.InvalidState) {
			t.Errorf("UnmarshalBinary(%x…): %v", x[:min(len(x), 6)], err)
		}
	}
	// A chain and a braid from different sessions or epochs are refused.
	fresh, _ := pair(t)
	mixed := mixState(t, a, fresh)
	var s State
	if err := s.UnmarshalBinary(mixed); !errors.Is(err, errs.InvalidState) {
		t.Errorf("state with a chain behind its braid accepted: %v", err)
	}
	if got := fmt.Sprintf("%v %+v %#v %s %x %v %+v %#v", a, a, a, a, a, *a, *a, struct{ S State }{*a}); strings.Count(got, "redacted") != 8 {
		t.Errorf("state not redacted: %s", got)
	}
}

// mixState encodes a's braid with b's chain.
func mixState(t *testing.T, a, b *State) []byte {
	out := pb.AppendMessage([]byte{formatBraid}, 2, b.chain.Append)
	return pb.AppendMessage(out, 3, func(out []byte) []byte {
		out, _ = a.braid.AppendBinary(out)
		return out
	})
}

func FuzzRecv(f *testing.F) {
	a, _ := pair(f)
	for range 5 {
		m, _, _ := a.Send()
		f.Add(m)
	}
	f.Add([]byte{0x01, 0x01, 0x01, 0x04})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, bob := pair(t)
		before, _ := bob.MarshalBinary()
		c := bob.Clone()
		if _, err := c.Recv(b); err != nil {
			if !errors.Is(err, errs.InvalidMessage) {
				t.Fatalf("untyped error %v", err)
			}
			after, _ := bob.MarshalBinary()
			if !bytes.Equal(before, after) {
				t.Fatal("Recv on a clone changed the original")
			}
			return
		}
		if _, err := c.MarshalBinary(); err != nil {
			t.Fatal(err)
		}
	})
}

func FuzzUnmarshalState(f *testing.F) {
	a, b := pair(f)
	for range 40 {
		m, _, _ := a.Send()
		b.Recv(m)
		m, _, _ = b.Send()
		a.Recv(m)
		enc, _ := b.MarshalBinary()
		f.Add(enc)
	}
	f.Fuzz(func(t *testing.T, enc []byte) {
		var s State
		if err := s.UnmarshalBinary(enc); err != nil {
			if !errors.Is(err, errs.InvalidState) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		again, _ := s.MarshalBinary()
		var s2 State
		if err := s2.UnmarshalBinary(again); err != nil {
			t.Fatalf("re-encoded state does not decode: %v", err)
		}
		s.Send()
		s.Recv([]byte{0x01, 0x01, 0x05, 0x00})
	})
}

// TestPlanRecvChangesNothing: over a conversation that runs through several
// epochs (so through every braid phase, and the epoch changes that take
// ApplyRecv's copy), PlanRecv never changes the state, a plan gives the
// sender's key, and a plan is refused by a state it was not made on.
func TestPlanRecvChangesNothing(t *testing.T) {
	x, y := pair(t)
	enc := func(s *State) []byte {
		b, err := s.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for i := range 400 {
		if i%3 == 0 { // mostly alternating, sometimes two in a row
			x, y = y, x
		}
		msg, key, err := x.Send()
		if err != nil {
			t.Fatal(err)
		}
		before := enc(y)
		var p RecvPlan
		got, err := y.PlanRecv(msg, &p)
		if err != nil || got != key {
			t.Fatalf("message %d: plan gives another key (%v)", i, err)
		}
		if !bytes.Equal(enc(y), before) {
			t.Fatalf("message %d: PlanRecv changed the state", i)
		}
		if err := x.ApplyRecv(&p); err == nil {
			t.Fatalf("message %d: a plan applied to another state", i)
		}
		if err := y.ApplyRecv(&p); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if _, err := y.PlanRecv(msg, &p); err == nil {
			t.Fatalf("message %d: its key planned twice", i)
		}
	}
	if x.Epoch() < 4 {
		t.Fatalf("the conversation reached epoch %d only", x.Epoch())
	}
}

// TestRecvPlanWipe: a plan never applied has its seed and its copy of the
// kept keys cleared by Wipe; an applied plan's kept keys are the state's and
// stay.
func TestRecvPlanWipe(t *testing.T) {
	x, y := pair(t)
	var msgs [][]byte
	for range 3 {
		m, _, err := x.Send()
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, m)
	}
	// The third message first: the first two are kept as skipped keys.
	if _, err := y.Recv(msgs[2]); err != nil {
		t.Fatal(err)
	}
	var p RecvPlan
	if _, err := y.PlanRecv(msgs[0], &p); err != nil {
		t.Fatal(err)
	}
	kept := p.half.kept[:cap(p.half.kept)]
	if len(kept) == 0 || p.half.seed == [32]byte{} {
		t.Fatal("the plan holds no key material to wipe")
	}
	p.Wipe()
	for _, k := range kept {
		if k != (keptKey{}) {
			t.Fatal("Wipe left a kept key of an unapplied plan")
		}
	}
	if _, err := y.PlanRecv(msgs[0], &p); err != nil {
		t.Fatal(err)
	}
	if err := y.ApplyRecv(&p); err != nil {
		t.Fatal(err)
	}
	p.Wipe()
	if _, err := y.Recv(msgs[1]); err != nil {
		t.Fatalf("Wipe of an applied plan cleared the state's kept key: %v", err)
	}
}
