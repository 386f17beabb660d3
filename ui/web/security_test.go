package web

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/skymsg/sky/client/store"
)

var storeExists = store.Exists

func newSecServer(t *testing.T) *Server {
	s, _ := serveWeb(t, t.TempDir()+"/none", Options{})
	return s
}

// do sends a request with the given Host, headers and cookie.
func do(t *testing.T, method, u, host string, hdr map[string]string, ck *http.Cookie, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	if ck != nil {
		req.AddCookie(ck)
	}
	cl := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

// login exchanges the secret and returns the session cookie.
func login(t *testing.T, s *Server) *http.Cookie {
	t.Helper()
	resp, _ := do(t, "GET", s.URL(), "", nil, nil, "")
	for _, c := range resp.Cookies() {
		if c.Name == cookieName {
			return c
		}
	}
	t.Fatalf("the secret's exchange set no session cookie (status %d)", resp.StatusCode)
	return nil
}

// TestSecretExchange: the URL's secret gives an HttpOnly, SameSite=Strict
// session cookie for the whole origin, and a page that leads to / without
// the secret in the address bar; a wrong secret gives nothing.
func TestSecretExchange(t *testing.T) {
	t.Parallel()
	s := newSecServer(t)
	resp, body := do(t, "GET", s.URL(), "", nil, nil, "")
	if resp.StatusCode != 200 || !strings.Contains(body, `url=/"`) {
		t.Fatalf("exchange answered %d %q", resp.StatusCode, body)
	}
	var ck *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == cookieName {
			ck = c
		}
	}
	switch {
	case ck == nil:
		t.Fatal("no session cookie")
	case !ck.HttpOnly, ck.SameSite != http.SameSiteStrictMode, ck.Path != "/":
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict, Path=/", ck)
	case strings.Contains(s.URL(), ck.Value):
		t.Fatal("the cookie is the URL's secret")
	}
	wrong := s.base() + "/?secret=" + url.QueryEscape(strings.Repeat("A", 43))
	resp, _ = do(t, "GET", wrong, "", nil, nil, "")
	if resp.StatusCode != 403 || len(resp.Cookies()) != 0 {
		t.Fatalf("a wrong secret: %d with cookies %v", resp.StatusCode, resp.Cookies())
	}
	// With the cookie the page and its API answer.
	resp, body = do(t, "GET", s.base()+"/", "", nil, ck, "")
	if resp.StatusCode != 200 || !strings.Contains(body, "app.js") {
		t.Fatalf("the page with the cookie: %d", resp.StatusCode)
	}
}

