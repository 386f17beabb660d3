package interop

import (
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestPeerDriverFailures runs misbehaving processes as peers: the driver must
// fail fast with a message naming the problem, never hang.
func TestPeerDriverFailures(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh to play misbehaving peers")
	}
	tests := []struct {
		name    string
		script  string
		wantErr string
	}{
		{"hung", "sleep 30", "sent no reply"},
		{"exits at once", "exit 3", "exited"},
		{"garbage on stdout", "echo hello; sleep 30", "not a JSON reply"},
		{"wrong id", `read l; echo '{"id":99,"ok":true,"result":{}}'; sleep 30`, "with id 99"},
		{"failure without error_type", `read l; echo '{"id":1,"ok":false}'; sleep 30`, "without an error_type"},
		{"ok without result", `read l; echo '{"id":1,"ok":true}'; sleep 30`, "no result"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := Start("fake", ".", "sh", "-c", tc.script)
			if err != nil {
				t.Fatal(err)
			}
			p.ReplyTimeout = 300 * time.Millisecond
			start := time.Now()
			_, err = p.Do(Request{"cmd": "ping"})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Do: %v, want an error containing %q", err, tc.wantErr)
			}
			if time.Since(start) > 5*time.Second {
				t.Fatalf("took %v to give up", time.Since(start))
			}
			if _, err2 := p.Do(Request{"cmd": "ping"}); err2 == nil {
				t.Fatal("a failed peer accepted another request")
			}
			_ = p.Close()
		})
	}
}

// TestPeerDriverErrors checks that ok:false replies come back as PeerErrors
// with their error_type, in order, without breaking the exchange.
func TestPeerDriverErrors(t *testing.T) {
	p := startNodePeer(t)
	replies, err := p.Do(Request{"cmd": "nope"}, Request{"cmd": "ping"}, Request{"cmd": "encrypt"})
	if err != nil {
		t.Fatal(err)
	}
	if ErrorType(replies[0].Err()) != "BadRequest" || replies[1].Err() != nil || ErrorType(replies[2].Err()) != "BadRequest" {
		t.Fatalf("replies: %v / %v / %v; want BadRequest, ok, BadRequest", replies[0].Err(), replies[1].Err(), replies[2].Err())
	}
	impl, err := p.Implementation()
	if err != nil || impl != "libsignal "+libsignalVersion {
		t.Fatalf("implementation %q, %v", impl, err)
	}
}
