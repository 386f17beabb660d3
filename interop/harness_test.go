package interop

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/skymsg/sky/internal/testenv"
)

// libsignalVersion is the version of @signalapp/libsignal-client the Node
// peer must run; interop/node/package-lock.json pins it.
const libsignalVersion = "0.103.0"

var tempDir string // removed by TestMain

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sky-interop-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "interop: cannot create a temporary directory:", err)
		os.Exit(2)
	}
	tempDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// An implementation is one of the two peers.
type implementation struct {
	name  string // "Go" or "Node"
	start func(t *testing.T) *Peer
}

var implementations = []implementation{
	{"Go", startGoPeer},
	{"Node", startNodePeer},
}

// startNodePeer starts the libsignal peer, or reports it unavailable.
func startNodePeer(t *testing.T) *Peer {
	t.Helper()
	node := requireNode(t)
	return startPeer(t, "node", node, filepath.Join("node", "peer.js"))
}

// requireNode returns the path of node after checking that the Node peer's
// dependencies are installed at the pinned libsignal version, or reports them
// unavailable.
func requireNode(t testing.TB) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		testenv.Unavailable(t, "INTEROP", "node not found in PATH: install Node.js 20 or newer, then run `npm ci --prefix interop/node`")
	}
	manifest := filepath.Join("node", "node_modules", "@signalapp", "libsignal-client", "package.json")
	b, err := os.ReadFile(manifest)
	if err != nil {
		testenv.Unavailable(t, "INTEROP", "the Node peer's dependencies are not installed: run `npm ci --prefix interop/node` from the repository root")
	}
	var pkg struct{ Version string }
	if err := json.Unmarshal(b, &pkg); err != nil || pkg.Version != libsignalVersion {
		t.Fatalf("%s has version %q, want %s: run `npm ci --prefix interop/node` to install what package-lock.json pins", manifest, pkg.Version, libsignalVersion)
	}
	return node
}

var goPeer struct {
	once    sync.Once
	path    string
	missing string // why the Go peer is unavailable
	err     error  // a build failure
}

// startGoPeer builds cmd/sky-interop-peer once per test binary and starts it.
func startGoPeer(t *testing.T) *Peer {
	t.Helper()
	goPeer.once.Do(buildGoPeer)
	if goPeer.missing != "" {
		testenv.Unavailable(t, "INTEROP", goPeer.missing)
	}
	if goPeer.err != nil {
		t.Fatal(goPeer.err)
	}
	return startPeer(t, "go", goPeer.path)
}

func buildGoPeer() {
	if _, err := os.Stat(filepath.Join("..", "cmd", "sky-interop-peer")); err != nil {
		goPeer.missing = "the Go peer cmd/sky-interop-peer does not exist in this tree (it is built by the protocol core work); `go build ./cmd/sky-interop-peer` must succeed"
		return
	}
	goPeer.path = filepath.Join(tempDir, "sky-interop-peer")
	// go test puts the go command it runs under first in PATH.
	cmd := exec.Command("go", "build", "-o", goPeer.path, "./cmd/sky-interop-peer")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		goPeer.err = fmt.Errorf("building the Go peer failed (go build ./cmd/sky-interop-peer): %v\n%s", err, out)
	}
}

func startPeer(t *testing.T, label string, argv ...string) *Peer {
	t.Helper()
	p, err := Start(label, ".", argv...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Error(err)
		}
	})
	return p
}

// forEachPairing runs f for every (initiator, responder) pairing of the two
// implementations: Go→Go, Go→Node, Node→Go, Node→Node. The pairings run in
// parallel; each call of f starts its own two peer processes.
func forEachPairing(t *testing.T, f func(t *testing.T, a, b *side)) {
	for _, ai := range implementations {
		for _, bi := range implementations {
			t.Run(ai.name+"_to_"+bi.name, func(t *testing.T) {
				t.Parallel()
				a := newSide(t, ai, "initiator")
				b := newSide(t, bi, "responder")
				if a.id.Name == b.id.Name {
					t.Fatalf("both sides were given the name %s", a.id.Name)
				}
				f(t, a, b)
			})
		}
	}
}

// A side is one party of a scenario: a running peer and the identity it was
// given. Its methods fail the test on any error they do not expect.
type side struct {
	*Peer
	t    *testing.T
	impl string
	role string
	id   Identity
	rng  *rand.Rand
}