// TestRefused: requests without the session (another local user, another
// browser), with a wrong Host (DNS rebinding), from a foreign Origin or
// another site, or a POST without an Origin or not JSON, are refused before
// anything is done; the listener refuses a non-loopback address.
func TestRefused(t *testing.T) {
	t.Parallel()
	s := newSecServer(t)
	ck := login(t, s)
	port := portOf(s)
	state := s.base() + "/api/state"
	unlock := s.base() + "/api/unlock"
	json := map[string]string{"Content-Type": "application/json", "Origin": s.base()}
	for _, tc := range []struct {
		name, method, url, host string
		hdr                     map[string]string
		ck                      *http.Cookie
		body                    string
		want                    int
	}{
		{"no session: page", "GET", s.base() + "/", "", nil, nil, "", 403},
		{"no session: asset", "GET", s.base() + "/app.js", "", nil, nil, "", 403},
		{"no session: API", "GET", state, "", nil, nil, "", 403},
		{"no session: unlock", "POST", unlock, "", json, nil, `{"passphrase":"x"}`, 403},
		{"wrong cookie", "GET", state, "", nil, &http.Cookie{Name: cookieName, Value: "guess"}, "", 403},
		{"rebinding Host", "GET", state, "evil.example:" + port, nil, ck, "", 403},
		{"Host without port", "GET", state, "127.0.0.1", nil, ck, "", 403},
		{"Host on another port", "GET", state, "127.0.0.1:1", nil, ck, "", 403},
		{"rebinding Host with secret", "GET", s.URL(), "attacker.test:" + port, nil, nil, "", 403},
		{"foreign Origin", "POST", unlock, "", map[string]string{"Content-Type": "application/json", "Origin": "http://evil.example"}, ck, `{"passphrase":"x"}`, 403},
		{"null Origin", "POST", unlock, "", map[string]string{"Content-Type": "application/json", "Origin": "null"}, ck, `{"passphrase":"x"}`, 403},
		{"no Origin on POST", "POST", unlock, "", map[string]string{"Content-Type": "application/json"}, ck, `{"passphrase":"x"}`, 403},
		{"cross-site fetch", "GET", state, "", map[string]string{"Sec-Fetch-Site": "cross-site"}, ck, "", 403},
		{"same-site fetch", "GET", state, "", map[string]string{"Sec-Fetch-Site": "same-site"}, ck, "", 403},
		{"form post", "POST", unlock, "", map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": s.base()}, ck, "passphrase=x", 415},
		{"GET on a POST call", "GET", unlock, "", nil, ck, "", 405},
		{"allowed: state", "GET", state, "", nil, ck, "", 200},
		{"allowed: localhost Host", "GET", state, "localhost:" + port, nil, ck, "", 200},
	} {
		resp, body := do(t, tc.method, tc.url, tc.host, tc.hdr, tc.ck, tc.body)
		if resp.StatusCode != tc.want {
			t.Errorf("%s: status %d (%q), want %d", tc.name, resp.StatusCode, body, tc.want)
		}
		if resp.StatusCode == 403 && len(resp.Cookies()) != 0 {
			t.Errorf("%s: a refused request set cookies", tc.name)
		}
	}
	for _, addr := range []string{"0.0.0.0:0", "[::]:0", "192.0.2.1:0", "example.com:0", "nonsense"} {
		if ln, err := Listen(addr); err == nil {
			ln.Close()
			t.Errorf("Listen(%q) was allowed", addr)
		}
	}
}

// TestHeaders: every answer, refused or not, carries the strict CSP, no
// framing, no-store, nosniff and no referrer.
func TestHeaders(t *testing.T) {
	t.Parallel()
	s := newSecServer(t)
	ck := login(t, s)
	for _, u := range []string{"/", "/app.js", "/app.css", "/api/state", "/api/conversations", "/nope"} {
		for _, c := range []*http.Cookie{ck, nil} {
			resp, _ := do(t, "GET", s.base()+u, "", nil, c, "")
			h := resp.Header
			csp := h.Get("Content-Security-Policy")
			for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'none'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("%s (cookie %v): CSP %q lacks %q", u, c != nil, csp, want)
				}
			}
			if strings.Contains(csp, "unsafe") || strings.Contains(csp, "http") || strings.Contains(csp, "*") {
				t.Errorf("%s: CSP %q allows inline code or another origin", u, csp)
			}
			for k, v := range map[string]string{"Cache-Control": "no-store", "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"} {
				if h.Get(k) != v {
					t.Errorf("%s: %s is %q, want %q", u, k, h.Get(k), v)
				}
			}
		}
	}
}

// TestAssetsInert: the page's own files never parse HTML from data or run
// code from strings, and fetch nothing from another origin.
func TestAssetsInert(t *testing.T) {
	t.Parallel()
	entries, err := assets.ReadDir("assets")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, _ := assets.ReadFile("assets/" + e.Name())
		src := string(b)
		for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "localStorage", "sessionStorage", "indexedDB", "https://", "http://"} {
			if strings.Contains(src, bad) && !(bad == "http://" && strings.Contains(src, "http://www.w3.org/2000/svg")) {
				t.Errorf("%s uses %q", e.Name(), bad)
			}
		}
		for _, bad := range []string{"<script>", "onload=", "onclick=", "onerror=", "style="} {
			if strings.HasSuffix(e.Name(), ".html") && strings.Contains(src, bad) {
				t.Errorf("%s has inline code or style (%q)", e.Name(), bad)
			}
		}
	}
}

// TestIdleLock: the account locks after the idle time the user set, and
// the page's activity holds that off; the page then finds it locked.
func TestIdleLock(t *testing.T) {
	t.Parallel()
	wd := newWorld(t)
	dir, _ := wd.register()
	s, host := serveWeb(t, dir, Options{IdleLock: 400 * time.Millisecond})
	ck := login(t, s)
	js := map[string]string{"Content-Type": "application/json", "Origin": s.base()}
	if resp, body := do(t, "POST", s.base()+"/api/unlock", "", js, ck, `{"passphrase":"`+pass+`"}`); resp.StatusCode != 200 || host.Client() == nil {
		t.Fatalf("unlock: %d %s", resp.StatusCode, body)
	}
	for range 5 { // active for longer than the idle time
		time.Sleep(150 * time.Millisecond)
		do(t, "POST", s.base()+"/api/activity", "", js, ck, `{}`)
	}
	if host.Client() == nil {
		t.Fatal("locked although the page was active")
	}
	deadline := time.Now().Add(5 * time.Second)
	for host.Client() != nil && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if host.Client() != nil {
		t.Fatal("still unlocked after the idle time")
	}
	resp, body := do(t, "GET", s.base()+"/api/conversations", "", nil, ck, "")
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, `"locked":true`) {
		t.Fatalf("after the idle lock the API answered %d %s", resp.StatusCode, body)
	}
}
