package interop

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
)

// implNamed returns the implementation called name.
func implNamed(t *testing.T, name string) implementation {
	for _, i := range implementations {
		if i.name == name {
			return i
		}
	}
	t.Fatalf("no implementation %q", name)
	return implementation{}
}

// TestSealedMulti proves sealed sender v2 (multi-recipient) between the
// peers: the initiator's implementation encrypts one SentMessage under its
// sender key for three recipient accounts of the responder's
// implementation, with one more account excluded; both implementations
// split it into byte-identical ReceivedMessages (the server's part) with
// the same devices and excluded accounts; each recipient opens its own and
// learns sender, type 7, hint and plaintext. A tampered shared part, a
// tampered C or AT, another recipient's message, and a recipient not in
// the set are refused, by the splitter or as InvalidMessage.
func TestSealedMulti(t *testing.T) {
	forEachPairing(t, func(t *testing.T, a, b *side) {
		impl := implNamed(t, b.impl)
		rs := []*side{b, newSide(t, impl, "recipient 2"), newSide(t, impl, "recipient 3")}
		outsider := newSide(t, impl, "outsider")
		excluded := newSide(t, impl, "excluded")
		for _, s := range append([]*side{a, outsider}, rs...) {
			if _, err := s.SealedConfig(SealedConfigOptions{}); err != nil {
				t.Fatalf("%s: sealed_config: %v", s.Label, err)
			}
		}
		dist := newUUID(a.rng)
		skdm, err := a.GroupCreate(dist)
		if err != nil {
			t.Fatal(err)
		}
		var addrs []Address
		for _, r := range rs {
			establish(t, a, r)
			if _, err := r.GroupProcess(a.addr(), skdm); err != nil {
				t.Fatalf("%s: group_process: %v", r.Label, err)
			}
			addrs = append(addrs, r.addr())
		}
		pt := []byte("one upload for the whole group")
		sent, err := a.SealedMultiEncrypt(dist, addrs, pt, 1, []string{excluded.id.Name})
		if err != nil {
			t.Fatalf("%s: sealed_multi_encrypt: %v", a.Label, err)
		}
		if sent[0] != 0x23 {
			t.Fatalf("%s: SentMessage version %#x, want 0x23", a.Label, sent[0])
		}

		split := func(s *side, sent []byte, who *side) Split {
			t.Helper()
			v, err := s.SealedMultiSplit(sent, who.id.Name)
			if err != nil {
				t.Fatalf("%s: sealed_multi_split for %s: %v", s.Label, who.Label, err)
			}
			return v
		}
		var received [][]byte
		for _, r := range rs {
			va, vb := split(a, sent, r), split(b, sent, r)
			if !bytes.Equal(va.Ciphertext, vb.Ciphertext) || fmt.Sprint(va.DeviceIDs, va.Excluded) != fmt.Sprint(vb.DeviceIDs, vb.Excluded) {
				t.Fatalf("the splits differ: %s: %d bytes %v %v; %s: %d bytes %v %v", a.Label, len(va.Ciphertext), va.DeviceIDs, va.Excluded, b.Label, len(vb.Ciphertext), vb.DeviceIDs, vb.Excluded)
			}
			if va.Ciphertext[0] != 0x22 || !slices.Equal(va.DeviceIDs, []uint32{uint32(r.id.DeviceID)}) || !slices.Equal(va.Excluded, []string{excluded.id.Name}) {
				t.Fatalf("split for %s: version %#x, devices %v, excluded %v; want 0x22, [%d], [%s]", r.Label, va.Ciphertext[0], va.DeviceIDs, va.Excluded, r.id.DeviceID, excluded.id.Name)
			}
			received = append(received, va.Ciphertext)
		}
		for _, s := range []*side{a, b} {
			for _, who := range []*side{outsider, excluded} {
				if _, err := s.SealedMultiSplit(sent, who.id.Name); ErrorType(err) != "InvalidMessage" {
					t.Fatalf("%s: splitting for %s, who is not a recipient: %v, want InvalidMessage", s.Label, who.Label, err)
				}
			}
		}

		refuse := func(r *side, ct []byte, what string) {
			t.Helper()
			if _, err := r.SealedDecrypt(ct, 0); ErrorType(err) != "InvalidMessage" {
				t.Fatalf("%s: sealed_decrypt of %s: %v, want InvalidMessage", r.Label, what, err)
			}
		}
		flip := func(b []byte, i int) []byte { c := bytes.Clone(b); c[i] ^= 0x01; return c }
		rm := received[0]
		refuse(b, flip(rm, 1), "a ReceivedMessage with C altered")
		refuse(b, flip(rm, 1+32), "a ReceivedMessage with AT altered")
		refuse(b, flip(rm, 1+48), "a ReceivedMessage with E altered")
		refuse(b, flip(rm, len(rm)-30), "a ReceivedMessage with the shared ciphertext altered")
		refuse(b, received[1], "another recipient's ReceivedMessage")
		refuse(outsider, rm, "a ReceivedMessage for a recipient not in the set")
		tampered := split(a, flip(sent, len(sent)-5), b)
		refuse(b, tampered.Ciphertext, "the split of a SentMessage whose shared part was altered")

		for i, r := range rs {
			u, err := r.SealedDecrypt(received[i], 0)
			if err != nil {
				t.Fatalf("%s: sealed_decrypt of its v2 message from %s: %v", r.Label, a.Label, err)
			}
			if u.SenderUUID != a.id.Name || u.SenderDeviceID != a.id.DeviceID || u.MessageType != 7 || u.ContentHint != 1 || !bytes.Equal(u.Plaintext, pt) {
				t.Fatalf("%s: unsealed %+v; want sender %s.%d, type 7, hint 1, plaintext %q", r.Label, u, a.id.Name, a.id.DeviceID, pt)
			}
		}
	})
}
