package group

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/skymsg/sky/protocol/curve"
)

// keyring holds the identity keys of the test users, as each client pins
// the others'.
type keyring map[string]curve.KeyPair

func newKeyring(ids ...string) keyring {
	k := keyring{}
	for _, id := range ids {
		k[id] = curve.GenerateKeyPair()
	}
	return k
}

func (k keyring) signer(id string) *Signer {
	return &Signer{ID: id, Key: k[id], Keys: func(x string) (curve.PublicKey, bool) {
		kp, ok := k[x]
		return kp.Public, ok
	}}
}

// signedCreate makes a signed group of alice (admin) and members.
func signedCreate(t testing.TB, k keyring, members ...string) Change {
	t.Helper()
	ch, err := Create(ID{1}, "Desk", alice, members, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := (*Record)(nil).Seal(&ch, k.signer(alice)); err != nil {
		t.Fatal(err)
	}
	return ch
}

// signedChange is an admin's signed change of r.
func signedChange(t testing.TB, k keyring, r *Record, by string, edit func(*State)) Change {
	t.Helper()
	ch, err := r.Propose(by, edit)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Seal(&ch, k.signer(by)); err != nil {
		t.Fatal(err)
	}
	return ch
}

func mustSigned(t testing.TB, r *Record, ch Change, self string) *Record {
	t.Helper()
	next, _, err := ApplySigned(r, ch, ch.Author, self)
	if err != nil {
		t.Fatalf("%s applying v%d by %s: %v", self, ch.Version, ch.Author, err)
	}
	return next
}

func makeAdmin(ids ...string) func(*State) {
	return func(s *State) { s.Admins = append(s.Admins, ids...) }
}

func TestSignedCreate(t *testing.T) {
	k := newKeyring(alice, bob, carol)
	create := signedCreate(t, k, bob, carol)
	if create.ID != IDFor(create.Proof.Chain[0].GroupKey) || create.Author != alice {
		t.Fatalf("the group ID does not commit to its key: %+v", create.Proof.Chain[0])
	}
	rb := mustSigned(t, nil, create, bob)
	ra := mustSigned(t, nil, create, alice)
	v2 := signedChange(t, k, ra, alice, makeAdmin(bob))
	rb = mustSigned(t, rb, v2, bob)
	// bob, now admin, signs; carol has seen neither v2 nor v3 and
	// accepts v3 from bob's proof alone (it carries v2's grant).
	v3 := signedChange(t, k, rb, bob, func(s *State) { s.Name = "Bob's" })
	rc := mustSigned(t, mustSigned(t, nil, create, carol), v3, carol)
	if rc.State.Name != "Bob's" || !slices.Equal(rc.State.Admins, []string{alice, bob}) {
		t.Fatalf("carol: %+v", rc.State)
	}
	if len(v3.Proof.Chain) != 3 {
		t.Fatalf("v3's proof has %d versions, want genesis, grant, head", len(v3.Proof.Chain))
	}
}

// evilCase is a hostile change and what the member must say of it.
type evilCase struct {
	name string
	// make returns the member's record, the change, who delivers it.
	make func(t *testing.T) (*Record, Change, string)
	want error
	// rule: refused by a rule older than signatures (the version
	// order), not by a check this test can turn off.
	rule bool
}

// TestSignedEvil: hostile changes a member or invitee must refuse — and
// that each is refused only because signatures are checked: with the
// check off (checkSignatures = false) every one of them is accepted.
func TestSignedEvil(t *testing.T) {
	k := newKeyring(alice, bob, carol, dave, eve)
	create := signedCreate(t, k, bob, carol)
	ra := mustSigned(t, nil, create, alice)
	rc := mustSigned(t, nil, create, carol)
	cases := []evilCase{{
		name: "a rival copy raced to an invitee",
		make: func(t *testing.T) (*Record, Change, string) {
			// eve makes her own group with the real ID, herself admin.
			s := State{ID: create.ID, Version: 5, Name: "Desk", Members: []string{alice, bob, carol, dave, eve}, Admins: []string{eve}, Timer: time.Hour}
			ch := Change{State: s}
			if err := (*Record)(nil).Seal(&ch, k.signer(eve)); err != nil {
				t.Fatal(err)
			}
			ch.ID = create.ID // Seal gave it the ID of eve's own key
			ch.Proof.Chain[0].ID = create.ID
			ch.Proof.Chain[0].StateDigest = StateDigest(&ch.State)
			return nil, ch, eve
		},
		want: ErrBadSignature,
	}, {
		name: "a forged admin grant by a member",
		make: func(t *testing.T) (*Record, Change, string) {
			ch := signedChange(t, k, ra, alice, func(s *State) { s.Name = "x" })
			ch.Admins = []string{alice, carol}
			h := ch.Proof.Head()
			h.Added, h.Signer = []AdminKey{{ID: carol, Key: k[carol].Public}}, carol
			h.StateDigest = StateDigest(&ch.State)
			d := h.Digest()
			h.Sig = k[carol].Private.Sign(sigLabel, d[:])
			return rc, ch, carol
		},
		want: ErrBadSignature,
	}, {
		name: "an admin grant altered after signing",
		make: func(t *testing.T) (*Record, Change, string) {
			ch := signedChange(t, k, ra, alice, makeAdmin(bob))
			ch.Admins = []string{alice, bob, carol}
			h := ch.Proof.Head()
			h.Added = append(slices.Clone(h.Added), AdminKey{ID: carol, Key: k[carol].Public})
			h.StateDigest = StateDigest(&ch.State)
			return rc, ch, bob
		},
		want: ErrBadSignature,
	}, {
		name: "a change signed by a removed admin",
		make: func(t *testing.T) (*Record, Change, string) {
			v2 := signedChange(t, k, ra, alice, makeAdmin(bob))
			ra2 := mustSigned(t, ra, v2, alice)
			rb2 := mustSigned(t, mustSigned(t, nil, create, bob), v2, bob)
			v3 := signedChange(t, k, ra2, alice, remove(bob))
			rc3 := mustSigned(t, mustSigned(t, rc, v2, carol), v3, carol)
			// bob, removed, signs from the copy he kept.
			late, err := rb2.Propose(bob, add(eve))
			if err != nil {
				t.Fatal(err)
			}
			late.Version = 9 // ahead of the group, not beside v3
			if err := rb2.Seal(&late, k.signer(bob)); err != nil {
				t.Fatal(err)
			}
			return rc3, late, bob
		},
		want: ErrBadSignature,
	}, {
		name: "a replayed old version",
		make: func(t *testing.T) (*Record, Change, string) {
			v2 := signedChange(t, k, ra, alice, add(dave))
			ra2 := mustSigned(t, ra, v2, alice)
			v3 := signedChange(t, k, ra2, alice, remove(dave))
			return mustSigned(t, mustSigned(t, rc, v2, carol), v3, carol), v2, alice
		},
		want: ErrStale,
		rule: true,
	}, {
		name: "an unsigned change of a signed group",
		make: func(t *testing.T) (*Record, Change, string) {
			ch, _ := ra.Propose(alice, add(eve))
			ch.Proof = nil
			return rc, ch, alice
		},
		want: ErrUnsigned,
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, ch, peer := c.make(t)
			if _, _, err := ApplySigned(r, ch, peer, carol); !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			if c.rule {
				return
			}
			checkSignatures = false
			defer func() { checkSignatures = true }()
			if _, _, err := ApplySigned(r, ch, peer, carol); err != nil {
				t.Fatalf("with signatures unchecked, still refused: %v (so the test does not show the check matters)", err)
			}
		})
	}
}

