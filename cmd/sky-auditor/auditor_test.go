package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/skymsg/sky/client/conn"
	"github.com/skymsg/sky/keytrans"
	"github.com/skymsg/sky/keytrans/vrf"
	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/sealed"
	"github.com/skymsg/sky/server"
	"github.com/skymsg/sky/server/keydir"
	"github.com/skymsg/sky/server/servertest"
	"github.com/skymsg/sky/wire"
)

type env struct {
	t    *testing.T
	srv  *servertest.Server
	root *sealed.TrustRoot
}

// newEnv runs a skyd with a certified key directory that names auditors.
func newEnv(t *testing.T, auditors ...curve.PublicKey) *env {
	srv := servertest.Start(t, server.Config{KeyDir: server.KeyDirConfig{Interval: time.Hour, Auditors: auditors}})
	root := servertest.Certify(t, srv.Store)
	if _, err := keydir.CertifyWithRoot(context.Background(), srv.Store.(keydir.Store), root, 0); err != nil {
		t.Fatal(err)
	}
	return &env{t: t, srv: srv, root: root}
}

// epochs registers n accounts and publishes an epoch.
func (e *env) epoch(n int) {
	e.t.Helper()
	for range n {
		c, err := servertest.Dial(e.t.Context(), e.srv.URL)
		if err != nil {
			e.t.Fatal(err)
		}
		if _, err := c.Register(e.t.Context(), e.srv.Code(e.t, time.Now())); err != nil {
			e.t.Fatal(err)
		}
		c.Close()
	}
	if err := e.srv.KeyDir().Tick(e.t.Context()); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) rootB64() string { return base64.StdEncoding.EncodeToString(e.root.Public().Bytes()) }

func runCmd(t *testing.T, args ...string) (string, string, error) {
	var out, errb bytes.Buffer
	err := run(t.Context(), args, &out, &errb)
	return out.String(), errb.String(), err
}

// TestRun: init prints the key the operator names; run --once checks the
// whole log and countersigns; a later run continues from the saved state;
// the server then hands the countersignature to clients.
func TestRun(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "aud")
	pub, _, err := runCmd(t, "init", "--state", dir)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(pub))
	audKey, err := curve.ParsePublicKey(kb)
	if err != nil {
		t.Fatalf("init printed %q: %v", pub, err)
	}
	if _, _, err := runCmd(t, "init", "--state", dir); err == nil {
		t.Fatal("a second init overwrote the key")
	}
	e := newEnv(t, audKey)
	e.epoch(3)
	e.epoch(2)
	out, stderr, err := runCmd(t, "run", "--state", dir, "--server", e.srv.URL, "--trust-root", e.rootB64(), "--once")
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stderr)
	}
	sh, _ := e.srv.KeyDir().Head() // the server may have published an empty epoch when it started
	n := sh.Size
	if !strings.Contains(out, fmt.Sprintf("checked and countersigned head %d ", n)) {
		t.Fatalf("run printed %q", out)
	}
	e.epoch(1)
	if out, _, err = runCmd(t, "run", "--state", dir, "--server", e.srv.URL, "--trust-root", e.rootB64(), "--once"); err != nil || !strings.Contains(out, fmt.Sprintf("head %d ", n+1)) {
		t.Fatalf("second run: %q, %v", out, err)
	}
	audits, err := e.srv.KeyDir().Audits(t.Context())
	if err != nil || len(audits) != 1 || audits[0].Head.Size != n+1 || audits[0].Signature.Verify(&audits[0].Head.Head, audKey) != nil {
		t.Fatalf("the server's audits: %+v, %v", audits, err)
	}
	if out, _, err = runCmd(t, "status", "--state", dir); err != nil || !strings.Contains(out, fmt.Sprintf("checked: %d epochs", n+1)) {
		t.Fatalf("status: %q, %v", out, err)
	}
	other := sealed.GenerateTrustRoot()
	_, _, err = runCmd(t, "run", "--state", dir, "--server", e.srv.URL, "--trust-root", base64.StdEncoding.EncodeToString(other.Public().Bytes()), "--once")
	if !errors.Is(err, ErrMisbehaviour) {
		t.Fatalf("a directory under another trust root: %v", err)
	}
}

// liar is a server that lies to the auditor in one way.
type liar struct {
	wireSource
	head         func(*wire.KeyDirHead)
	log          func(*wire.KeyDirEpochs)
	countersigns int
}

func (l *liar) Head(ctx context.Context) (*wire.KeyDirHead, error) {
	h, err := l.wireSource.Head(ctx)
	if err == nil && l.head != nil {
		l.head(h)
	}
	return h, err
}