// newUUID returns a distinct version-4 UUID string for each call.
func newUUID(rng *rand.Rand) string {
	b := make([]byte, 16)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func newSide(t *testing.T, impl implementation, role string) *side {
	t.Helper()
	p := impl.start(t)
	p.Label = impl.name + " " + role
	s := &side{Peer: p, t: t, impl: impl.name, role: role, rng: rand.New(rand.NewPCG(seedFor(t.Name()), seedFor(role)))}
	s.init(true)
	return s
}

// seedFor gives every test a fixed, distinct seed, so a failure reproduces.
func seedFor(name string) uint64 {
	var h uint64 = 14695981039346656037
	for i := 0; i < len(name); i++ {
		h = (h ^ uint64(name[i])) * 1099511628211
	}
	return h
}

// init gives the side a fresh identity. Registration ids are drawn from
// 128..16380 so that they take two varint bytes, as in the message size
// reference of 1798 bytes.
func (s *side) init(oneTimePreKey bool) {
	s.t.Helper()
	name := newUUID(s.rng)
	regID := 128 + s.rng.IntN(16380-128)
	var id Identity
	err := s.Call(Request{"cmd": "init", "name": name, "device_id": 1 + s.rng.IntN(127), "registration_id": regID, "one_time_pre_key": oneTimePreKey}, &id)
	if err != nil {
		s.t.Fatalf("%s: init: %v", s.Label, err)
	}
	if id.Name != name || id.RegistrationID != uint32(regID) {
		s.t.Fatalf("%s: init answered name %q registration id %d, want %q and %d", s.Label, id.Name, id.RegistrationID, name, regID)
	}
	s.id = id
}

func (s *side) addr() Address { return s.id.Address() }

// message is one message in flight: what was sent and what it became.
type message struct {
	plaintext []byte
	ct        Ciphertext
}

// plaintext returns a random message body; most are short, a few are empty
// or several kilobytes long.
func (s *side) plaintext() []byte {
	n := s.rng.IntN(200)
	switch s.rng.IntN(50) {
	case 0:
		n = 0
	case 1:
		n = 1000 + s.rng.IntN(9000)
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(s.rng.Uint32())
	}
	return b
}

// send encrypts n random messages for to in one batch.
func (s *side) send(to *side, n int) []message {
	s.t.Helper()
	msgs := make([]message, n)
	reqs := make([]Request, n)
	for i := range msgs {
		msgs[i].plaintext = s.plaintext()
		reqs[i] = EncryptRequest(to.addr(), msgs[i].plaintext)
	}
	replies, err := s.Do(reqs...)
	if err != nil {
		s.t.Fatal(err)
	}
	for i, r := range replies {
		if err := r.Decode(&msgs[i].ct); err != nil {
			s.t.Fatalf("%s: encrypting message %d of %d for %s: %v", s.Label, i+1, n, to.Label, err)
		}
	}
	return msgs
}

// receive decrypts msgs from from, in the order given, in one batch, and
// fails the test unless each decrypts to exactly what was sent.
func (s *side) receive(from *side, msgs []message) {
	s.t.Helper()
	reqs := make([]Request, len(msgs))
	for i, m := range msgs {
		reqs[i] = DecryptRequest(from.addr(), m.ct)
	}
	replies, err := s.Do(reqs...)
	if err != nil {
		s.t.Fatal(err)
	}
	for i, r := range replies {
		got, err := DecodePlaintext(r)
		if err != nil {
			s.t.Fatalf("%s: decrypting message %d of %d from %s (type %d, %d bytes): %v", s.Label, i+1, len(msgs), from.Label, msgs[i].ct.Type, len(msgs[i].ct.Ciphertext), err)
		}
		if !bytes.Equal(got, msgs[i].plaintext) {
			s.t.Fatalf("%s: message %d of %d from %s decrypted to %d bytes %.16x…, sent %d bytes %.16x…", s.Label, i+1, len(msgs), from.Label, len(got), got, len(msgs[i].plaintext), msgs[i].plaintext)
		}
	}
}

// reject decrypts each ciphertext from from and fails the test unless every
// one is refused with wantType. what names each attempt for messages.
func (s *side) reject(from *side, wantType string, cts []Ciphertext, what []string) {
	s.t.Helper()
	reqs := make([]Request, len(cts))
	for i, c := range cts {
		reqs[i] = DecryptRequest(from.addr(), c)
	}
	replies, err := s.Do(reqs...)
	if err != nil {
		s.t.Fatal(err)
	}
	var bad []string
	outcomes := map[string]int{} // distinct wrong outcomes, to keep the report short
	for i, r := range replies {
		var outcome string
		switch {
		case r.OK:
			outcome = "accepted"
		case r.ErrorType != wantType:
			outcome = fmt.Sprintf("%s (%s)", r.ErrorType, r.Error)
		default:
			continue
		}
		if outcomes[outcome]++; outcomes[outcome] <= 3 {
			bad = append(bad, what[i]+": "+outcome)
		}
	}
	if len(outcomes) > 0 {
		n := 0
		for _, c := range outcomes {
			n += c
		}
		s.t.Fatalf("%s: %d of %d bad messages from %s were not rejected as %s (at most 3 shown per outcome):\n  %s", s.Label, n, len(cts), from.Label, wantType, strings.Join(bad, "\n  "))
	}
}

// establish starts a session from a to b with b's init bundle and exchanges
// one message each way, so that both sides hold an acknowledged session.
func establish(t *testing.T, a, b *side) {
	t.Helper()
	if err := a.ProcessBundle(b.addr(), b.id.Bundle); err != nil {
		t.Fatalf("%s: process_bundle of %s's bundle: %v", a.Label, b.Label, err)
	}
	first := a.send(b, 1)
	if first[0].ct.Type != 3 {
		t.Fatalf("%s: first message has type %d, want 3 (PreKey)", a.Label, first[0].ct.Type)
	}
	b.receive(a, first)
	reply := b.send(a, 1)
	if reply[0].ct.Type != 2 {
		t.Fatalf("%s: reply to a PreKey message has type %d, want 2 (Whisper)", b.Label, reply[0].ct.Type)
	}
	a.receive(b, reply)
}

// shuffled returns a seeded permutation of msgs.
func shuffled(rng *rand.Rand, msgs []message) []message {
	out := append([]message(nil), msgs...)
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

func reversed(msgs []message) []message {
	out := make([]message, len(msgs))
	for i, m := range msgs {
		out[len(msgs)-1-i] = m
	}
	return out
}
