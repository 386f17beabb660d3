package group

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/skymsg/sky/wire"
)

// Sky IDs for the tests.
const (
	alice = "aaaaaaaaaa"
	bob   = "bbbbbbbbbb"
	carol = "cccccccccc"
	dave  = "dddddddddd"
	eve   = "eeeeeeeeee"
)

var gid = ID{0x42, 1}

// testID returns the i-th of many distinct Sky IDs.
func testID(i int) string {
	b := []byte("2222222222")
	for j := len(b) - 1; i > 0; j-- {
		b[j] = wire.AccountIDAlphabet[i%len(wire.AccountIDAlphabet)]
		i /= len(wire.AccountIDAlphabet)
	}
	return string(b)
}

func mustCreate(t *testing.T, members ...string) Change {
	t.Helper()
	ch, err := Create(gid, "Newsroom", alice, members, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

func mustApply(t *testing.T, r *Record, ch Change, self string) (*Record, Outcome) {
	t.Helper()
	next, out, err := Apply(r, ch, self)
	if err != nil {
		t.Fatalf("%s applying v%d by %s: %v", self, ch.Version, ch.Author, err)
	}
	return next, out
}

func propose(t *testing.T, r *Record, self string, edit func(*State)) Change {
	t.Helper()
	ch, err := r.Propose(self, edit)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

func add(ids ...string) func(*State) {
	return func(s *State) { s.Members = append(s.Members, ids...) }
}

func remove(ids ...string) func(*State) {
	return func(s *State) {
		s.Members = slices.DeleteFunc(s.Members, func(m string) bool { return slices.Contains(ids, m) })
	}
}

func TestCreateAndInvite(t *testing.T) {
	create := mustCreate(t, bob, carol, bob)
	if !slices.Equal(create.Members, []string{alice, bob, carol}) || !slices.Equal(create.Admins, []string{alice}) || create.Version != 1 {
		t.Fatalf("created %+v", create.State)
	}
	rb, out := mustApply(t, nil, create, bob)
	if !out.Diff.Joined || !slices.Equal(out.Diff.Added, []string{alice, bob, carol}) || out.Rotate || out.Removed {
		t.Fatalf("outcome %+v", out)
	}
	if got := rb.Recipients(bob); !slices.Equal(got, []string{alice, carol}) {
		t.Fatalf("bob sends to %v", got)
	}
	// An invitation must name its receiver, and be made by an admin it names.
	if _, _, err := Apply(nil, create, dave); !errors.Is(err, ErrNotMember) {
		t.Fatalf("a change of a group dave is not in: %v", err)
	}
	forged := create
	forged.Author = bob
	if _, _, err := Apply(nil, forged, carol); !errors.Is(err, ErrNotAdmin) {
		t.Fatalf("an invitation by a non-admin: %v", err)
	}
	if _, err := Create(gid, "x", alice, []string{"not an id"}, 0); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a bad ID: %v", err)
	}
	many := make([]string, MaxMembers)
	for i := range many {
		many[i] = testID(i)
	}
	if _, err := Create(gid, "x", alice, many, 0); !errors.Is(err, ErrTooMany) {
		t.Fatalf("1001 members: %v", err)
	}
	if _, err := Create(gid, "x", alice, many[:MaxMembers-1], 0); err != nil {
		t.Fatalf("1000 members: %v", err)
	}
}

// TestRefusedChanges: what a member refuses, and that a refusal changes
// nothing (Apply returns a new record and leaves the old one alone).
func TestRefusedChanges(t *testing.T) {
	create := mustCreate(t, bob, carol)
	ra, _ := mustApply(t, nil, create, alice)
	rc, _ := mustApply(t, nil, create, carol)
	v2 := propose(t, ra, alice, add(dave))
	rc2, out := mustApply(t, rc, v2, carol)
	if !slices.Equal(out.Diff.Added, []string{dave}) || out.Rotate {
		t.Fatalf("adding dave: %+v", out)
	}
	before := fmt.Sprintf("%+v", *rc2)

	nonAdmin := v2
	nonAdmin.Version, nonAdmin.Members, nonAdmin.Author = 3, []string{alice, bob, carol, dave, eve}, bob
	replay := create
	jumpByNonAdmin := nonAdmin
	jumpByNonAdmin.Version = 9
	sameVersionByNonAdmin := v2
	sameVersionByNonAdmin.Author, sameVersionByNonAdmin.Members = bob, []string{alice, bob, carol, eve}
	wrongGroup := v2
	wrongGroup.ID, wrongGroup.Version = ID{9}, 3
	noAdmins := v2
	noAdmins.Version, noAdmins.Admins = 3, nil
	for name, tc := range map[string]struct {
		ch   Change
		want error
	}{
		"a change by a member who is not an admin": {nonAdmin, ErrNotAdmin},
		"a replayed older change":                  {replay, ErrStale},
		"the same change again":                    {v2, ErrDuplicate},
		"a jump ahead by a non-admin":              {jumpByNonAdmin, ErrNotAdmin},
		"a same-version change by a non-admin":     {sameVersionByNonAdmin, ErrNotAdmin},
		"a change of another group":                {wrongGroup, ErrInvalid},
		"a state without admins":                   {noAdmins, ErrInvalid},
	} {
		next, out, err := Apply(rc2, tc.ch, carol)
		if !errors.Is(err, tc.want) || next != nil || !reflect.DeepEqual(out, Outcome{}) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
		if fmt.Sprintf("%+v", *rc2) != before {
			t.Errorf("%s changed the record", name)
		}
	}
	if _, err := rc2.Propose(carol, add(eve)); !errors.Is(err, ErrNotAdmin) {
		t.Errorf("carol proposes: %v", err)
	}
	if _, err := ra.Propose(alice, add(bob)); !errors.Is(err, ErrUnchanged) {
		t.Errorf("adding a member again: %v", err)
	}
}

// TestRemovalRotates: removing a member makes every remaining member
// replace its sender key and forget the removed one's; the removed member
// stops sending.
func TestRemovalRotates(t *testing.T) {
	create := mustCreate(t, bob, carol)
	ra, _ := mustApply(t, nil, create, alice)
	rb, _ := mustApply(t, nil, create, bob)
	rc, _ := mustApply(t, nil, create, carol)
	v2 := propose(t, ra, alice, remove(bob))
	rc, out := mustApply(t, rc, v2, carol)
	if !out.Rotate || !slices.Equal(out.Forget, []string{bob}) || !slices.Equal(out.Diff.Removed, []string{bob}) {
		t.Fatalf("carol: %+v", out)
	}
	if got := rc.Recipients(carol); !slices.Equal(got, []string{alice}) {
		t.Fatalf("carol sends to %v", got)
	}
	rb, out = mustApply(t, rb, v2, bob)
	if !out.Removed || out.Rotate || rb.Member(bob) || rb.Recipients(bob) != nil {
		t.Fatalf("bob after his removal: %+v member %v", out, rb.Member(bob))
	}
	// Bob is added again later: an invitation.
	ra, _ = mustApply(t, ra, v2, alice)
	v3 := propose(t, ra, alice, add(bob))
	rb, out = mustApply(t, rb, v3, bob)
	if !out.Diff.Joined || !rb.Member(bob) {
		t.Fatalf("bob added again: %+v", out)
	}
	// A replay of the change that removed him does nothing now.
	if _, _, err := Apply(rb, v2, bob); !errors.Is(err, ErrStale) {
		t.Fatalf("replayed removal: %v", err)
	}
}

// TestDepart: a member who leaves is excluded at once; an admin's removal
// makes it final; an admin leaves with a change that keeps an admin.
func TestDepart(t *testing.T) {
	create := mustCreate(t, bob, carol)
	ra, _ := mustApply(t, nil, create, alice)
	rc, _ := mustApply(t, nil, create, carol)
	if _, ok, err := rc.LeaveChange(carol); ok || err != nil {
		t.Fatalf("a non-admin leaves with a change: %v %v", ok, err)
	}
	ra, out, err := ra.Depart(carol, alice)
	if err != nil || !out.Rotate || !slices.Equal(out.Diff.Left, []string{carol}) {
		t.Fatalf("depart: %+v %v", out, err)
	}
	if got := ra.Recipients(alice); !slices.Equal(got, []string{bob}) || ra.Active(carol) {
		t.Fatalf("alice sends to %v", got)
	}
	if _, _, err := ra.Depart(carol, alice); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("departing twice: %v", err)
	}
	if _, _, err := ra.Depart(dave, alice); !errors.Is(err, ErrNotMember) {
		t.Fatalf("a stranger departs: %v", err)
	}
	v2 := propose(t, ra, alice, remove(carol))
	ra, out = mustApply(t, ra, v2, alice)
	if len(ra.Departed) != 0 || out.Rotate {
		t.Fatalf("after the removal: departed %v, %+v", ra.Departed, out)
	}
	// Alice, the only admin, leaves: Bob becomes admin.
	ch, ok, err := ra.LeaveChange(alice)
	if !ok || err != nil || !slices.Equal(ch.Members, []string{bob}) || !slices.Equal(ch.Admins, []string{bob}) {
		t.Fatalf("alice leaves: %+v %v %v", ch.State, ok, err)
	}
	ra, out = mustApply(t, ra, ch, alice)
	if !out.Removed || ra.Member(alice) {
		t.Fatalf("alice after leaving: %+v", out)
	}
}

// TestConcurrentChanges: two admins change the group at the same version;
// whatever order members see them in, all settle on the same state.
func TestConcurrentChanges(t *testing.T) {
	create := mustCreate(t, bob, carol, dave)
	ra, _ := mustApply(t, nil, create, alice)
	v2 := propose(t, ra, alice, func(s *State) { s.Admins = append(s.Admins, bob) })
	ra, _ = mustApply(t, ra, v2, alice)
	rb, _ := mustApply(t, nil, v2, bob)
	x := propose(t, ra, alice, add(eve))
	y := propose(t, rb, bob, remove(dave))
	if x.Version != y.Version {
		t.Fatal("not concurrent")
	}
	rc, _ := mustApply(t, nil, v2, carol)
	xy, _ := mustApply(t, rc, x, carol)
	xy, _, errXY := Apply(xy, y, carol)
	if errXY != nil && !errors.Is(errXY, ErrConflict) {
		t.Fatal(errXY)
	}
	if xy == nil {
		xy, _ = mustApply(t, rc, x, carol)
	}
	yx, _ := mustApply(t, rc, y, carol)
	if next, _, err := Apply(yx, x, carol); err == nil {
		yx = next
	} else if !errors.Is(err, ErrConflict) {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(xy.State, yx.State) || xy.Digest != yx.Digest {
		t.Fatalf("orders disagree:\n%+v\n%+v", xy.State, yx.State)
	}
	// A same-version change by someone who was no admin before it loses
	// whatever its digest.
	z := y
	z.Author, z.Admins = carol, append(slices.Clone(z.Admins), carol)
	z.Admins = slices.Sorted(slices.Values(z.Admins))
	if _, _, err := Apply(xy, z, carol); !errors.Is(err, ErrNotAdmin) {
		t.Fatalf("a concurrent change by a new admin: %v", err)
	}
}

// TestConvergence: random concurrent changes by several admins, delivered
// to every member in its own random order, with drops of earlier versions
// (jumps) and replays: every member that received the same changes ends
// with the same state, the greatest digest of the last version. A
// deterministic replay of many seeds.
func TestConvergence(t *testing.T) {
	ids := []string{alice, bob, carol, dave, eve}
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 7))
		create, err := Create(gid, "g", alice, ids[1:], 0)
		if err != nil {
			t.Fatal(err)
		}
		create.Admins = []string{alice, bob, carol}
		var changes []Change
		cur := create.State
		for v := 2; v <= 4; v++ {
			// up to three admins change version v at once, each from cur
			var round []Change
			for _, a := range []string{alice, bob, carol}[:1+rng.IntN(3)] {
				s := cur.clone()
				s.Version = uint64(v)
				s.Name = fmt.Sprintf("%s-%d", a, v)
				if rng.IntN(2) == 0 {
					s.Timer = time.Duration(5+rng.IntN(10)) * time.Second
				}
				round = append(round, Change{State: s, Author: a})
			}
			changes = append(changes, round...)
			cur = round[rng.IntN(len(round))].State
		}
		var results []State
		for range 4 {
			order := slices.Clone(changes)
			rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
			order = append(order, order[:rng.IntN(3)]...) // replays
			r, _ := mustApply(t, nil, create, dave)
			for _, ch := range order {
				if next, _, err := Apply(r, ch, dave); err == nil {
					r = next
				}
			}
			results = append(results, r.State)
		}
		var win Change
		for _, ch := range changes {
			if d, w := ch.Digest(), win.Digest(); ch.Version == 4 && (win.Version == 0 || string(d[:]) > string(w[:])) {
				win = ch
			}
		}
		if !reflect.DeepEqual(results[0], win.State) {
			t.Fatalf("seed %d: the members settled on %+v, not the greatest digest %+v", seed, results[0], win.State)
		}
		for _, s := range results[1:] {
			if !reflect.DeepEqual(s, results[0]) {
				t.Fatalf("seed %d: members disagree:\n%+v\n%+v", seed, s, results[0])
			}
		}
	}
}

