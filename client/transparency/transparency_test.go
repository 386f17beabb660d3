package transparency

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/skymsg/sky/keytrans"
	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/sealed"
	"github.com/skymsg/sky/server"
	"github.com/skymsg/sky/server/keydir"
	"github.com/skymsg/sky/server/servertest"
	"github.com/skymsg/sky/wire"
)

type env struct {
	t          *testing.T
	srv        *servertest.Server
	root       *sealed.TrustRoot
	aud        curve.KeyPair
	alice, bob *servertest.Device
	ac         *servertest.Client // alice's connection
	aliceKey   []byte
	bobKey     []byte
}

func newEnv(t *testing.T) *env {
	e := &env{t: t, aud: curve.GenerateKeyPair()}
	e.srv = servertest.Start(t, server.Config{KeyDir: server.KeyDirConfig{Interval: time.Hour, Auditors: []curve.PublicKey{e.aud.Public}}})
	e.root = servertest.Certify(t, e.srv.Store)
	if _, err := keydir.CertifyWithRoot(context.Background(), e.srv.Store.(keydir.Store), e.root, 0); err != nil {
		t.Fatal(err)
	}
	var err error
	e.ac, err = servertest.Dial(t.Context(), e.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.ac.CloseNow() })
	if e.alice, err = e.ac.Register(t.Context(), e.srv.Code(t, time.Now())); err != nil {
		t.Fatal(err)
	}
	bc, _ := servertest.Dial(t.Context(), e.srv.URL)
	defer bc.Close()
	if e.bob, err = bc.Register(t.Context(), e.srv.Code(t, time.Now())); err != nil {
		t.Fatal(err)
	}
	e.tick()
	e.aliceKey, e.bobKey = e.key(e.alice.Account), e.key(e.bob.Account)
	return e
}

func (e *env) key(id string) []byte {
	a, err := e.srv.Store.Account(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return a.IdentityKey
}

func (e *env) tick() {
	if err := e.srv.KeyDir().Tick(e.t.Context()); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) checker(auditor *Auditor) *Checker {
	k, err := New(Config{Own: e.alice.Account, OwnKey: e.aliceKey, Roots: []curve.PublicKey{e.root.Public()}, Auditor: auditor, Persist: &memPersist{}})
	if err != nil {
		e.t.Fatal(err)
	}
	return k
}

type memPersist struct{ b []byte }

func (m *memPersist) Load() ([]byte, error) { return m.b, nil }
func (m *memPersist) Save(b []byte) error   { m.b = append([]byte(nil), b...); return nil }

// liar is Alice's server, lying in one way.
type liar struct {
	Caller
	rewrite func(req *wire.Request, r *wire.Response) (*wire.Response, error)
}

func (l liar) Call(ctx context.Context, req *wire.Request) (*wire.Response, error) {
	r, err := l.Caller.Call(ctx, req)
	if err != nil || l.rewrite == nil {
		return r, err
	}
	return l.rewrite(req, r)
}

// resign signs a changed head with the directory's key, as the server can.
func (e *env) resign(h *keytrans.Head) []byte {
	k := e.srv.KeyDir().Keys()
	return keytrans.SignHead(*h, k.Cert.KeyID, k.Signing).Encode()
}

func isAlarm(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, ErrAlarm) {
		t.Fatalf("%s: %v, want a key directory alarm", what, err)
	}
}

func TestHonest(t *testing.T) {
	e := newEnv(t)
	k := e.checker(nil)
	if err := k.CheckKey(t.Context(), e.ac, e.bob.Account, e.bobKey); err != nil {
		t.Fatal(err)
	}
	if c, ok := k.Confirmed(e.bob.Account); !ok || !bytes.Equal(c.Key, e.bobKey) {
		t.Fatalf("bob's key not confirmed: %+v", c)
	}
	if err := k.Monitor(t.Context(), e.ac); err != nil {
		t.Fatal(err)
	}
	// A restarted client keeps what it saw.
	k2, err := New(Config{Own: e.alice.Account, OwnKey: e.aliceKey, Roots: []curve.PublicKey{e.root.Public()}, Persist: k.cfg.Persist})
	if err != nil || k2.st.head == nil || *k2.st.head != *k.st.head || k2.st.ownVersion != 1 {
		t.Fatalf("state not restored: %v", err)
	}
	if _, ok := k2.Confirmed(e.bob.Account); !ok {
		t.Fatal("confirmation not restored")
	}
	// A contact registered since the last epoch is not in it yet.
	cc, _ := servertest.Dial(t.Context(), e.srv.URL)
	defer cc.Close()
	carol, _ := cc.Register(t.Context(), e.srv.Code(t, time.Now()))
	err = k.CheckKey(t.Context(), e.ac, carol.Account, e.key(carol.Account))
	var later interface{ RetryAfter() time.Duration }
	if !errors.Is(err, ErrNotYet) || !errors.As(err, &later) || errors.Is(err, ErrAlarm) {
		t.Fatalf("a contact not yet published: %v", err)
	}
	e.tick()
	if err := k.CheckKey(t.Context(), e.ac, carol.Account, e.key(carol.Account)); err != nil {
		t.Fatal(err)
	}
	// A server without a directory is not an alarm for a client that never
	// saw one.
	plain := servertest.Start(t, server.Config{})
	pc, _ := servertest.Dial(t.Context(), plain.URL)
	defer pc.Close()
	if err := e.checker(nil).CheckKey(t.Context(), pc, "anyone", []byte("k")); err != nil {
		t.Fatalf("no directory at all: %v", err)
	}
}

