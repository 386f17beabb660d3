package server_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/skymsg/sky/keytrans"
	"github.com/skymsg/sky/keytrans/logtree"
	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/server"
	"github.com/skymsg/sky/server/keydir"
	"github.com/skymsg/sky/server/servertest"
	"github.com/skymsg/sky/wire"
)

func kdHead(t *testing.T, c *servertest.Client) (*wire.KeyDirHead, error) {
	r, err := c.Call(ctxT(t), &wire.Request{Op: &wire.Request_KeydirGetHead{KeydirGetHead: &wire.KeyDirGetHead{}}})
	return r.GetKeydirHead(), err
}

func kdSearch(t *testing.T, c *servertest.Client, account string) (*wire.KeyDirLookup, error) {
	r, err := c.Call(ctxT(t), &wire.Request{Op: &wire.Request_KeydirSearch{KeydirSearch: &wire.KeyDirSearch{Account: account}}})
	return r.GetKeydirLookup(), err
}

// verifyLookup checks a lookup answer as a client does and returns the
// entry (nil: absent).
func verifyLookup(t *testing.T, cert *keytrans.DirectoryCertificate, account string, r *wire.KeyDirLookup) *keytrans.Entry {
	t.Helper()
	sh, err := keytrans.DecodeSignedHead(r.GetHead())
	if err != nil {
		t.Fatal(err)
	}
	if err := sh.Verify(cert); err != nil {
		t.Fatal(err)
	}
	l, err := keytrans.DecodeLookup(r.GetLookup())
	if err != nil {
		t.Fatal(err)
	}
	e, err := keytrans.VerifyLookup(cert, &sh.Head, account, l)
	if err != nil {
		t.Fatalf("%s: %v", account, err)
	}
	return e
}