func TestRecordEncoding(t *testing.T) {
	create := mustCreate(t, bob, carol, dave)
	ra, _ := mustApply(t, nil, create, alice)
	ra, _, _ = ra.Depart(dave, alice)
	ra.Left = true
	v2 := propose(t, &Record{State: ra.State}, alice, add(eve))
	r2, _ := mustApply(t, ra, v2, alice)
	for _, r := range []*Record{ra, r2} {
		b, err := r.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseRecord(b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, r) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, r)
		}
		for i := range b {
			if _, err := ParseRecord(b[:i]); err == nil && i > 0 {
				// a prefix may parse only if it ends on a field boundary
				// and still has everything required
				if got, _ := ParseRecord(b[:i]); !reflect.DeepEqual(got.State, r.State) {
					t.Fatalf("a prefix of %d bytes parsed to another state", i)
				}
			}
		}
	}
	for name, b := range map[string][]byte{
		"empty":        {},
		"garbage":      []byte("hello, world"),
		"no state":     {0x12, 0x01, 'a'},
		"fixed32 type": {0x0d, 0, 0, 0, 0},
	} {
		if _, err := ParseRecord(b); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func FuzzParseRecord(f *testing.F) {
	ch, _ := Create(gid, "g", alice, []string{bob, carol}, time.Minute)
	r, _, _ := Apply(nil, ch, bob)
	b, _ := r.MarshalBinary()
	f.Add(b)
	r2, _, _ := r.Depart(carol, bob)
	b2, _ := r2.MarshalBinary()
	f.Add(b2)
	f.Add([]byte{})
	k := newKeyring(alice, bob, carol)
	rs := mustSigned(f, nil, signedCreate(f, k, bob, carol), alice)
	rs = mustSigned(f, rs, signedChange(f, k, rs, alice, makeAdmin(bob)), alice)
	b3, _ := rs.MarshalBinary()
	f.Add(b3)
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRecord(b)
		if err != nil {
			return
		}
		// What parses encodes again, and parses to the same record.
		b2, err := r.MarshalBinary()
		if err != nil {
			t.Fatalf("a parsed record does not encode: %v", err)
		}
		r2, err := ParseRecord(b2)
		if err != nil || !reflect.DeepEqual(r, r2) {
			t.Fatalf("re-encoded record differs: %v", err)
		}
	})
}