// TestHostileServer: each lie of the list is caught with an alarm.
func TestHostileServer(t *testing.T) {
	e := newEnv(t)
	mallory := curve.GenerateKeyPair().Public.Bytes()

	t.Run("swaps Bob's key for Alice only", func(t *testing.T) {
		k := e.checker(nil)
		isAlarm(t, "a swapped bundle key", k.CheckKey(t.Context(), e.ac, e.bob.Account, mallory))
		// And with the lookup's value swapped too, the proof fails.
		l := liar{Caller: e.ac, rewrite: func(req *wire.Request, r *wire.Response) (*wire.Response, error) {
			if lk := r.GetKeydirLookup(); lk != nil {
				dl, _ := keytrans.DecodeLookup(lk.Lookup)
				dl.Value = mallory
				lk.Lookup = dl.Encode()
			}
			return r, nil
		}}
		isAlarm(t, "a swapped lookup value", k.CheckKey(t.Context(), l, e.bob.Account, mallory))
		if _, ok := k.Confirmed(e.bob.Account); ok {
			t.Fatal("a swapped key counted as confirmed")
		}
	})

	t.Run("publishes an extra key for Alice herself", func(t *testing.T) {
		k := e.checker(nil)
		if err := k.Monitor(t.Context(), e.ac); err != nil {
			t.Fatal(err)
		}
		e.srv.KeyDir().Queue(t.Context(), e.alice.Account, mallory)
		e.tick()
		isAlarm(t, "a foreign key in alice's entry", k.Monitor(t.Context(), e.ac))
		// Put back before Alice looks: the version still shows it.
		e.srv.KeyDir().Queue(t.Context(), e.alice.Account, e.aliceKey)
		e.tick()
		isAlarm(t, "a key published and withdrawn", k.Monitor(t.Context(), e.ac))
	})

	t.Run("rewrites history", func(t *testing.T) {
		k := e.checker(nil)
		if err := k.CheckKey(t.Context(), e.ac, e.bob.Account, e.bobKey); err != nil {
			t.Fatal(err)
		}
		e.tick()
		l := liar{Caller: e.ac, rewrite: func(req *wire.Request, r *wire.Response) (*wire.Response, error) {
			if h := r.GetKeydirHead(); h != nil {
				sh, _ := keytrans.DecodeSignedHead(h.Head)
				sh.LogRoot[3] ^= 1 // a log whose past differs
				h.Head = e.resign(&sh.Head)
			}
			return r, nil
		}}
		isAlarm(t, "a rewritten log", k.CheckKey(t.Context(), l, e.bob.Account, e.bobKey))
	})

	t.Run("forks the tree between two groups", func(t *testing.T) {
		// Alice is shown a branch of its own (same size, other roots); when
		// she next sees the head everyone else sees, the fork shows.
		k := e.checker(nil)
		fork := liar{Caller: e.ac, rewrite: func(req *wire.Request, r *wire.Response) (*wire.Response, error) {
			if h := r.GetKeydirHead(); h != nil {
				sh, _ := keytrans.DecodeSignedHead(h.Head)
				sh.LogRoot[0] ^= 1
				h.Head = e.resign(&sh.Head)
			}
			return r, nil
		}}
		k.CheckKey(t.Context(), fork, e.bob.Account, e.bobKey) // the lookup does not match the forked head
		if k.st.head == nil {
			t.Fatal("the forked head was not kept")
		}
		isAlarm(t, "the honest head after a fork", k.CheckKey(t.Context(), e.ac, e.bob.Account, e.bobKey))
		e.tick()
		isAlarm(t, "a later honest head after a fork", k.CheckKey(t.Context(), e.ac, e.bob.Account, e.bobKey))
	})

	t.Run("withholds a consistency proof", func(t *testing.T) {
		k := e.checker(nil)
		if err := k.CheckKey(t.Context(), e.ac, e.bob.Account, e.bobKey); err != nil {
			t.Fatal(err)
		}
		e.tick()
		l := liar{Caller: e.ac, rewrite: func(req *wire.Request, r *wire.Response) (*wire.Response, error) {
			if r.GetKeydirProof() != nil {
				return nil, wire.NewError(wire.Code_UNAVAILABLE, "try later")
			}
			return r, nil
		}}
		isAlarm(t, "a withheld consistency proof", k.CheckKey(t.Context(), l, e.bob.Account, e.bobKey))
		gone := liar{Caller: e.ac, rewrite: func(req *wire.Request, r *wire.Response) (*wire.Response, error) {
			return nil, wire.NewError(wire.Code_UNSUPPORTED, "no directory here")
		}}
		isAlarm(t, "a directory that vanished", k.CheckKey(t.Context(), gone, e.bob.Account, e.bobKey))
	})

	t.Run("serves a head not countersigned by the required auditor", func(t *testing.T) {
		k := e.checker(&Auditor{Name: "ngo", Key: e.aud.Public})
		isAlarm(t, "no countersignature", k.CheckKey(t.Context(), e.ac, e.bob.Account, e.bobKey))
		// A countersignature by someone else (an unnamed key) is no better.
		sh, _ := e.srv.KeyDir().Head()
		other := curve.GenerateKeyPair()
		l := liar{Caller: e.ac, rewrite: func(req *wire.Request, r *wire.Response) (*wire.Response, error) {
			if h := r.GetKeydirHead(); h != nil {
				h.Audits = append(h.Audits, &wire.KeyDirAudit{Head: sh.Encode(), Signature: keytrans.Countersign(&sh.Head, other.Private).Encode()})
			}
			return r, nil
		}}
		isAlarm(t, "another auditor's countersignature", k.CheckKey(t.Context(), l, e.bob.Account, e.bobKey))
		// Once the auditor countersigned, the audited head is used.
		if err := e.srv.KeyDir().Countersign(t.Context(), sh.Size, keytrans.Countersign(&sh.Head, e.aud.Private)); err != nil {
			t.Fatal(err)
		}
		if err := k.CheckKey(t.Context(), e.ac, e.bob.Account, e.bobKey); err != nil {
			t.Fatal(err)
		}
		if c, _ := k.Confirmed(e.bob.Account); c.Auditor != "ngo" {
			t.Fatalf("confirmation names auditor %q", c.Auditor)
		}
	})

	t.Run("withholds new heads", func(t *testing.T) {
		k := e.checker(nil)
		k.cfg.Now = func() time.Time { return time.Now().Add(2 * time.Hour) }
		isAlarm(t, "a stale head", k.CheckKey(t.Context(), e.ac, e.bob.Account, e.bobKey))
	})
}

