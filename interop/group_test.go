package interop

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
)

// groupSend encrypts n random messages for a distribution in one batch and
// checks each SenderKeyMessage's layout and iteration.
func groupSend(t *testing.T, s *side, dist string, n int, firstIteration uint32) []message {
	t.Helper()
	msgs := make([]message, n)
	reqs := make([]Request, n)
	for i := range msgs {
		msgs[i].plaintext = s.plaintext()
		reqs[i] = GroupEncryptRequest(dist, msgs[i].plaintext)
	}
	replies, err := s.Do(reqs...)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range replies {
		err := r.Decode(&msgs[i].ct)
		if err != nil {
			t.Fatalf("%s: group_encrypt %d: %v", s.Label, i, err)
		}
		m, err := ParseSenderKeyMessage(msgs[i].ct.Ciphertext)
		if err != nil || msgs[i].ct.Type != 7 {
			t.Fatalf("%s: group message %d (type %d): %v", s.Label, i, msgs[i].ct.Type, err)
		}
		if m.Version != SenderKeyVersion || !bytes.Equal(m.DistributionID, uuidRaw(t, dist)) || m.Iteration != firstIteration+uint32(i) {
			t.Fatalf("%s: group message %d has version %#02x, distribution %x, iteration %d; want 0x33, %s, %d", s.Label, i, m.Version, m.DistributionID, m.Iteration, dist, firstIteration+uint32(i))
		}
	}
	return msgs
}

// groupReceive decrypts msgs from sender in order and checks the plaintexts.
func groupReceive(t *testing.T, s, from *side, msgs []message) {
	t.Helper()
	reqs := make([]Request, len(msgs))
	for i, m := range msgs {
		reqs[i] = GroupDecryptRequest(from.addr(), m.ct.Ciphertext)
	}
	replies, err := s.Do(reqs...)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range replies {
		got, err := DecodePlaintext(r)
		if err != nil {
			t.Fatalf("%s: group_decrypt of message %d of %d from %s: %v", s.Label, i+1, len(msgs), from.Label, err)
		}
		if !bytes.Equal(got, msgs[i].plaintext) {
			t.Fatalf("%s: group message %d from %s decrypted to %x, sent %x", s.Label, i+1, from.Label, got, msgs[i].plaintext)
		}
	}
}

// groupReject decrypts each bad ciphertext and wants it refused with one of
// the given error types.
func groupReject(t *testing.T, s, from *side, cts [][]byte, what []string, want ...string) {
	t.Helper()
	reqs := make([]Request, len(cts))
	for i, c := range cts {
		reqs[i] = GroupDecryptRequest(from.addr(), c)
	}
	replies, err := s.Do(reqs...)
	if err != nil {
		t.Fatal(err)
	}
	var bad []string
	for i, r := range replies {
		if r.OK {
			bad = append(bad, what[i]+": accepted")
		} else if !containsString(want, r.ErrorType) {
			bad = append(bad, fmt.Sprintf("%s: %s (%s)", what[i], r.ErrorType, r.Error))
		}
	}
	if len(bad) > 0 {
		t.Fatalf("%s: bad group messages from %s not refused as %v:\n  %s", s.Label, from.Label, want, strings.Join(bad, "\n  "))
	}
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func uuidRaw(t *testing.T, u string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(u, "-", ""))
	if err != nil || len(b) != 16 {
		t.Fatalf("%q is not a UUID", u)
	}
	return b
}

// TestGroups proves sender keys between the peers: a distribution message
// from one side is accepted by the other with the same distribution id,
// chain id and iteration; hundreds of group messages decrypt in shuffled
// and reversed order; replays are DuplicatedMessage; a forged signature,
// a truncated or empty message is refused without harming the chain; a
// message for a distribution never received is NoSession; and a re-sent
// distribution message carries the sender's current iteration.
func TestGroups(t *testing.T) {
	forEachPairing(t, func(t *testing.T, a, b *side) {
		dist := newUUID(a.rng)
		skdm, err := a.GroupCreate(dist)
		if err != nil {
			t.Fatalf("%s: group_create: %v", a.Label, err)
		}
		d, err := ParseSenderKeyDistribution(skdm)
		if err != nil || d.Version != SenderKeyVersion || !bytes.Equal(d.DistributionID, uuidRaw(t, dist)) || d.Iteration != 0 || d.SigningKey[0] != 0x05 || d.ChainID >= 1<<31 {
			t.Fatalf("%s: distribution message %+v (%v); want version 0x33, distribution %s, iteration 0, a 31-bit chain id", a.Label, d, err, dist)
		}
		g, err := b.GroupProcess(a.addr(), skdm)
		if err != nil {
			t.Fatalf("%s: group_process: %v", b.Label, err)
		}
		if g.DistributionID != dist || g.ChainID != d.ChainID || g.Iteration != 0 {
			t.Fatalf("%s: group_process answered %+v, want distribution %s, chain %d, iteration 0", b.Label, g, dist, d.ChainID)
		}

		msgs := groupSend(t, a, dist, 300, 0)
		groupReceive(t, b, a, shuffled(b.rng, msgs[:200]))
		groupReceive(t, b, a, reversed(msgs[200:]))

		var dups [][]byte
		var what []string
		for _, i := range []int{0, 150, 299} {
			dups = append(dups, msgs[i].ct.Ciphertext)
			what = append(what, fmt.Sprintf("message %d again", i))
		}
		groupReject(t, b, a, dups, what, "DuplicatedMessage")

		next := groupSend(t, a, dist, 2, 300)
		good := next[0].ct.Ciphertext
		n := len(good)
		groupReject(t, b, a,
			[][]byte{flipByte(good, n-1), flipByte(good, n-SenderKeySignatureSize), flipByte(good, n-SenderKeySignatureSize-3)},
			[]string{"last signature byte flipped", "first signature byte flipped", "ciphertext byte flipped"},
			"InvalidSignature")
		groupReject(t, b, a,
			[][]byte{{}, good[:1], good[:n/2], good[:n-1]},
			[]string{"empty", "version byte only", "cut in half", "last byte cut"},
			"InvalidMessage")
		groupReceive(t, b, a, next)

		other := newUUID(a.rng)
		if _, err := a.GroupCreate(other); err != nil {
			t.Fatal(err)
		}
		unknown := groupSend(t, a, other, 1, 0)
		groupReject(t, b, a, [][]byte{unknown[0].ct.Ciphertext}, []string{"message of a distribution never received"}, "NoSession")

		again, err := a.GroupCreate(dist)
		if err != nil {
			t.Fatal(err)
		}
		if d2, err := ParseSenderKeyDistribution(again); err != nil || d2.ChainID != d.ChainID || d2.Iteration != 302 {
			t.Fatalf("%s: re-sent distribution message has chain %d iteration %d (%v), want chain %d iteration 302", a.Label, d2.ChainID, d2.Iteration, err, d.ChainID)
		}

		// The other way round, delivered last-first.
		bdist := newUUID(b.rng)
		bskdm, err := b.GroupCreate(bdist)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.GroupProcess(b.addr(), bskdm); err != nil {
			t.Fatalf("%s: group_process: %v", a.Label, err)
		}
		groupReceive(t, a, b, reversed(groupSend(t, b, bdist, 500, 0)))
	})
}
