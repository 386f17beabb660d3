package interop

import (
	"regexp"
	"testing"
)

// TestSessionReset proves that a fresh bundle (new signed and Kyber prekeys)
// replaces a live session: the resetting side starts a new session with a
// PreKey message naming the new prekeys, the other side accepts it, and a
// message of the old session still in flight decrypts afterwards from the
// archived state. Either side may be the one that resets.
func TestSessionReset(t *testing.T) {
	for _, resetter := range []string{"initiator", "responder"} {
		t.Run(resetter+"_resets", func(t *testing.T) {
			forEachPairing(t, func(t *testing.T, a, b *side) {
				establish(t, a, b)
				b.receive(a, a.send(b, 10))
				a.receive(b, b.send(a, 10))

				r, o := a, b // r resets its session with o using a fresh bundle of o
				if resetter == "responder" {
					r, o = b, a
				}
				old := o.send(r, 3) // in flight from the old session

				fresh, err := o.Bundle(BundleOptions{OneTimePreKey: true, NewSigned: true, NewKyber: true})
				if err != nil {
					t.Fatalf("%s: bundle: %v", o.Label, err)
				}
				prev := o.id.Bundle
				if fresh.SignedPreKeyID == prev.SignedPreKeyID || fresh.KyberPreKeyID == prev.KyberPreKeyID || fresh.PreKeyID == nil || *fresh.PreKeyID == *prev.PreKeyID {
					t.Fatalf("%s: bundle with new_signed/new_kyber kept ids (signed %d→%d, kyber %d→%d)", o.Label, prev.SignedPreKeyID, fresh.SignedPreKeyID, prev.KyberPreKeyID, fresh.KyberPreKeyID)
				}
				if err := r.ProcessBundle(o.addr(), fresh); err != nil {
					t.Fatalf("%s: process_bundle of a fresh bundle over a live session: %v", r.Label, err)
				}
				restart := r.send(o, 2)
				for i, m := range restart {
					pk, err := ParsePreKeySignalMessage(m.ct.Ciphertext)
					if m.ct.Type != 3 || err != nil {
						t.Fatalf("%s: message %d after the reset has type %d (%v), want a PreKey message", r.Label, i, m.ct.Type, err)
					}
					if pk.SignedPreKeyID != fresh.SignedPreKeyID || pk.KyberPreKeyID != fresh.KyberPreKeyID || pk.PreKeyID == nil || *pk.PreKeyID != *fresh.PreKeyID {
						t.Fatalf("%s: PreKey message after the reset names prekeys %v/%d/%d, want the fresh bundle's %d/%d/%d", r.Label, pk.PreKeyID, pk.SignedPreKeyID, pk.KyberPreKeyID, *fresh.PreKeyID, fresh.SignedPreKeyID, fresh.KyberPreKeyID)
					}
				}
				o.receive(r, restart)
				reply := o.send(r, 2)
				if reply[0].ct.Type != 2 {
					t.Fatalf("%s: reply on the new session has type %d, want 2", o.Label, reply[0].ct.Type)
				}
				r.receive(o, reply)
				r.receive(o, old) // old session, from the archive
				o.receive(r, r.send(o, 5))
				r.receive(o, o.send(r, 5))
			})
		})
	}
}

var sixtyDigits = regexp.MustCompile(`^[0-9]{60}$`)

