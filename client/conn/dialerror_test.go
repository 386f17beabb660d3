package conn

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/skymsg/sky/internal/testenv"
)

// TestDialErrorsSayWhy: each way of not reaching the server is named
// (issue 10 item 11, issue 11 item 13), never a bare context error.
func TestDialErrorsSayWhy(t *testing.T) {
	closedPort := func() string { return "ws://" + testenv.FreeAddr(t) }
	silent := func() string { // accepts TCP, never answers
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				t.Cleanup(func() { c.Close() })
			}
		}()
		return "ws://" + ln.Addr().String()
	}
	notFound := httptest.NewServer(http.NotFoundHandler())
	defer notFound.Close()
	tlsSrv := httptest.NewTLSServer(http.NotFoundHandler())
	defer tlsSrv.Close()
	for _, tc := range []struct {
		name, url string
		want      string // regexp of the reason
	}{
		{"refused", closedPort(), `^connection refused \(nothing listens there`},
		{"timeout", silent(), `^timed out`},
		{"no such host", "ws://no-such-host.invalid:7443", `^(no such host "no-such-host.invalid"|looking up "no-such-host.invalid" failed)`},
		{"not a websocket", "ws" + strings.TrimPrefix(notFound.URL, "http"), `^the server answered HTTP 404, not a WebSocket`},
		{"untrusted certificate", "wss" + strings.TrimPrefix(tlsSrv.URL, "https"), `^TLS: the server's certificate (is not signed by an authority|does not verify)`},
		{"no TLS there", "wss" + strings.TrimPrefix(notFound.URL, "http"), `^TLS: the server does not speak TLS there`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			_, err := Dial(ctx, tc.url)
			var de *DialError
			if !errors.As(err, &de) {
				t.Fatalf("Dial: %v, not a *DialError", err)
			}
			if !regexp.MustCompile(tc.want).MatchString(de.Reason) {
				t.Fatalf("reason %q, want %s", de.Reason, tc.want)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "cannot reach the Sky server at ws") || strings.Contains(msg, "%!") {
				t.Fatalf("message %q", msg)
			}
		})
	}
}
