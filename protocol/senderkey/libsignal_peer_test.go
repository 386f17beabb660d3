package senderkey

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/skymsg/sky/internal/testenv"
	"github.com/skymsg/sky/interop"
	"github.com/skymsg/sky/protocol"
)

// startNodePeer runs the interop suite's Node test peer (libsignal 0.103.0,
// interop/node/peer.js) with the identity name and drives it directly.
func startNodePeer(t *testing.T, name string) *interop.Peer {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		testenv.Unavailable(t, "INTEROP", "node not found in PATH: install Node.js 20 or newer, then run `npm ci --prefix interop/node`")
	}
	dir := filepath.Join("..", "..", "interop", "node")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@signalapp", "libsignal-client", "package.json")); err != nil {
		testenv.Unavailable(t, "INTEROP", "libsignal is not installed: run `npm ci --prefix interop/node` from the repository root")
	}
	p, err := interop.Start("node", dir, node, "peer.js")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Error(err)
		}
	})
	if _, err := p.Init(name, 1, false); err != nil {
		t.Fatal(err)
	}
	return p
}

var aliceAtNode = interop.Address{Name: alice.Name, DeviceID: int(alice.DeviceID)}

// nodeDecrypt has the peer decrypt group messages from Alice in one batch
// and returns each plaintext or error type.
func nodeDecrypt(t *testing.T, p *interop.Peer, cts ...[]byte) (pts [][]byte, errTypes []string) {
	t.Helper()
	reqs := make([]interop.Request, len(cts))
	for i, ct := range cts {
		reqs[i] = interop.GroupDecryptRequest(aliceAtNode, ct)
	}
	replies, err := p.Do(reqs...)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range replies {
		pt, err := interop.DecodePlaintext(r)
		pts, errTypes = append(pts, pt), append(errTypes, interop.ErrorType(err))
	}
	return pts, errTypes
}

// TestLibsignalReadsSkyGroupMessages: libsignal accepts Sky's distribution
// message (same distribution, chain ID and iteration), decrypts 300 of Sky's
// group messages delivered shuffled, refuses replays as duplicates and
// forged or cut messages, and a member who gets the re-sent distribution
// message later cannot read earlier messages.
func TestLibsignalReadsSkyGroupMessages(t *testing.T) {
	peer := startNodePeer(t, "bbbbbbbb-0000-4000-8000-000000000002")
	store := NewMemoryStore()
	id := DistributionID{0x42, 6: 0x40, 8: 0x80, 15: 7}
	d, err := CreateDistribution(ctx, store, alice, id)
	if err != nil {
		t.Fatal(err)
	}
	g, err := peer.GroupProcess(aliceAtNode, d.Bytes())
	if err != nil || g.DistributionID != id.String() || g.ChainID != d.ChainID || g.Iteration != 0 {
		t.Fatalf("libsignal read %+v (%v); sent distribution %s chain %d iteration 0", g, err, id, d.ChainID)
	}
	const n = 300
	pts, cts := make([][]byte, n), make([][]byte, n)
	for i := range n {
		pts[i] = fmt.Appendf(nil, "message %d %s", i, bytes.Repeat([]byte{'x'}, i%40))
		if cts[i], err = Encrypt(ctx, store, alice, id, pts[i]); err != nil {
			t.Fatal(err)
		}
	}
	order := rand.New(rand.NewPCG(3, 4)).Perm(n)
	shuffled := make([][]byte, n)
	for j, i := range order {
		shuffled[j] = cts[i]
	}
	got, errTypes := nodeDecrypt(t, peer, shuffled...)
	for j, i := range order {
		if errTypes[j] != "" || !bytes.Equal(got[j], pts[i]) {
			t.Fatalf("libsignal on message %d: %q %s", i, got[j], errTypes[j])
		}
	}

	next, err := Encrypt(ctx, store, alice, id, []byte("after"))
	if err != nil {
		t.Fatal(err)
	}
	bad := []struct {
		what string
		ct   []byte
		want string
	}{
		{"replay", cts[17], "DuplicatedMessage"},
		{"signature flipped", flip(next, len(next)-1), "InvalidSignature"},
		{"ciphertext flipped", flip(next, len(next)-SignatureSize-2), "InvalidSignature"},
		{"cut", next[:len(next)/2], "InvalidMessage"},
	}
	for _, b := range bad {
		if _, e := nodeDecrypt(t, peer, b.ct); e[0] != b.want {
			t.Errorf("libsignal on a %s: %q, want %s", b.what, e[0], b.want)
		}
	}
	if got, e := nodeDecrypt(t, peer, next); e[0] != "" || string(got[0]) != "after" {
		t.Fatalf("libsignal after the attacks: %q %s", got[0], e[0])
	}

	again, err := CreateDistribution(ctx, store, alice, id)
	if err != nil || again.Iteration != n+1 {
		t.Fatalf("re-sent distribution message at iteration %d: %v", again.Iteration, err)
	}
	late := startNodePeer(t, "cccccccc-0000-4000-8000-000000000003")
	if g, err := late.GroupProcess(aliceAtNode, again.Bytes()); err != nil || g.Iteration != n+1 {
		t.Fatalf("libsignal read iteration %d: %v", g.Iteration, err)
	}
	if _, e := nodeDecrypt(t, late, next); e[0] != "DuplicatedMessage" {
		t.Fatalf("a member who joined later on an earlier message: %q", e[0])
	}
}

// TestSkyReadsLibsignalGroupMessages: Sky accepts libsignal's distribution
// message, byte for byte, and decrypts 500 of its group messages delivered
// last-first.
func TestSkyReadsLibsignalGroupMessages(t *testing.T) {
	peer := startNodePeer(t, alice.Name)
	id := "5eed5eed-0000-4000-8000-0000000000aa"
	skdm, err := peer.GroupCreate(id)
	if err != nil {
		t.Fatal(err)
	}
	d, err := ParseDistributionMessage(skdm)
	if err != nil || d.DistributionID.String() != id || d.Iteration != 0 || d.ChainID >= 1<<31 || !bytes.Equal(d.Bytes(), skdm) {
		t.Fatalf("libsignal's distribution message %x reads %v (%v)", skdm, d, err)
	}
	store := NewMemoryStore()
	if err := ProcessDistribution(ctx, store, alice, d); err != nil {
		t.Fatal(err)
	}
	const n = 500
	reqs := make([]interop.Request, n)
	pts := make([][]byte, n)
	for i := range n {
		pts[i] = fmt.Appendf(nil, "libsignal message %d", i)
		reqs[i] = interop.GroupEncryptRequest(id, pts[i])
	}
	replies, err := peer.Do(reqs...)
	if err != nil {
		t.Fatal(err)
	}
	cts := make([]interop.Ciphertext, n)
	for i, r := range replies {
		if err := r.Decode(&cts[i]); err != nil || cts[i].Type != 7 {
			t.Fatalf("group_encrypt %d: type %d, %v", i, cts[i].Type, err)
		}
	}
	for i := n - 1; i >= 0; i-- {
		pt, err := Decrypt(ctx, store, alice, cts[i].Ciphertext)
		if err != nil || !bytes.Equal(pt, pts[i]) {
			t.Fatalf("libsignal message %d: %q %v", i, pt, err)
		}
	}
	if _, err := Decrypt(ctx, store, protocol.Address{Name: alice.Name, DeviceID: 2}, cts[0].Ciphertext); err == nil {
		t.Fatal("a message decrypted as from another device")
	}
}

func flip(b []byte, i int) []byte {
	out := bytes.Clone(b)
	out[i] ^= 1
	return out
}
