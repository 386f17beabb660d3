package keytrans

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/skymsg/sky/keytrans/prefix"
	"github.com/skymsg/sky/keytrans/vrf"
	"github.com/skymsg/sky/protocol/curve"
)

// fixture is a directory with its keys, as a server would hold it, plus
// the openings and values it committed to.
type fixture struct {
	root     curve.KeyPair
	signing  curve.KeyPair
	vrfKey   *vrf.PrivateKey
	cert     *DirectoryCertificate
	dir      Directory
	epochs   []*Epoch
	heads    []*SignedHead
	values   map[string][]byte
	openings map[string][OpeningSize]byte
	versions map[string]uint32
}

func newFixture(t testing.TB) *fixture {
	f := &fixture{
		root:     curve.GenerateKeyPair(),
		signing:  curve.GenerateKeyPair(),
		vrfKey:   vrf.GenerateKey(),
		values:   map[string][]byte{},
		openings: map[string][OpeningSize]byte{},
		versions: map[string]uint32{},
	}
	f.cert = NewDirectoryCertificate(f.root.Private, 7, f.signing.Public, f.vrfKey.Public())
	return f
}

// publish sets each account to its value in one epoch.
func (f *fixture) publish(set map[string][]byte) {
	var leaves []prefix.Leaf
	for acct, v := range set {
		key, _ := Index(f.vrfKey, acct)
		c, o := Commit(key[:], v)
		f.versions[acct]++
		f.values[acct], f.openings[acct] = v, o
		leaves = append(leaves, prefix.Leaf{Key: key, Version: f.versions[acct], Commitment: c})
	}
	e, h := f.dir.Publish(uint64(1000+len(f.epochs)), leaves)
	f.epochs = append(f.epochs, e)
	f.heads = append(f.heads, SignHead(h, f.cert.KeyID, f.signing.Private))
}

func (f *fixture) lookup(acct string) *Lookup {
	key, pi := Index(f.vrfKey, acct)
	l := &Lookup{VRFProof: pi, Proof: f.dir.Get(key)}
	if l.Proof.Terminal != nil && l.Proof.Terminal.Key == key {
		l.Value, l.Opening = f.values[acct], f.openings[acct]
	}
	return l
}

func identityKey(i int) []byte { return append([]byte{5}, bytes.Repeat([]byte{byte(i)}, 32)...) }

func standardFixture(t testing.TB) *fixture {
	f := newFixture(t)
	for e := range 4 {
		set := map[string][]byte{}
		for i := range 20 {
			set[fmt.Sprintf("acct%d-%d", e, i)] = identityKey(e*20 + i)
		}
		if e > 0 {
			set["acct0-1"] = identityKey(200 + e) // a key change each epoch
		}
		f.publish(set)
	}
	return f
}

func TestCommitment(t *testing.T) {
	c, o := Commit([]byte("alice"), []byte("key"))
	if !OpensTo(c, o, []byte("alice"), []byte("key")) {
		t.Fatal("commitment does not open")
	}
	o2 := o
	o2[0] ^= 1
	for name, ok := range map[string]bool{
		"other value":                OpensTo(c, o, []byte("alice"), []byte("kez")),
		"other label":                OpensTo(c, o, []byte("bob"), []byte("key")),
		"other opening":              OpensTo(c, o2, []byte("alice"), []byte("key")),
		"label/value boundary moved": OpensTo(c, o, []byte("alic"), []byte("ekey")),
	} {
		if ok {
			t.Errorf("%s opened the commitment", name)
		}
	}
	if c2, _ := Commit([]byte("alice"), []byte("key")); c2 == c {
		t.Fatal("two commitments to one value are equal (no fresh opening)")
	}
}

func TestCertificate(t *testing.T) {
	f := newFixture(t)
	if err := f.cert.Verify(curve.GenerateKeyPair().Public, f.root.Public); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	c, err := DecodeCertificate(f.cert.Encode())
	if err != nil || *c != *f.cert || len(f.cert.Encode()) != CertificateSize {
		t.Fatalf("round trip: %v", err)
	}
	if err := f.cert.Verify(curve.GenerateKeyPair().Public); !errors.Is(err, ErrUntrustedDirectory) {
		t.Fatalf("other root: %v", err)
	}
	enc := f.cert.Encode()
	for i := range enc {
		bad := bytes.Clone(enc)
		bad[i] ^= 0x04
		if c, err := DecodeCertificate(bad); err == nil && c.Verify(f.root.Public) == nil {
			t.Errorf("certificate with byte %d changed verified", i)
		}
	}
	// A head signature is no certificate, and the reverse.
	h := SignHead(Head{Size: 1}, 7, f.root.Private)
	forged := *f.cert
	forged.Signature = h.Signature
	if forged.Verify(f.root.Public) == nil {
		t.Error("a head signature passed as a certificate")
	}
}

