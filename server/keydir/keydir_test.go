package keydir

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/skymsg/sky/keytrans"
	"github.com/skymsg/sky/keytrans/logtree"
	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/server/store/postgres"
	"github.com/skymsg/sky/server/store/sqlite"
)

// backend opens a store for a test; open returns another handle on the
// same data (another node).
type backend struct {
	name string
	open func(t *testing.T) func() Store
}

var backends = []backend{
	{"sqlite", func(t *testing.T) func() Store {
		s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "sky.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return func() Store { return s } // one process owns a SQLite file
	}},
	{"postgres", func(t *testing.T) func() Store {
		url := postgres.TestDatabase(t)
		return func() Store {
			s, err := postgres.Open(t.Context(), url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}
	}},
}

func forEach(t *testing.T, fn func(t *testing.T, node func() Store)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { fn(t, b.open(t)) })
	}
}

// clock is a manual clock for epoch times.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(time.Minute)
	return c.now
}

func open(t *testing.T, st Store, auditors ...curve.PublicKey) *Dir {
	c := &clock{now: time.Unix(1_900_000_000, 0)}
	d, err := Open(t.Context(), Config{Store: st, Now: c.Now, Auditors: auditors})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func ik(i int) []byte { return append([]byte{5}, bytes.Repeat([]byte{byte(i)}, 32)...) }

// check verifies account's lookup at the newest head as a client would and
// returns the value (nil if absent).
func check(t *testing.T, d *Dir, root curve.PublicKey, account string) ([]byte, *keytrans.SignedHead) {
	t.Helper()
	k := d.Keys()
	if err := k.Cert.Verify(root); err != nil {
		t.Fatal(err)
	}
	sh, l, err := d.Search(t.Context(), account, 0)
	if err != nil {
		t.Fatal(err)
	}
	l, err = keytrans.DecodeLookup(l.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if err := sh.Verify(k.Cert); err != nil {
		t.Fatal(err)
	}
	e, err := keytrans.VerifyLookup(k.Cert, &sh.Head, account, l)
	if err != nil {
		t.Fatalf("%s: %v", account, err)
	}
	if e == nil {
		return nil, sh
	}
	return e.Value, sh
}

func TestDirectory(t *testing.T) {
	forEach(t, func(t *testing.T, node func() Store) {
		ctx := t.Context()
		st := node()
		d := open(t, st)
		if err := d.Tick(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Head(); !errors.Is(err, ErrNoHead) {
			t.Fatalf("an uncertified directory published: %v", err)
		}
		if err := d.Queue(ctx, "alice", ik(1)); !errors.Is(err, ErrNotCertified) {
			t.Fatalf("Queue before certification: %v", err)
		}
		root := curve.GenerateKeyPair()
		if _, err := Certify(ctx, st, root.Private, 0); err != nil {
			t.Fatal(err)
		}
		if err := d.Tick(ctx); err != nil { // picks the keys up; an empty first epoch
			t.Fatal(err)
		}
		for i, a := range []string{"alice", "bob", "carol"} {
			if err := d.Queue(ctx, a, ik(i)); err != nil {
				t.Fatal(err)
			}
		}
		if err := d.Tick(ctx); err != nil {
			t.Fatal(err)
		}
		for i, a := range []string{"alice", "bob", "carol"} {
			if v, _ := check(t, d, root.Public, a); !bytes.Equal(v, ik(i)) {
				t.Fatalf("%s: %x", a, v)
			}
		}
		if v, _ := check(t, d, root.Public, "nobody"); v != nil {
			t.Fatalf("an absent account has %x", v)
		}
		_, before := check(t, d, root.Public, "bob")
		// Bob changes his key; the old head still answers with the old one.
		d.Queue(ctx, "bob", ik(9))
		d.Ensure(ctx, "alice", ik(0)) // already there: queues nothing
		if err := d.Tick(ctx); err != nil {
			t.Fatal(err)
		}
		v, after := check(t, d, root.Public, "bob")
		if !bytes.Equal(v, ik(9)) {
			t.Fatalf("bob's new key: %x", v)
		}
		_, l, err := d.Search(ctx, "bob", before.Size)
		if err != nil {
			t.Fatal(err)
		}
		e, err := keytrans.VerifyLookup(d.Keys().Cert, &before.Head, "bob", l)
		if err != nil || !bytes.Equal(e.Value, ik(1)) || e.Version != 1 {
			t.Fatalf("bob at the older head: %+v, %v", e, err)
		}
		if e, _ := keytrans.VerifyLookup(d.Keys().Cert, &after.Head, "bob", mustSearch(t, d, "bob")); e.Version != 2 {
			t.Fatalf("bob's version after one change: %d", e.Version)
		}
		if e, _ := keytrans.VerifyLookup(d.Keys().Cert, &after.Head, "alice", mustSearch(t, d, "alice")); e.Version != 1 {
			t.Fatalf("Ensure of an unchanged key bumped alice's version to %d", e.Version)
		}
		p, err := d.Consistency(before.Size, after.Size)
		if err != nil {
			t.Fatal(err)
		}
		if err := keytrans.VerifyConsistency(&before.Head, &after.Head, p); err != nil {
			t.Fatal(err)
		}
		// A restarted node rebuilds the same directory from the store.
		d2 := open(t, node())
		h1, _ := d.Head()
		h2, err := d2.Head()
		if err != nil || *h1 != *h2 {
			t.Fatalf("restart: %v", err)
		}
		if v, _ := check(t, d2, root.Public, "carol"); !bytes.Equal(v, ik(2)) {
			t.Fatal("restarted node lost carol")
		}
		// A new certificate keeps the VRF key, so every entry stays found.
		if _, err := Certify(ctx, st, root.Private, 0); err != nil {
			t.Fatal(err)
		}
		d.Tick(ctx)
		if d.Keys().Cert.KeyID != 2 {
			t.Fatalf("re-certified key ID %d, want 2", d.Keys().Cert.KeyID)
		}
		if v, _ := check(t, d, root.Public, "carol"); !bytes.Equal(v, ik(2)) {
			t.Fatal("carol lost after re-certification")
		}
	})
}

func mustSearch(t *testing.T, d *Dir, account string) *keytrans.Lookup {
	_, l, err := d.Search(t.Context(), account, 0)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestAuditAndCountersign: the log replays in an auditor to the directory's
// heads, and only a named auditor's valid countersignature is kept.
func TestAuditAndCountersign(t *testing.T) {
	forEach(t, func(t *testing.T, node func() Store) {
		ctx := t.Context()
		st := node()
		root, aud, stranger := curve.GenerateKeyPair(), curve.GenerateKeyPair(), curve.GenerateKeyPair()
		Certify(ctx, st, root.Private, 0)
		d := open(t, st, aud.Public)
		for e := range 5 {
			for i := range 3 {
				d.Queue(ctx, fmt.Sprintf("acct%d", (e*3+i)%7), ik(e*3+i))
			}
			if err := d.Tick(ctx); err != nil {
				t.Fatal(err)
			}
		}
		a := &keytrans.Auditor{}
		es, err := d.Log(ctx, 0, 100, 1<<20)
		if err != nil || len(es) != 5 {
			t.Fatalf("log: %d epochs, %v", len(es), err)
		}
		if small, _ := d.Log(ctx, 0, 100, 1); len(small) != 1 {
			t.Fatalf("a byte budget of 1 returned %d epochs, want 1", len(small))
		}
		for _, se := range es {
			e, err := keytrans.DecodeEpoch(se.Record)
			if err != nil {
				t.Fatal(err)
			}
			if err := a.Apply(e); err != nil {
				t.Fatal(err)
			}
			sh, _ := keytrans.DecodeSignedHead(se.Head)
			if sh.Head != a.Head() || sh.Verify(d.Keys().Cert) != nil {
				t.Fatalf("epoch %d: the auditor's head is not the signed one", se.Number)
			}
		}
		h := a.Head()
		if err := d.Countersign(ctx, h.Size, keytrans.Countersign(&h, stranger.Private)); !errors.Is(err, ErrUnknownAuditor) {
			t.Fatalf("a stranger's countersignature: %v", err)
		}
		older, _ := d.SignedHead(ctx, 2)
		if err := d.Countersign(ctx, 2, keytrans.Countersign(&h, aud.Private)); !errors.Is(err, keytrans.ErrNotAudited) {
			t.Fatalf("a countersignature of another head: %v", err)
		}
		if err := d.Countersign(ctx, h.Size, keytrans.Countersign(&h, aud.Private)); err != nil {
			t.Fatal(err)
		}
		if err := d.Countersign(ctx, 2, keytrans.Countersign(&older.Head, aud.Private)); err != nil {
			t.Fatal(err)
		}
		audits, err := d.Audits(ctx)
		if err != nil || len(audits) != 1 || audits[0].Head.Size != h.Size || audits[0].Signature.Verify(&audits[0].Head.Head, aud.Public) != nil {
			t.Fatalf("audits: %+v, %v", audits, err)
		}
		if _, err := d.Consistency(3, 9); err == nil {
			t.Fatal("consistency with a head that does not exist")
		}
		_ = logtree.EncodeProof
	})
}

// TestOneWriter: several nodes ticking at once publish each epoch once,
// and all end on the same head.
func TestOneWriter(t *testing.T) {
	forEach(t, func(t *testing.T, node func() Store) {
		ctx := t.Context()
		st := node()
		root := curve.GenerateKeyPair()
		Certify(ctx, st, root.Private, 0)
		var nodes []*Dir
		for range 3 {
			nodes = append(nodes, open(t, node()))
		}
		var wg sync.WaitGroup
		for round := range 4 {
			for i, d := range nodes {
				d.Queue(ctx, fmt.Sprintf("n%d-r%d", i, round), ik(i))
			}
			for _, d := range nodes {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := d.Tick(ctx); err != nil {
						t.Error(err)
					}
				}()
			}
			wg.Wait()
		}
		for _, d := range nodes {
			if err := d.Tick(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		// Everyone follows whoever published last.
		for _, d := range nodes {
			d.catchUp(ctx)
		}
		h0, _ := nodes[0].Head()
		for i, d := range nodes {
			h, _ := d.Head()
			if *h != *h0 {
				t.Fatalf("node %d is on another head", i)
			}
		}
		a := &keytrans.Auditor{}
		es, _ := nodes[0].Log(ctx, 0, 1000, 1<<30)
		for _, se := range es {
			e, _ := keytrans.DecodeEpoch(se.Record)
			if err := a.Apply(e); err != nil {
				t.Fatalf("the nodes' log breaks the rules: %v", err)
			}
		}
		for i := range 3 {
			for round := range 4 {
				if v, _ := check(t, nodes[(i+1)%3], root.Public, fmt.Sprintf("n%d-r%d", i, round)); !bytes.Equal(v, ik(i)) {
					t.Fatalf("node %d's round %d account is missing", i, round)
				}
			}
		}
	})
}