func (l *liar) Log(ctx context.Context, from uint64) (*wire.KeyDirEpochs, error) {
	es, err := l.wireSource.Log(ctx, from)
	if err == nil && l.log != nil {
		l.log(es)
	}
	return es, err
}

func (l *liar) Countersign(ctx context.Context, size uint64, sig []byte) error {
	l.countersigns++
	return l.wireSource.Countersign(ctx, size, sig)
}

// TestMisbehaviour: each way a directory can lie to its auditor is caught,
// and nothing is countersigned.
func TestMisbehaviour(t *testing.T) {
	aud := curve.GenerateKeyPair()
	e := newEnv(t, aud.Public)
	e.epoch(3)
	e.epoch(2)
	keys := e.srv.KeyDir().Keys()
	resign := func(h *keytrans.Head) []byte { return keytrans.SignHead(*h, keys.Cert.KeyID, keys.Signing).Encode() }
	rootPriv, _ := e.root.MarshalBinary()
	rootKey, _ := curve.ParsePrivateKey(rootPriv)
	// editEpoch changes epoch i of the page and re-signs nothing else.
	editEpoch := func(i int, fn func(*keytrans.Epoch)) func(*wire.KeyDirEpochs) {
		return func(es *wire.KeyDirEpochs) {
			if i < len(es.Epochs) {
				ep, _ := keytrans.DecodeEpoch(es.Epochs[i])
				fn(ep)
				es.Epochs[i] = ep.Encode()
			}
		}
	}
	cases := map[string]*liar{
		"an entry's version reset (history rewritten)": {log: editEpoch(1, func(ep *keytrans.Epoch) { ep.Updates[0].Leaf.Version = 0 })},
		"an update dropped from an epoch":              {log: editEpoch(1, func(ep *keytrans.Epoch) { ep.Updates = ep.Updates[1:] })},
		"an epoch withheld":                            {log: func(es *wire.KeyDirEpochs) { es.Epochs, es.Heads = nil, nil }},
		"a signed head that its log does not lead to": {log: func(es *wire.KeyDirEpochs) {
			h, _ := keytrans.DecodeSignedHead(es.Heads[1])
			h.PrefixRoot[0] ^= 1
			es.Heads[1] = resign(&h.Head)
		}},
		"a forked newest head (validly signed)": {head: func(h *wire.KeyDirHead) {
			sh, _ := keytrans.DecodeSignedHead(h.Head)
			sh.LogRoot[0] ^= 1
			h.Head = resign(&sh.Head)
		}},
		"a newest head with a forged signature": {head: func(h *wire.KeyDirHead) { h.Head[len(h.Head)-5] ^= 1 }},
		"a new VRF key (every entry moved)": {head: func(h *wire.KeyDirHead) {
			h.Certificate = keytrans.NewDirectoryCertificate(rootKey, keys.Cert.KeyID, keys.Cert.SigningKey, vrf.GenerateKey().Public()).Encode()
		}},
	}
	for name, l := range cases {
		t.Run(name, func(t *testing.T) {
			c, err := conn.Dial(t.Context(), e.srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			l.wireSource = wireSource{c}
			st := &state{auditor: &keytrans.Auditor{}}
			if name == "a new VRF key (every entry moved)" {
				st.cert = keys.Cert
			}
			f := &follower{st: st, key: aud.Private, roots: []curve.PublicKey{e.root.Public()}, now: time.Now}
			if _, err := f.sync(t.Context(), l); !errors.Is(err, ErrMisbehaviour) {
				t.Fatalf("sync = %v, want ErrMisbehaviour", err)
			}
			if l.countersigns != 0 {
				t.Fatal("the auditor countersigned after catching a lie")
			}
		})
	}
	// A shrunk log: the auditor has seen more than the server now shows.
	c, _ := conn.Dial(t.Context(), e.srv.URL)
	defer c.Close()
	f := &follower{st: &state{auditor: &keytrans.Auditor{}}, key: aud.Private, roots: []curve.PublicKey{e.root.Public()}}
	if _, err := f.sync(t.Context(), wireSource{c}); err != nil {
		t.Fatal(err)
	}
	e2 := newEnv(t, aud.Public) // another directory, one epoch long, under its own root
	e2.epoch(1)
	c2, _ := conn.Dial(t.Context(), e2.srv.URL)
	defer c2.Close()
	f.roots = []curve.PublicKey{e2.root.Public()}
	f.st.cert = nil
	if _, err := f.sync(t.Context(), wireSource{c2}); !errors.Is(err, ErrMisbehaviour) {
		t.Fatalf("a shorter log: %v", err)
	}
}