func TestSignedHead(t *testing.T) {
	f := standardFixture(t)
	s := f.heads[len(f.heads)-1]
	if err := s.Verify(f.cert); err != nil {
		t.Fatal(err)
	}
	got, err := DecodeSignedHead(s.Encode())
	if err != nil || *got != *s {
		t.Fatalf("round trip: %v", err)
	}
	enc := s.Encode()
	for i := range enc {
		bad := bytes.Clone(enc)
		bad[i] ^= 0x20
		if h, err := DecodeSignedHead(bad); err == nil && h.Verify(f.cert) == nil {
			t.Errorf("head with byte %d changed verified", i)
		}
	}
	other := newFixture(t)
	if s.Verify(other.cert) == nil {
		t.Error("head verified under another directory's certificate")
	}
	// A head signed by the trust root itself, not the directory key.
	if SignHead(s.Head, 7, f.root.Private).Verify(f.cert) == nil {
		t.Error("head signed by another key verified")
	}
	for _, b := range [][]byte{nil, enc[:SignedHeadSize-1], append(bytes.Clone(enc), 0)} {
		if _, err := DecodeSignedHead(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("decoded %d bytes: %v", len(b), err)
		}
	}
}

func TestAuditorSignature(t *testing.T) {
	f := standardFixture(t)
	aud := curve.GenerateKeyPair()
	h := f.heads[2].Head
	sig := Countersign(&h, aud.Private)
	if err := sig.Verify(&h, aud.Public); err != nil {
		t.Fatal(err)
	}
	dec, err := DecodeAuditorSignature(sig.Encode())
	if err != nil || *dec != *sig {
		t.Fatalf("round trip: %v", err)
	}
	h3 := f.heads[3].Head
	if sig.Verify(&h3, aud.Public) == nil {
		t.Error("countersignature verified for another head")
	}
	if sig.Verify(&h, curve.GenerateKeyPair().Public) == nil {
		t.Error("countersignature verified for another auditor")
	}
	// The directory's own signature is not an auditor's.
	fake := &AuditorSignature{Key: f.signing.Public, Signature: f.heads[2].Signature}
	if fake.Verify(&h, f.signing.Public) == nil {
		t.Error("a head signature passed as a countersignature")
	}
}

func TestLookup(t *testing.T) {
	f := standardFixture(t)
	h := &f.heads[len(f.heads)-1].Head
	for acct, want := range f.values {
		l := f.lookup(acct)
		dec, err := DecodeLookup(l.Encode())
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		e, err := VerifyLookup(f.cert, h, acct, dec)
		if err != nil || e == nil || !bytes.Equal(e.Value, want) || e.Version != f.versions[acct] {
			t.Fatalf("%s: %+v, %v", acct, e, err)
		}
	}
	if e, err := VerifyLookup(f.cert, h, "nobody", f.lookup("nobody")); err != nil || e != nil {
		t.Fatalf("absent account: %+v, %v", e, err)
	}
	if e, _ := VerifyLookup(f.cert, h, "acct0-1", f.lookup("acct0-1")); e.Version != 4 {
		t.Fatalf("changed key has version %d, want 4", e.Version)
	}
}

func TestTamperedLookup(t *testing.T) {
	f := standardFixture(t)
	h := &f.heads[len(f.heads)-1].Head
	bob, alice := "acct1-3", "acct2-5"
	mallory := identityKey(99)
	cases := map[string]func() (*Head, string, *Lookup){
		"bob's key swapped for mallory's": func() (*Head, string, *Lookup) {
			l := f.lookup(bob)
			l.Value = mallory
			return h, bob, l
		},
		"alice's entry served as bob's": func() (*Head, string, *Lookup) {
			l := f.lookup(alice)
			return h, bob, l
		},
		"bob's VRF proof for alice's entry": func() (*Head, string, *Lookup) {
			l := f.lookup(alice)
			_, l.VRFProof = Index(f.vrfKey, bob)
			return h, bob, l
		},
		"opening changed": func() (*Head, string, *Lookup) {
			l := f.lookup(bob)
			l.Opening[5] ^= 1
			return h, bob, l
		},
		"VRF proof changed": func() (*Head, string, *Lookup) {
			l := f.lookup(bob)
			l.VRFProof[40] ^= 1
			return h, bob, l
		},
		"bob hidden (proof of absence from another path)": func() (*Head, string, *Lookup) {
			l := f.lookup("nobody")
			_, l.VRFProof = Index(f.vrfKey, bob)
			return h, bob, l
		},
		"bob hidden (leaf dropped)": func() (*Head, string, *Lookup) {
			l := f.lookup(bob)
			l.Proof.Terminal, l.Value = nil, nil
			return h, bob, l
		},
		"value for an absent account": func() (*Head, string, *Lookup) {
			l := f.lookup("nobody")
			l.Value = mallory
			return h, "nobody", l
		},
		"proof against an older head": func() (*Head, string, *Lookup) {
			return &f.heads[1].Head, "acct0-1", f.lookup("acct0-1")
		},
		"VRF key not the certified one": func() (*Head, string, *Lookup) {
			other := vrf.GenerateKey()
			key, pi := Index(other, bob)
			l := f.lookup(bob)
			l.VRFProof = pi
			_ = key
			return h, bob, l
		},
	}
	for name, mk := range cases {
		hh, acct, l := mk()
		if e, err := VerifyLookup(f.cert, hh, acct, l); err == nil {
			t.Errorf("%s: accepted (%+v)", name, e)
		} else if !errors.Is(err, ErrLookup) {
			t.Errorf("%s: error %v is not ErrLookup", name, err)
		}
	}
}

