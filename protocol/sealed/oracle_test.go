package sealed

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/skymsg/sky/internal/testenv"
	"github.com/skymsg/sky/interop"
)

// startOracle runs libsignal 0.103.0 as testdata/libsignal.js oracle, which
// opens and seals envelopes on request, behind the interop suite's driver.
func startOracle(t *testing.T) *interop.Peer {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		testenv.Unavailable(t, "INTEROP", "node not found in PATH: install Node.js 20 or newer, then run `npm ci --prefix interop/node`")
	}
	if _, err := os.Stat(filepath.Join("..", "..", "interop", "node", "node_modules", "@signalapp", "libsignal-client", "package.json")); err != nil {
		testenv.Unavailable(t, "INTEROP", "libsignal is not installed: run `npm ci --prefix interop/node` from the repository root")
	}
	p, err := interop.Start("libsignal oracle", "testdata", node, "libsignal.js", "oracle")
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

// TestLibsignalOpensSkyEnvelopes has libsignal open envelopes Sky sealed,
// for contents of every type, hint and group ID, and validate Sky's
// certificates at, and one millisecond past, their expiry; and has libsignal
// refuse Sky envelopes with a flipped byte.
func TestLibsignalOpensSkyEnvelopes(t *testing.T) {
	o := startOracle(t)
	w := newWorld(t)
	expires := w.aliceCert.Expires().UnixMilli()
	recipientPriv := w.bob.Private.Bytes()
	for _, c := range testContents(w.aliceCert) {
		env := w.seal(t, c)
		for _, at := range []int64{expires, expires + 1} {
			var got opened
			err := o.Call(interop.Request{"cmd": "open", "recipient": recipientPriv, "envelope": env,
				"trust_root": w.root.Public().Bytes(), "time": at}, &got)
			if err != nil {
				t.Fatalf("libsignal cannot open Sky's %v envelope: %v", c.Type, err)
			}
			checkOpenedByLibsignal(t, c, &got)
			if got.ValidAtOracle != (at == expires) {
				t.Errorf("libsignal says Sky's certificate valid=%v at %d (expiry %d)", got.ValidAtOracle, at, expires)
			}
		}
	}
	env := w.seal(t, testContents(w.aliceCert)[0])
	for _, i := range []int{0, 3, 40, 60, len(env) - 11, len(env) - 1} {
		bad := bytes.Clone(env)
		bad[i] ^= 0x40
		var got opened
		if err := o.Call(interop.Request{"cmd": "open", "recipient": recipientPriv, "envelope": bad,
			"trust_root": w.root.Public().Bytes(), "time": 0}, &got); err == nil {
			t.Errorf("libsignal opened a Sky envelope with byte %d flipped", i)
		}
	}
}

// TestSkyOpensLibsignalEnvelopes has libsignal seal contents Sky encoded and
// opens them.
func TestSkyOpensLibsignalEnvelopes(t *testing.T) {
	o := startOracle(t)
	w := newWorld(t)
	for _, c := range testContents(w.aliceCert) {
		content, err := c.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			Envelope []byte `json:"envelope"`
		}
		if err := o.Call(interop.Request{"cmd": "seal", "sender": w.alice.Private.Bytes(),
			"recipient_public": w.bob.Public.Bytes(), "content": content}, &got); err != nil {
			t.Fatalf("libsignal cannot seal Sky's %v content: %v", c.Type, err)
		}
		opened, err := Decrypt(got.Envelope, w.bobR, w.now)
		if err != nil {
			t.Fatalf("Sky cannot open libsignal's %v envelope: %v", c.Type, err)
		}
		again, _ := opened.Bytes()
		if !bytes.Equal(again, content) {
			t.Fatalf("opened %x, sealed %x", again, content)
		}
	}
}

// testContents returns contents of every type, with and without hints and
// group IDs, from cert's device.
func testContents(cert *SenderCertificate) []*Content {
	msg := bytes.Repeat([]byte("ciphertext "), 12)
	group := []byte(strings.Repeat("g", 32))
	return []*Content{
		{Type: TypePreKey, Sender: cert, Message: msg},
		{Type: TypeWhisper, Sender: cert, Message: msg, Hint: HintResendable, GroupID: group},
		{Type: TypeSenderKey, Sender: cert, Message: msg, Hint: HintImplicit, GroupID: group},
		{Type: TypePlaintext, Sender: cert, Message: msg[:7], Hint: 9},
	}
}

func checkOpenedByLibsignal(t *testing.T, c *Content, got *opened) {
	t.Helper()
	if got.Type != int(c.Type) || got.Hint != uint32(c.Hint) || !bytes.Equal(got.GroupID, c.GroupID) ||
		!bytes.Equal(got.Content, c.Message) || !bytes.Equal(got.SenderCert, c.Sender.Bytes()) ||
		got.SenderUUID != c.Sender.UUID() || got.SenderDevice != c.Sender.DeviceID() ||
		!bytes.Equal(got.IdentityKey, c.Sender.IdentityKey().Bytes()) || got.Expires != c.Sender.ExpiresMillis() || got.SenderE164 != nil {
		t.Fatalf("libsignal read %+v\nfrom %+v", got, c)
	}
}