// TestSignedConcurrent: two admins change the group at once; members that
// see the changes in either order settle on the same state, and a removal
// beats the removed admin's concurrent change whatever the digests.
func TestSignedConcurrent(t *testing.T) {
	k := newKeyring(alice, bob, carol, dave)
	create := signedCreate(t, k, bob, carol, dave)
	ra := mustSigned(t, nil, create, alice)
	v2 := signedChange(t, k, ra, alice, makeAdmin(bob))
	ra = mustSigned(t, ra, v2, alice)
	rb := mustSigned(t, mustSigned(t, nil, create, bob), v2, bob)
	rc := mustSigned(t, mustSigned(t, nil, create, carol), v2, carol)
	for _, tc := range []struct {
		name   string
		x, y   func(*State)
		winner string // "" the greater digest
	}{
		{"rename and timer", func(s *State) { s.Name = "A" }, func(s *State) { s.Timer = time.Minute }, ""},
		{"admin changes at once", makeAdmin(carol), makeAdmin(dave), ""},
		{"a removal beats the removed", func(s *State) { s.Admins = []string{alice} }, func(s *State) { s.Name = "B" }, alice},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := signedChange(t, k, ra, alice, tc.x)
			y := signedChange(t, k, rb, bob, tc.y)
			var states []State
			for _, order := range [][]Change{{x, y}, {y, x}} {
				r := rc
				for _, ch := range order {
					if next, _, err := ApplySigned(r, ch, ch.Author, carol); err == nil {
						r = next
					} else if !errors.Is(err, ErrConflict) && !errors.Is(err, ErrBadSignature) {
						t.Fatal(err)
					}
				}
				states = append(states, r.State)
			}
			if !reflect.DeepEqual(states[0], states[1]) {
				t.Fatalf("orders disagree:\n%+v\n%+v", states[0], states[1])
			}
			if tc.winner == alice && !reflect.DeepEqual(states[0], x.State) {
				t.Fatalf("the removal lost: %+v", states[0])
			}
		})
	}
}