func TestAuditor(t *testing.T) {
	f := standardFixture(t)
	a := &Auditor{}
	for i, e := range f.epochs {
		dec, err := DecodeEpoch(e.Encode())
		if err != nil {
			t.Fatalf("decode epoch %d: %v", i, err)
		}
		if err := a.Apply(dec); err != nil {
			t.Fatalf("epoch %d: %v", i, err)
		}
		if a.Head() != f.heads[i].Head {
			t.Fatalf("epoch %d: auditor's head differs from the directory's", i)
		}
		b, err := RestoreAuditor(a.State())
		if err != nil || b.Head() != a.Head() {
			t.Fatalf("state round trip: %v", err)
		}
		a = b
	}
}

// next returns a valid next epoch for the fixture, to be spoiled.
func (f *fixture) nextEpoch(t *testing.T) (*Auditor, func() *Epoch) {
	a := &Auditor{}
	for _, e := range f.epochs {
		if err := a.Apply(e); err != nil {
			t.Fatal(err)
		}
	}
	return a, func() *Epoch {
		g := *f
		g.dir = Directory{}
		for _, e := range f.epochs {
			g.dir.Replay(e)
		}
		g.versions = map[string]uint32{}
		for k, v := range f.versions {
			g.versions[k] = v
		}
		g.epochs = nil
		g.publish(map[string][]byte{"acct0-2": identityKey(150), "fresh": identityKey(151)})
		return g.epochs[0]
	}
}

func TestAuditorRejects(t *testing.T) {
	f := standardFixture(t)
	a, next := f.nextEpoch(t)
	if err := a.Apply(next()); err != nil {
		t.Fatalf("valid epoch refused: %v", err)
	}
	a, _ = f.nextEpoch(t)
	key02, _ := Index(f.vrfKey, "acct0-2")
	cases := map[string]func(e *Epoch){
		"skips an epoch":      func(e *Epoch) { e.Number++ },
		"repeats an epoch":    func(e *Epoch) { e.Number-- },
		"goes back in time":   func(e *Epoch) { e.TimeMillis = 1 },
		"claims another root": func(e *Epoch) { e.PrefixRoot[0] ^= 1 },
		"skips a version": func(e *Epoch) {
			for i := range e.Updates {
				e.Updates[i].Leaf.Version++
			}
		},
		"resets a version (rewrites history)": func(e *Epoch) {
			for i := range e.Updates {
				if e.Updates[i].Leaf.Key == key02 {
					e.Updates[i].Leaf.Version = 1
				}
			}
		},
		"changes one entry twice": func(e *Epoch) { e.Updates = append(e.Updates, e.Updates[0]) },
		"drops an update":         func(e *Epoch) { e.Updates = e.Updates[1:] },
		"forges a proof": func(e *Epoch) {
			e.Updates[0].Proof.Siblings = append(e.Updates[0].Proof.Siblings, prefix.Hash{9})
		},
		"changes a commitment after the fact": func(e *Epoch) { e.Updates[1].Leaf.Commitment[0] ^= 1 },
	}
	for name, spoil := range cases {
		e := next()
		spoil(e)
		before := a.State()
		if err := a.Apply(e); !errors.Is(err, ErrBadEpoch) {
			t.Errorf("%s: %v", name, err)
		}
		if !bytes.Equal(before, a.State()) {
			t.Fatalf("%s: a refused epoch changed the auditor", name)
		}
	}
}