// TestKeyDirOverTheWire: registration puts an account's identity key in
// the directory; another account finds it with a proof that chains to the
// trust root; heads, consistency and the log need no account, searching
// does; a named auditor's countersignature reaches clients.
func TestKeyDirOverTheWire(t *testing.T) {
	aud, stranger := curve.GenerateKeyPair(), curve.GenerateKeyPair()
	e := newEnv(t, server.Config{KeyDir: server.KeyDirConfig{Interval: time.Hour, Auditors: []curve.PublicKey{aud.Public}}})
	anon := e.dial()
	if _, err := kdHead(t, anon); !errors.Is(err, wire.ErrUnsupported) {
		t.Fatalf("head before certification: %v, want UNSUPPORTED", err)
	}
	root := servertest.Certify(t, e.srv.Store)
	ca, alice := e.register()
	_, bob := e.register() // registered before the directory had keys: its monitoring brings it in
	if _, err := keydir.CertifyWithRoot(context.Background(), e.srv.Store.(keydir.Store), root, 0); err != nil {
		t.Fatal(err)
	}
	kd := e.srv.KeyDir()
	tick := func() {
		if err := kd.Tick(ctxT(t)); err != nil {
			t.Fatal(err)
		}
	}
	tick()
	h, err := kdHead(t, anon)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := keytrans.DecodeCertificate(h.GetCertificate())
	if err != nil || cert.Verify(root.Public()) != nil {
		t.Fatalf("certificate: %v", err)
	}
	if _, err := kdSearch(t, anon, bob.Account); !errors.Is(err, wire.ErrUnauthenticated) {
		t.Fatalf("search without an account: %v", err)
	}
	r, err := kdSearch(t, ca, bob.Account)
	if err != nil {
		t.Fatal(err)
	}
	if got := verifyLookup(t, cert, bob.Account, r); got != nil {
		t.Fatalf("bob registered before the directory had keys, yet is in it: %+v", got)
	}
	cb := e.connect(bob)
	if _, err := cb.Call(ctxT(t), &wire.Request{Op: &wire.Request_KeydirMonitor{KeydirMonitor: &wire.KeyDirMonitor{}}}); err != nil {
		t.Fatal(err)
	}
	monitor := func(c *servertest.Client) *wire.KeyDirLookup {
		r, err := c.Call(ctxT(t), &wire.Request{Op: &wire.Request_KeydirMonitor{KeydirMonitor: &wire.KeyDirMonitor{}}})
		if err != nil {
			t.Fatal(err)
		}
		return r.GetKeydirLookup()
	}
	if got := verifyLookup(t, cert, alice.Account, monitor(ca)); got != nil {
		t.Fatal("alice is in the directory before any epoch could hold her")
	}
	_, carol := e.register() // registered with the directory running
	tick()
	for _, d := range []*servertest.Device{bob, carol} {
		r, err := kdSearch(t, ca, d.Account)
		if err != nil {
			t.Fatal(err)
		}
		acct, _ := e.srv.Store.Account(context.Background(), d.Account)
		if got := verifyLookup(t, cert, d.Account, r); got == nil || !bytes.Equal(got.Value, acct.IdentityKey) || got.Version != 1 {
			t.Fatalf("%s's entry: %+v", d.Account, got)
		}
	}
	if got := verifyLookup(t, cert, alice.Account, monitor(ca)); got == nil {
		t.Fatal("alice's monitoring did not bring her entry in")
	}
	if _, err := kdSearch(t, ca, "not an id!"); !errors.Is(err, wire.ErrBadRequest) {
		t.Fatalf("search for a malformed ID: %v", err)
	}

	// Consistency from the first head to the newest, without an account.
	first, _ := keytrans.DecodeSignedHead(h.GetHead())
	cr, err := anon.Call(ctxT(t), &wire.Request{Op: &wire.Request_KeydirConsistency{KeydirConsistency: &wire.KeyDirConsistency{From: first.Size}}})
	if err != nil {
		t.Fatal(err)
	}
	newest, _ := keytrans.DecodeSignedHead(cr.GetKeydirProof().GetHead())
	p, err := logtree.DecodeProof(cr.GetKeydirProof().GetProof())
	if err != nil || keytrans.VerifyConsistency(&first.Head, &newest.Head, p) != nil || newest.Size <= first.Size {
		t.Fatalf("consistency %d→%d: %v", first.Size, newest.Size, err)
	}

	// The log replays in an auditor, whose countersignature clients get.
	lr, err := anon.Call(ctxT(t), &wire.Request{Op: &wire.Request_KeydirLog{KeydirLog: &wire.KeyDirLog{From: 0, Limit: 1000}}})
	if err != nil {
		t.Fatal(err)
	}
	a := &keytrans.Auditor{}
	for _, b := range lr.GetKeydirEpochs().GetEpochs() {
		ep, err := keytrans.DecodeEpoch(b)
		if err != nil || a.Apply(ep) != nil {
			t.Fatalf("epoch: %v", err)
		}
	}
	if a.Head() != newest.Head {
		t.Fatal("the log does not lead to the newest head")
	}
	ah := a.Head()
	countersign := func(key curve.PrivateKey) error {
		_, err := anon.Call(ctxT(t), &wire.Request{Op: &wire.Request_KeydirCountersign{KeydirCountersign: &wire.KeyDirCountersign{
			Size: ah.Size, Signature: keytrans.Countersign(&ah, key).Encode()}}})
		return err
	}
	if err := countersign(stranger.Private); !errors.Is(err, wire.ErrBadRequest) {
		t.Fatalf("a stranger's countersignature: %v", err)
	}
	if err := countersign(aud.Private); err != nil {
		t.Fatal(err)
	}
	h, _ = kdHead(t, anon)
	if len(h.GetAudits()) != 1 {
		t.Fatalf("%d audits, want 1", len(h.GetAudits()))
	}
	sig, _ := keytrans.DecodeAuditorSignature(h.GetAudits()[0].GetSignature())
	audited, _ := keytrans.DecodeSignedHead(h.GetAudits()[0].GetHead())
	if sig == nil || audited == nil || sig.Verify(&audited.Head, aud.Public) != nil || audited.Head != ah {
		t.Fatal("the audit handed out does not verify")
	}
}