// TestSignedOverrule: bob makes two changes while alice, at once, takes his
// admin right away: members who had taken bob's changes switch to alice's,
// members who had alice's refuse bob's — all end on alice's.
func TestSignedOverrule(t *testing.T) {
	k := newKeyring(alice, bob, carol)
	create := signedCreate(t, k, bob, carol)
	ra := mustSigned(t, nil, create, alice)
	v2 := signedChange(t, k, ra, alice, makeAdmin(bob))
	ra = mustSigned(t, ra, v2, alice)
	rb := mustSigned(t, mustSigned(t, nil, create, bob), v2, bob)
	rc := mustSigned(t, mustSigned(t, nil, create, carol), v2, carol)
	b3 := signedChange(t, k, rb, bob, func(s *State) { s.Name = "b3" })
	rb3 := mustSigned(t, rb, b3, bob)
	b4 := signedChange(t, k, rb3, bob, func(s *State) { s.Name = "b4" })
	a3 := signedChange(t, k, ra, alice, func(s *State) { s.Admins = []string{alice} })
	// carol took bob's two changes first.
	rcb := mustSigned(t, mustSigned(t, rc, b3, carol), b4, carol)
	got := mustSigned(t, rcb, a3, carol)
	if !reflect.DeepEqual(got.State, a3.State) {
		t.Fatalf("carol stayed on %+v", got.State)
	}
	// carol took alice's first: bob's later change is refused.
	rca := mustSigned(t, rc, a3, carol)
	if _, _, err := ApplySigned(rca, b4, bob, carol); err == nil {
		t.Fatal("bob's change after his removal was accepted")
	}
	// Then alice goes on; carol (who switched) follows.
	a4 := signedChange(t, k, mustSigned(t, ra, a3, alice), alice, func(s *State) { s.Name = "a4" })
	if r := mustSigned(t, got, a4, carol); r.State.Name != "a4" {
		t.Fatalf("after the switch: %+v", r.State)
	}
}

// TestMigration: an unsigned group's admin makes the signed group that
// replaces it, under a new ID that commits to a group key; members move to
// it only when an admin of the old group sends it. Then only signed
// changes count, and an unsigned invitation is refused.
func TestMigration(t *testing.T) {
	k := newKeyring(alice, bob, carol)
	legacy := mustCreate(t, bob, carol)
	legacy.Admins = []string{alice, bob}
	ra, _ := mustApply(t, nil, legacy, alice)
	rc, _ := mustApply(t, nil, legacy, carol)
	ch := signedChange(t, k, ra, alice, add(dave))
	g := ch.Proof.Chain[0]
	if g.From != legacy.ID || ch.ID == legacy.ID || ch.ID != IDFor(g.GroupKey) || !slices.Equal(ch.Admins, []string{alice, bob}) {
		t.Fatalf("migration: %+v", g)
	}
	if _, _, err := ApplySigned(rc, ch, alice, carol); !errors.Is(err, ErrRival) {
		t.Fatalf("a signed change applied to the unsigned record: %v", err)
	}
	rc2 := mustSigned(t, nil, ch, carol)
	if !Moves(rc, ch, alice, carol) || Moves(rc, ch, bob, carol) {
		t.Fatal("the move must come from its signer, an admin of the old group")
	}
	if !slices.Equal(rc2.State.Members, []string{alice, bob, carol, dave}) {
		t.Fatalf("migrated: %+v", rc2.State)
	}
	ra2 := mustSigned(t, nil, ch, alice)
	unsigned, err := ra2.Propose(alice, add(eve))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ApplySigned(rc2, unsigned, alice, carol); !errors.Is(err, ErrUnsigned) {
		t.Fatalf("an unsigned change after the migration: %v", err)
	}
	if _, _, err := ApplySigned(nil, legacy, alice, carol); !errors.Is(err, ErrUnsigned) {
		t.Fatalf("an unsigned invitation: %v", err)
	}
}