// TestSafetyNumbers proves that both sides compute the same safety number:
// the same 60 displayable digits, and scannable forms that match as a phone
// compares them (same version, local and remote halves crossed). It also
// checks explicit identifiers, and that swapping them changes the number.
func TestSafetyNumbers(t *testing.T) {
	forEachPairing(t, func(t *testing.T, a, b *side) {
		establish(t, a, b)
		fa, err := a.Fingerprint(b.addr())
		if err != nil {
			t.Fatalf("%s: fingerprint: %v", a.Label, err)
		}
		fb, err := b.Fingerprint(a.addr())
		if err != nil {
			t.Fatalf("%s: fingerprint: %v", b.Label, err)
		}
		if !sixtyDigits.MatchString(fa.Displayable) || fa.Displayable != fb.Displayable {
			t.Fatalf("displayable safety numbers differ or are not 60 digits:\n%s: %s\n%s: %s", a.Label, fa.Displayable, b.Label, fb.Displayable)
		}
		sa, errA := ParseScannable(fa.Scannable)
		sb, errB := ParseScannable(fb.Scannable)
		if errA != nil || errB != nil {
			t.Fatalf("scannable forms do not parse: %s: %v; %s: %v", a.Label, errA, b.Label, errB)
		}
		if sa.Version != 2 || !sa.Matches(sb) {
			t.Fatalf("scannable forms do not match: %s: version %d local %x remote %x; %s: version %d local %x remote %x",
				a.Label, sa.Version, sa.Local, sa.Remote, b.Label, sb.Version, sb.Local, sb.Remote)
		}

		x, y := []byte("+14155550100"), []byte("+14155550199")
		ea, err := a.FingerprintWith(b.addr(), x, y)
		if err != nil {
			t.Fatalf("%s: fingerprint with identifiers: %v", a.Label, err)
		}
		eb, err := b.FingerprintWith(a.addr(), y, x)
		if err != nil {
			t.Fatalf("%s: fingerprint with identifiers: %v", b.Label, err)
		}
		if ea.Displayable != eb.Displayable || ea.Displayable == fa.Displayable {
			t.Fatalf("with explicit identifiers: %s: %s, %s: %s (default: %s); want equal to each other and different from the default", a.Label, ea.Displayable, b.Label, eb.Displayable, fa.Displayable)
		}
		swapped, err := a.FingerprintWith(b.addr(), y, x)
		if err != nil {
			t.Fatal(err)
		}
		if swapped.Displayable == ea.Displayable {
			t.Fatalf("%s: swapping the identifiers left the safety number unchanged", a.Label)
		}
	})
}

// TestSessionResetSameKyber is the scenario of issue 20: after a first
// session, the responder publishes a fresh bundle without new_kyber (so it
// names the Kyber prekey of the first session again), the initiator starts
// over from it, and both directions work. It does so twice, once with and
// once without a one-time prekey, so the Kyber prekey serves three sessions:
// a peer that made it one-time and deleted it on first use, yet still named
// it, fails here. The bundle must name only keys its owner still holds.
func TestSessionResetSameKyber(t *testing.T) {
	forEachPairing(t, func(t *testing.T, a, b *side) {
		establish(t, a, b)
		for round, oneTime := range []bool{true, false} {
			fresh, err := b.Bundle(BundleOptions{OneTimePreKey: oneTime})
			if err != nil {
				t.Fatalf("%s: bundle: %v", b.Label, err)
			}
			if fresh.KyberPreKeyID != b.id.Bundle.KyberPreKeyID || fresh.SignedPreKeyID != b.id.Bundle.SignedPreKeyID {
				t.Fatalf("%s: bundle without new_kyber/new_signed changed ids (kyber %d→%d, signed %d→%d)", b.Label, b.id.Bundle.KyberPreKeyID, fresh.KyberPreKeyID, b.id.Bundle.SignedPreKeyID, fresh.SignedPreKeyID)
			}
			if (fresh.PreKeyID != nil) != oneTime {
				t.Fatalf("%s: bundle with one_time_pre_key=%v has pre_key_id %v", b.Label, oneTime, fresh.PreKeyID)
			}
			if err := a.ProcessBundle(b.addr(), fresh); err != nil {
				t.Fatalf("round %d: %s: process_bundle of the fresh bundle: %v", round, a.Label, err)
			}
			restart := a.send(b, 2)
			if restart[0].ct.Type != 3 {
				t.Fatalf("round %d: %s: first message after the reset has type %d, want 3 (PreKey)", round, a.Label, restart[0].ct.Type)
			}
			b.receive(a, restart)
			reply := b.send(a, 2)
			if reply[0].ct.Type != 2 {
				t.Fatalf("round %d: %s: reply on the new session has type %d, want 2", round, b.Label, reply[0].ct.Type)
			}
			a.receive(b, reply)
			b.receive(a, a.send(b, 3))
			a.receive(b, b.send(a, 3))
		}
	})
}
