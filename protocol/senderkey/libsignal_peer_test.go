package senderkey

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/skymsg/sky/internal/testenv"
	"github.com/skymsg/sky/protocol"
)

// nodePeer is libsignal 0.103.0 behind the interop suite's Node test peer
// (interop/node/peer.js, PEER-PROTOCOL.md), driven directly.
type nodePeer struct {
	in  *json.Encoder
	out *bufio.Scanner
	id  int
}

func startNodePeer(t *testing.T, name string) *nodePeer {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		testenv.Unavailable(t, "INTEROP", "node not found in PATH: install Node.js 20 or newer, then run `npm ci --prefix interop/node`")
	}
	dir := filepath.Join("..", "..", "interop", "node")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@signalapp", "libsignal-client", "package.json")); err != nil {
		testenv.Unavailable(t, "INTEROP", "libsignal is not installed: run `npm ci --prefix interop/node` from the repository root")
	}
	cmd := exec.Command(node, filepath.Join(dir, "peer.js"))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Errorf("Node peer: %v\n%s", err, stderr.String())
		}
	})
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	p := &nodePeer{in: json.NewEncoder(stdin), out: sc}
	p.call(t, map[string]any{"cmd": "init", "name": name, "device_id": 1}, nil)
	return p
}

// do sends a request and returns the reply's error_type ("" on success),
// decoding the result into result.
func (p *nodePeer) do(t *testing.T, req map[string]any, result any) string {
	t.Helper()
	p.id++
	req["id"] = p.id
	if err := p.in.Encode(req); err != nil {
		t.Fatal(err)
	}
	if !p.out.Scan() {
		t.Fatalf("the Node peer stopped answering: %v", p.out.Err())
	}
	var reply struct {
		OK        bool            `json:"ok"`
		Error     string          `json:"error"`
		ErrorType string          `json:"error_type"`
		Result    json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(p.out.Bytes(), &reply); err != nil {
		t.Fatal(err)
	}
	if !reply.OK {
		return reply.ErrorType + ": " + reply.Error
	}
	if result != nil {
		if err := json.Unmarshal(reply.Result, result); err != nil {
			t.Fatal(err)
		}
	}
	return ""
}

func (p *nodePeer) call(t *testing.T, req map[string]any, result any) {
	t.Helper()
	if e := p.do(t, req, result); e != "" {
		t.Fatalf("Node peer %s: %s", req["cmd"], e)
	}
}

// TestLibsignalReadsSkyGroupMessages: libsignal accepts Sky's distribution
// message (same distribution, chain ID and iteration), decrypts 300 of Sky's
// group messages delivered shuffled, refuses replays as duplicates and
// forged or cut messages, and reads a re-sent distribution message.
func TestLibsignalReadsSkyGroupMessages(t *testing.T) {
	peer := startNodePeer(t, "bbbbbbbb-0000-4000-8000-000000000002")
	store := NewMemoryStore()
	id := DistributionID{0x42, 6: 0x40, 8: 0x80, 15: 7}
	d, err := CreateDistribution(ctx, store, alice, id)
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		DistributionID string `json:"distribution_id"`
		ChainID        uint32 `json:"chain_id"`
		Iteration      uint32 `json:"iteration"`
	}
	from := map[string]any{"peer": alice.Name, "device_id": alice.DeviceID}
	peer.call(t, with(from, "cmd", "group_process", "skdm", d.Bytes()), &g)
	if g.DistributionID != id.String() || g.ChainID != d.ChainID || g.Iteration != 0 {
		t.Fatalf("libsignal read distribution %s chain %d iteration %d; sent %s %d 0", g.DistributionID, g.ChainID, g.Iteration, id, d.ChainID)
	}
	const n = 300
	pts, cts := make([][]byte, n), make([][]byte, n)
	for i := range n {
		pts[i] = fmt.Appendf(nil, "message %d %s", i, bytes.Repeat([]byte{'x'}, i%40))
		if cts[i], err = Encrypt(ctx, store, alice, id, pts[i]); err != nil {
			t.Fatal(err)
		}
	}
	for _, i := range rand.New(rand.NewPCG(3, 4)).Perm(n) {
		var got struct {
			Plaintext []byte `json:"plaintext"`
		}
		peer.call(t, with(from, "cmd", "group_decrypt", "ciphertext", cts[i]), &got)
		if !bytes.Equal(got.Plaintext, pts[i]) {
			t.Fatalf("libsignal decrypted message %d to %q", i, got.Plaintext)
		}
	}
	next, err := Encrypt(ctx, store, alice, id, []byte("after"))
	if err != nil {
		t.Fatal(err)
	}
	for what, c := range map[string]struct {
		ct   []byte
		want string
	}{
		"replay":             {cts[17], "DuplicatedMessage"},
		"signature flipped":  {flip(next, len(next)-1), "InvalidSignature"},
		"ciphertext flipped": {flip(next, len(next)-SignatureSize-2), "InvalidSignature"},
		"cut":                {next[:len(next)/2], "InvalidMessage"},
	} {
		if e := peer.do(t, with(from, "cmd", "group_decrypt", "ciphertext", c.ct), nil); len(e) < len(c.want) || e[:len(c.want)] != c.want {
			t.Errorf("libsignal on a %s: %q, want %s", what, e, c.want)
		}
	}
	var got struct {
		Plaintext []byte `json:"plaintext"`
	}
	peer.call(t, with(from, "cmd", "group_decrypt", "ciphertext", next), &got)
	if string(got.Plaintext) != "after" {
		t.Fatalf("libsignal decrypted %q", got.Plaintext)
	}
	again, err := CreateDistribution(ctx, store, alice, id)
	if err != nil || again.Iteration != n+1 {
		t.Fatalf("re-sent distribution message at iteration %d: %v", again.Iteration, err)
	}
	other := startNodePeer(t, "cccccccc-0000-4000-8000-000000000003")
	other.call(t, with(from, "cmd", "group_process", "skdm", again.Bytes()), &g)
	if g.Iteration != n+1 {
		t.Fatalf("libsignal read iteration %d", g.Iteration)
	}
	if e := other.do(t, with(from, "cmd", "group_decrypt", "ciphertext", next), nil); len(e) < 17 || e[:17] != "DuplicatedMessage" {
		t.Fatalf("a member who joined later decrypted an earlier message: %q", e)
	}
}