func FuzzDecodeState(f *testing.F) {
	s := state{head: &keytrans.Head{Size: 3}, ownVersion: 2}
	s.confirmed("bob", []byte("key"), 3, "ngo")
	f.Add(s.encode())
	f.Add([]byte{1, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := decodeState(b)
		if err != nil {
			return
		}
		s2, err := decodeState(s.encode())
		if err != nil || s2.ownVersion != s.ownVersion || len(s2.peers) != len(s.peers) {
			t.Fatal("a decoded state does not survive encoding")
		}
	})
}

// TestSplitView: heads contacts send inside their messages are compared
// with the own view at the next monitoring; one the directory signed that
// cannot be the same log raises an alarm naming the contact.
func TestSplitView(t *testing.T) {
	e := newEnv(t)
	k := e.checker(nil)
	if err := k.Monitor(t.Context(), e.ac); err != nil {
		t.Fatal(err)
	}
	honest, _ := e.srv.KeyDir().Head()
	if !bytes.Equal(k.Head(), honest.Encode()) {
		t.Fatal("Head is not the newest signed head seen")
	}
	forked := honest.Head
	forked.LogRoot[7] ^= 1
	junk := bytes.Clone(honest.Encode())
	junk[20] ^= 1
	k.Gossip("bob", honest.Encode())
	k.Gossip("mallory", junk) // a contact's forgery proves nothing
	if err := k.Monitor(t.Context(), e.ac); err != nil {
		t.Fatalf("honest or unsigned heads: %v", err)
	}
	for range 2 * maxHeard { // a chatty contact's repeats crowd out no other head
		k.Gossip("dave", honest.Encode())
	}
	k.Gossip("bob", e.resign(&forked))
	err := k.Monitor(t.Context(), e.ac)
	isAlarm(t, "a forked head of the same size", err)
	if !strings.Contains(err.Error(), "bob") {
		t.Fatalf("the alarm does not name the contact: %v", err)
	}
	// A later head on another branch: the server cannot prove it extends.
	e.tick()
	later, _ := e.srv.KeyDir().Head()
	branch := later.Head
	branch.LogRoot[0] ^= 1
	k.Gossip("carol", e.resign(&branch))
	isAlarm(t, "a later head on another branch", k.Monitor(t.Context(), e.ac))
	k.Gossip("carol", later.Encode())
	if err := k.Monitor(t.Context(), e.ac); err != nil {
		t.Fatalf("a later honest head: %v", err)
	}
}