// BenchmarkRecord1000 is what a member pays to load (and check) and to
// store the record of a full group, as it does for every group message
// and change it receives.
func BenchmarkRecord1000(b *testing.B) {
	members := make([]string, MaxMembers-1)
	for i := range members {
		members[i] = testID(i + 1)
	}
	ch, err := Create(gid, "big", alice, members, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	r, _, err := Apply(nil, ch, alice)
	if err != nil {
		b.Fatal(err)
	}
	enc, _ := r.MarshalBinary()
	b.Run("parse", func(b *testing.B) {
		for b.Loop() {
			if _, err := ParseRecord(enc); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(enc)), "record-bytes")
	})
	b.Run("marshal", func(b *testing.B) {
		for b.Loop() {
			if _, err := r.MarshalBinary(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestRedo: the admin whose concurrent change lost makes it again on top
// of the winner; what the winner already did is not done twice.
func TestRedo(t *testing.T) {
	create := mustCreate(t, bob, carol)
	create.Admins = []string{alice, bob}
	ra, _ := mustApply(t, nil, create, alice)
	rb, _ := mustApply(t, nil, create, bob)
	x := propose(t, ra, alice, func(s *State) { s.Members = append(s.Members, dave); s.Name = "X" })
	y := propose(t, rb, bob, func(s *State) { s.Members = append(s.Members, dave); s.Timer = time.Minute })
	loser, winner, own := x, y, ra
	if dx, dy := x.Digest(), y.Digest(); bytes.Compare(dx[:], dy[:]) > 0 {
		loser, winner, own = y, x, rb
	}
	mine, _ := mustApply(t, own, loser, loser.Author)
	won, _ := mustApply(t, mine, winner, loser.Author)
	redo, err := won.Redo(loser.Author, &create.State, &loser.State)
	if err != nil {
		t.Fatal(err)
	}
	if redo.Version != winner.Version+1 || !slices.Equal(redo.Members, []string{alice, bob, carol, dave}) ||
		redo.Name != "X" || redo.Timer != time.Minute || redo.Author != loser.Author {
		t.Fatalf("redone: %+v (lost %+v, won %+v)", redo.State, loser.State, winner.State)
	}
	if _, err := won.Redo(loser.Author, &create.State, &winner.State); !errors.Is(err, ErrUnchanged) {
		t.Fatalf("redoing what the winner did: %v", err)
	}
}