func TestProofEncoding(t *testing.T) {
	k := newKeyring(alice, bob, carol)
	create := signedCreate(t, k, bob, carol)
	ra := mustSigned(t, nil, create, alice)
	v2 := signedChange(t, k, ra, alice, makeAdmin(bob))
	ra = mustSigned(t, ra, v2, alice)
	v3 := signedChange(t, k, ra, alice, func(s *State) { s.Link = [32]byte{7} })
	ra = mustSigned(t, ra, v3, alice)
	b, err := v3.Proof.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParseProof(b)
	if err != nil || !reflect.DeepEqual(p, v3.Proof) {
		t.Fatalf("round trip: %v", err)
	}
	rb, err := ra.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ParseRecord(rb); err != nil || !reflect.DeepEqual(got, ra) {
		t.Fatalf("record round trip: %v", err)
	}
	for i := 1; i < len(b); i++ {
		if p, err := ParseProof(b[:i]); err == nil {
			if _, err := p.Verify(&v3.State); err == nil {
				t.Fatalf("a %d-byte prefix verifies", i)
			}
		}
	}
	if _, err := ParseProof(append(slices.Clone(b), 0x08, 0x01)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a trailing field: %v", err)
	}
}

func FuzzParseProof(f *testing.F) {
	k := newKeyring(alice, bob, carol)
	create := signedCreate(f, k, bob, carol)
	ra := mustSigned(f, nil, create, alice)
	v2 := signedChange(f, k, ra, alice, makeAdmin(bob))
	b, _ := v2.Proof.MarshalBinary()
	f.Add(b)
	b1, _ := create.Proof.MarshalBinary()
	f.Add(b1)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseProof(b)
		if err != nil {
			return
		}
		b2, err := p.MarshalBinary()
		if err != nil || string(b2) != string(b) {
			t.Fatalf("a parsed proof does not encode to the same bytes: %v", err)
		}
		p.Verify(&v2.State) // must not panic
	})
}