// TestSkyReadsLibsignalGroupMessages: Sky accepts libsignal's distribution
// message and decrypts 500 of its group messages delivered last-first.
func TestSkyReadsLibsignalGroupMessages(t *testing.T) {
	peer := startNodePeer(t, alice.Name)
	id := "5eed5eed-0000-4000-8000-0000000000aa"
	var created struct {
		SKDM []byte `json:"skdm"`
	}
	peer.call(t, map[string]any{"cmd": "group_create", "distribution_id": id}, &created)
	d, err := ParseDistributionMessage(created.SKDM)
	if err != nil || d.DistributionID.String() != id || d.Iteration != 0 || d.ChainID >= 1<<31 {
		t.Fatalf("libsignal's distribution message: %v %v", d, err)
	}
	if !bytes.Equal(d.Bytes(), created.SKDM) {
		t.Fatalf("re-encoded distribution message differs:\n%x\n%x", d.Bytes(), created.SKDM)
	}
	store := NewMemoryStore()
	if err := ProcessDistribution(ctx, store, alice, d); err != nil {
		t.Fatal(err)
	}
	const n = 500
	type sent struct {
		Type       int    `json:"type"`
		Ciphertext []byte `json:"ciphertext"`
	}
	msgs := make([]sent, n)
	pts := make([][]byte, n)
	for i := range n {
		pts[i] = fmt.Appendf(nil, "libsignal message %d", i)
		peer.call(t, map[string]any{"cmd": "group_encrypt", "distribution_id": id, "plaintext": pts[i]}, &msgs[i])
		if msgs[i].Type != 7 {
			t.Fatalf("type %d", msgs[i].Type)
		}
	}
	for i := n - 1; i >= 0; i-- {
		pt, err := Decrypt(ctx, store, alice, msgs[i].Ciphertext)
		if err != nil || !bytes.Equal(pt, pts[i]) {
			t.Fatalf("libsignal message %d: %q %v", i, pt, err)
		}
	}
	if _, err := Decrypt(ctx, store, protocol.Address{Name: alice.Name, DeviceID: 2}, msgs[0].Ciphertext); err == nil {
		t.Fatal("a message decrypted as from another device")
	}
}

func with(base map[string]any, kv ...any) map[string]any {
	m := make(map[string]any, len(base)+len(kv)/2)
	for k, v := range base {
		m[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

func flip(b []byte, i int) []byte {
	out := bytes.Clone(b)
	out[i] ^= 1
	return out
}