func TestConsistency(t *testing.T) {
	f := standardFixture(t)
	for m := 1; m <= len(f.heads); m++ {
		for n := m; n <= len(f.heads); n++ {
			p, err := f.dir.Consistency(uint64(m), uint64(n))
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyConsistency(&f.heads[m-1].Head, &f.heads[n-1].Head, p); err != nil {
				t.Fatalf("%d→%d: %v", m, n, err)
			}
		}
	}
	// A fork: the same first epoch, then a different second one.
	g := newFixture(t)
	g.dir.Replay(f.epochs[0])
	g.epochs = []*Epoch{f.epochs[0]}
	g.publish(map[string][]byte{"acct1-3": identityKey(99)})
	forked := g.dir.Head()
	p, _ := f.dir.Consistency(2, 4)
	if err := VerifyConsistency(&forked, &f.heads[3].Head, p); !errors.Is(err, ErrInconsistent) {
		t.Fatalf("fork accepted: %v", err)
	}
	if err := VerifyConsistency(&forked, &f.heads[1].Head, nil); !errors.Is(err, ErrInconsistent) {
		t.Fatalf("two heads of one size accepted: %v", err)
	}
	if err := VerifyConsistency(&f.heads[3].Head, &f.heads[1].Head, nil); !errors.Is(err, ErrInconsistent) {
		t.Fatalf("shrinking log accepted: %v", err)
	}
	p, _ = f.dir.Consistency(2, 4)
	early := f.heads[3].Head
	early.TimeMillis = 0
	if err := VerifyConsistency(&f.heads[1].Head, &early, p); !errors.Is(err, ErrInconsistent) {
		t.Fatalf("time going back accepted: %v", err)
	}
}

func TestDecodersRefuse(t *testing.T) {
	f := standardFixture(t)
	l := f.lookup("acct1-1").Encode()
	e := f.epochs[1].Encode()
	for _, c := range []struct {
		name string
		dec  func([]byte) error
		good []byte
	}{
		{"lookup", func(b []byte) error { _, err := DecodeLookup(b); return err }, l},
		{"epoch", func(b []byte) error { _, err := DecodeEpoch(b); return err }, e},
		{"head", func(b []byte) error { _, err := DecodeHead(b); return err }, f.heads[0].Head.Encode()},
	} {
		if err := c.dec(c.good); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		for _, n := range []int{0, 1, len(c.good) / 2, len(c.good) - 1} {
			if err := c.dec(c.good[:n]); err == nil {
				t.Errorf("%s: decoded %d of %d bytes", c.name, n, len(c.good))
			}
		}
		if err := c.dec(append(bytes.Clone(c.good), 0)); err == nil {
			t.Errorf("%s: decoded a trailing byte", c.name)
		}
	}
	huge := bytes.Clone(e[:48])
	huge = append(huge, 0xff, 0xff, 0xff, 0xff)
	if _, err := DecodeEpoch(huge); err == nil {
		t.Error("epoch claiming 4 billion updates decoded")
	}
}

func TestDirectoryHistory(t *testing.T) {
	f := standardFixture(t)
	f.dir.Retain = 2
	// Bob at the second head, then again after his key changes.
	for e := range 3 {
		f.publish(map[string][]byte{"acct0-1": identityKey(300 + e)})
	}
	n := f.dir.Head().Size
	p, err := f.dir.GetAt(n-1, mustKey(f, "acct0-1"))
	if err != nil {
		t.Fatal(err)
	}
	old := f.heads[n-2].Head
	leaf, err := prefix.Verify(old.PrefixRoot, mustKey(f, "acct0-1"), p)
	if err != nil || leaf == nil || leaf.Version != f.versions["acct0-1"]-1 {
		t.Fatalf("lookup at the previous head: %+v, %v", leaf, err)
	}
	if _, err := f.dir.GetAt(n-2, mustKey(f, "acct0-1")); !errors.Is(err, ErrNoSuchHead) {
		t.Fatalf("a head beyond Retain answered: %v", err)
	}
	if _, err := f.dir.GetAt(n+1, mustKey(f, "acct0-1")); !errors.Is(err, ErrNoSuchHead) {
		t.Fatalf("a future head answered: %v", err)
	}
	// Prepare changes nothing until the epoch is replayed.
	before := f.dir.Head()
	e, h := f.dir.Prepare(5000, []prefix.Leaf{{Key: mustKey(f, "zed"), Version: 1}})
	if f.dir.Head() != before {
		t.Fatal("Prepare changed the directory")
	}
	if err := f.dir.Replay(e); err != nil || f.dir.Head() != h {
		t.Fatalf("replaying the prepared epoch: %v", err)
	}
	if err := f.dir.Replay(e); err == nil {
		t.Fatal("an epoch replayed twice")
	}
}

func mustKey(f *fixture, acct string) prefix.Key {
	k, _ := Index(f.vrfKey, acct)
	return k
}