// BenchmarkChain1000 is a 1,000-member group after 1,000 signed changes
// (one in ten changes the admins): what an invitee verifies, how big that
// proof is, and what a member pays to apply one more change.
func BenchmarkChain1000(b *testing.B) {
	ids := make([]string, MaxMembers-1)
	for i := range ids {
		ids[i] = testID(i + 1)
	}
	k := newKeyring(append([]string{alice}, ids[:20]...)...)
	create := signedCreate(b, k, ids...)
	r := mustSigned(b, nil, create, alice)
	for i := range 1000 {
		edit := func(s *State) { s.Name = testID(i) }
		if i%10 == 0 {
			a := ids[i/10%20]
			edit = func(s *State) {
				if s.IsAdmin(a) {
					s.Admins = slices.DeleteFunc(s.Admins, func(x string) bool { return x == a })
				} else {
					s.Admins = append(s.Admins, a)
				}
			}
		}
		r = mustSigned(b, r, signedChange(b, k, r, alice, edit), alice)
	}
	enc, _ := r.Proof.MarshalBinary()
	rec, _ := r.MarshalBinary()
	b.Run("verify", func(b *testing.B) {
		for b.Loop() {
			if _, err := r.Proof.Verify(&r.State); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(enc)), "proof-bytes")
		b.ReportMetric(float64(len(r.Proof.Chain)), "proof-versions")
		b.ReportMetric(float64(len(rec)), "record-bytes")
	})
	b.Run("load", func(b *testing.B) {
		for b.Loop() {
			if _, err := ParseRecord(rec); err != nil {
				b.Fatal(err)
			}
		}
	})
	next := signedChange(b, k, r, alice, func(s *State) { s.Name = "last" })
	b.Run("apply", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := ApplySigned(r, next, alice, ids[500]); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestHeads: how a member compares another's head with its own, and how
// often it asks or answers about one group and member.
func TestHeads(t *testing.T) {
	k := newKeyring(alice, bob)
	create := signedCreate(t, k, bob)
	r1 := mustSigned(t, nil, create, alice)
	r2 := mustSigned(t, r1, signedChange(t, k, r1, alice, func(s *State) { s.Name = "two" }), alice)
	rival := mustSigned(t, r1, signedChange(t, k, r1, alice, func(s *State) { s.Name = "other" }), alice)
	for _, tc := range []struct {
		name string
		r    *Record
		head []byte
		want int
	}{
		{"same", r2, r2.HeadBytes(), 0},
		{"newer", r1, r2.HeadBytes(), 1},
		{"older", r2, r1.HeadBytes(), -1},
		{"rival of the same version", r2, rival.HeadBytes(), 1},
		{"none", r2, nil, 0},
		{"malformed", r2, r2.HeadBytes()[:39], 0},
		{"unsigned group", &Record{State: r2.State}, r1.HeadBytes(), 0},
	} {
		if got := tc.r.compareHead(tc.head); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
	var l syncLimiter
	now := time.Unix(1000, 0)
	if !l.allow("x", now) || l.allow("x", now.Add(syncEvery/2)) || !l.allow("y", now) || !l.allow("x", now.Add(syncEvery)) {
		t.Fatal("the limiter allows the wrong ones")
	}
}

// TestSignedConvergence: rounds of concurrent signed changes by three
// admins — renames, timers, and admins taking each other's rights away —
// delivered to four members each in its own random order, with replays:
// every member ends on the same state and head, whatever the order, once
// they have exchanged their heads (some changes never reach some members).
// A deterministic replay of many seeds (SKY_SLOW=1: 3,000).
func TestSignedConvergence(t *testing.T) {
	k := newKeyring(alice, bob, carol, dave, eve)
	admins := []string{alice, bob, carol}
	create := signedCreate(t, k, bob, carol, dave, eve)
	r0 := mustSigned(t, nil, create, alice)
	grant := signedChange(t, k, r0, alice, makeAdmin(bob, carol))
	base := mustSigned(t, r0, grant, alice)
	seeds, rounds := uint64(40), 5
	if os.Getenv("SKY_SLOW") != "" {
		seeds, rounds = 1500, 12 // past MaxRecent; a few minutes
	}
	for seed := range seeds {
		rng := rand.New(rand.NewPCG(seed, 22))
		// Each admin proposes on its own copy; after each round every
		// admin has the round's changes, in its own order (so an admin
		// never builds on a branch its own client refused).
		var changes []Change
		views := map[string]*Record{alice: base, bob: base, carol: base}
		for range rounds {
			var round []Change
			for _, a := range admins {
				cur := views[a]
				if rng.IntN(3) == 0 || !cur.State.IsAdmin(a) {
					continue
				}
				ch, err := cur.Propose(a, func(s *State) {
					switch rng.IntN(3) {
					case 0:
						s.Name = fmt.Sprintf("%s-%d", a, rng.IntN(1000))
					case 1:
						s.Timer = time.Duration(5+rng.IntN(100)) * time.Second
					default:
						other := admins[rng.IntN(len(admins))]
						s.Admins = slices.DeleteFunc(slices.Clone(s.Admins), func(x string) bool { return x == other && x != a })
						s.Name = "x" + a
					}
				})
				if err != nil {
					continue
				}
				if err := cur.Seal(&ch, k.signer(a)); err != nil {
					t.Fatal(err)
				}
				changes, round = append(changes, ch), append(round, ch)
				views[a] = mustSigned(t, cur, ch, a)
			}
			for _, x := range admins {
				order := slices.Clone(round)
				rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
				for _, ch := range order {
					if next, _, err := ApplySigned(views[x], ch, ch.Author, x); err == nil {
						views[x] = next
					}
				}
			}
		}
		var finals []*Record
		for range 4 {
			order := slices.Clone(changes)
			rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
			order = append(order, order[:rng.IntN(len(order)+1)]...)
			order = order[rng.IntN(len(order)/3+1):] // some never arrive (withheld)
			r := mustSigned(t, mustSigned(t, nil, create, dave), grant, dave)
			for _, ch := range order {
				if next, _, err := ApplySigned(r, ch, ch.Author, dave); err == nil {
					r = next
				}
			}
			finals = append(finals, r)
		}
		// Members and admins compare heads: each hands its state to the
		// others, as the chain-head exchange does, until none moves.
		for _, a := range admins {
			finals = append(finals, views[a])
		}
		for changed := true; changed; {
			changed = false
			for i := range finals {
				for j := range finals {
					f := finals[j]
					ch := Change{State: f.State.clone(), Proof: f.Proof, Ancestry: f.Recent[:len(f.Recent)-1]}
					if next, _, err := ApplySigned(finals[i], ch, f.Author, dave); err == nil {
						finals[i], changed = next, true
					}
				}
			}
		}
		for _, f := range finals[1:] {
			if !reflect.DeepEqual(f.State, finals[0].State) || !slices.Equal(f.HeadBytes(), finals[0].HeadBytes()) {
				for _, ch := range changes {
					h := ch.Proof.Head()
					d := h.Digest()
					t.Logf("v%d %x prev %x by %s removes %v admins %v name %s", h.Number, d[:3], h.Prev[:3], h.Signer[:1], h.Removed, ch.Admins, ch.Name)
				}
				for _, f := range finals {
					t.Logf("final v%d %x", f.State.Version, f.HeadBytes()[8:11])
				}
				t.Fatalf("seed %d: members disagree after exchanging heads:\n%+v\n%+v", seed, f.State, finals[0].State)
			}
		}
	}
}

// TestSignedLostTo: an admin whose concurrent change lost knows it (and
// makes it again on top of the winner); the winner's author does not.
func TestSignedLostTo(t *testing.T) {
	k := newKeyring(alice, bob, carol)
	create := signedCreate(t, k, bob, carol)
	ra := mustSigned(t, nil, create, alice)
	v2 := signedChange(t, k, ra, alice, makeAdmin(bob))
	ra = mustSigned(t, ra, v2, alice)
	rb := mustSigned(t, mustSigned(t, nil, create, bob), v2, bob)
	x := signedChange(t, k, ra, alice, func(s *State) { s.Name = "X" })
	y := signedChange(t, k, rb, bob, func(s *State) { s.Timer = time.Minute })
	ra, rb = mustSigned(t, ra, x, alice), mustSigned(t, rb, y, bob)
	na, _, errA := ApplySigned(ra, y, bob, alice)
	nb, _, errB := ApplySigned(rb, x, alice, bob)
	if (errA == nil) == (errB == nil) {
		t.Fatalf("exactly one must give way: %v, %v", errA, errB)
	}
	loser, won := ra, na
	if errA != nil {
		loser, won = rb, nb
	}
	if !loser.lostTo(won) {
		t.Fatal("the loser does not see it lost")
	}
	if redo, err := won.Redo(loser.Author, loser.Base, &loser.State); err != nil || redo.Version != won.State.Version+1 {
		t.Fatalf("redo: %+v, %v", redo, err)
	}
	if won.lostTo(won) || ra.lostTo(mustSigned(t, ra, signedChange(t, k, ra, alice, add(dave)), alice)) {
		t.Fatal("a change that was not lost")
	}
}

// TestParseLink: invite links parse to what they name and nothing else
// parses.
func TestParseLink(t *testing.T) {
	good := Link{Admin: alice, Group: ID{1, 2}, Secret: []byte("0123456789abcdef")}
	if l, err := ParseLink(" " + good.String() + "\n"); err != nil || !reflect.DeepEqual(l, good) {
		t.Fatalf("%+v, %v", l, err)
	}
	for _, bad := range []string{"", "sky:join:", good.String() + ":x", "sky:join:AAAAAAAAAA:" + good.Group.String() + ":" + "30313233343536373839616263646566",
		strings.Replace(good.String(), "sky:join:", "sky:", 1), good.String()[:len(good.String())-2], good.String() + "00"} {
		if _, err := ParseLink(bad); !errors.Is(err, ErrBadLink) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func FuzzParseLink(f *testing.F) {
	f.Add(Link{Admin: alice, Group: ID{1, 2}, Secret: []byte("0123456789abcdef")}.String())
	f.Add("sky:join:")
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseLink(s)
		if err != nil {
			return
		}
		if again, err := ParseLink(l.String()); err != nil || !reflect.DeepEqual(again, l) {
			t.Fatalf("%q does not parse back: %v", l.String(), err)
		}
	})
}
