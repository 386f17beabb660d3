// Package web is Sky's web UI: an HTTP handler served by the user's own sky
// process on a loopback address, never by the (hostile) Sky server. The
// page, a few plain HTML, CSS and JavaScript files embedded in the binary,
// talks only to that process, which holds the keys.
//
// The local process is a server too, and the browser hostile territory, so
// every request must pass, in order: a Host header naming the loopback
// address it listens on (DNS rebinding), no foreign Origin and no
// cross-site fetch metadata, and the session cookie — which only the URL
// with the random secret that sky web prints gives, as an HttpOnly,
// SameSite=Strict cookie. Every answer carries a strict
// Content-Security-Policy (scripts and styles only from the page's own
// origin, nothing else at all, no framing) and Cache-Control: no-store.
// The page renders every peer-chosen text as text (textContent), never as
// HTML.
package web

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/skymsg/sky/client"
)

//go:embed assets
var assets embed.FS

// Host holds the account the page shows: sky web's process. Unlock must
// take exactly the path every sky unlock takes, so that the panic
// passphrase and the wipe after failed unlocks behave the same here.
type Host interface {
	// HasAccount reports whether an account exists in the home (false on a
	// fresh install and after a wipe).
	HasAccount() bool
	// Unlock opens the account; an error matching client.ErrNoAccount means
	// there is none (also right after the panic passphrase erased it).
	Unlock(passphrase []byte) (*client.Client, error)
	// Lock closes the client, dropping its keys.
	Lock()
	// Client is the unlocked client, or nil while locked.
	Client() *client.Client
}

// Options configure a Server.
type Options struct {
	Host Host
	// IdleLock locks the account after this long without a request from
	// the page; 0 never. The page can change it (SetIdleLock).
	IdleLock time.Duration
	// OnIdleLockChange, if set, is called when the page changes IdleLock
	// (so sky web can keep it for the next start).
	OnIdleLockChange func(time.Duration)
	// Version is shown in the settings' about section.
	Version string
}

// Server is the web UI's HTTP handler for one listener.
type Server struct {
	opts    Options
	secret  string // in the URL sky web prints
	session string // the cookie's value
	hosts   map[string]bool
	origin  string
	static  http.Handler

	mu       sync.Mutex
	idleLock time.Duration
	last     time.Time // the page's last request
	lockGen  chan struct{}

	cspReports atomic.Int64
	unlocking  sync.Mutex // one unlock at a time
}

// cookieName is the session cookie's name.
const cookieName = "sky_session"

// Listen listens on addr, which must be a loopback address
// (127.0.0.1:PORT, [::1]:PORT or localhost:PORT; PORT 0 picks one).
func Listen(addr string) (net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("the listen address %q is not HOST:PORT: %v", addr, err)
	}
	if host == "localhost" {
		host = "127.0.0.1"
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("sky web listens only on a loopback address (127.0.0.1 or ::1), not %q: the page holds your messages", host)
	}
	return net.Listen("tcp", net.JoinHostPort(ip.String(), port))
}

// New returns the handler for the page served on ln (from Listen).
func New(ln net.Listener, opts Options) (*Server, error) {
	tcp, ok := ln.Addr().(*net.TCPAddr)
	if !ok || !tcp.IP.IsLoopback() {
		return nil, errors.New("the web UI must listen on a loopback TCP address")
	}
	port := strconv.Itoa(tcp.Port)
	s := &Server{opts: opts, secret: randomToken(), session: randomToken(), idleLock: opts.IdleLock,
		last: time.Now(), lockGen: make(chan struct{})}
	ip := tcp.IP.String()
	if tcp.IP.To4() == nil {
		ip = "[" + ip + "]"
	}
	s.hosts = map[string]bool{ip + ":" + port: true, "localhost:" + port: true}
	s.origin = "http://" + ip + ":" + port
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		return nil, err
	}
	s.static = http.FileServerFS(sub)
	return s, nil
}

// URL is the address to open: it carries the secret, which the page
// exchanges for the session cookie.
func (s *Server) URL() string { return s.origin + "/?secret=" + s.secret }

// CSPReports is how many Content-Security-Policy violations the browser
// reported (tests fail on any).
func (s *Server) CSPReports() int64 { return s.cspReports.Load() }

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// csp allows the page's own scripts, styles, images and event stream, QR
// images and media it made itself (data:, blob:), and nothing else.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; " +
	"connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'; report-uri /csp-report"

// ServeHTTP checks the request (Host, Origin, fetch metadata, session) and
// serves the page, its assets and its API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", csp)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	if why := s.refuse(r); why != "" {
		http.Error(w, why, http.StatusForbidden)
		return
	}
	if r.URL.Path == "/csp-report" && r.Method == http.MethodPost {
		s.cspReports.Add(1)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if r.URL.Query().Has("secret") {
		s.exchange(w, r)
		return
	}
	if !s.authenticated(r) {
		http.Error(w, "Forbidden: open the address that sky web printed when it started (it carries a secret that lets this browser in).",
			http.StatusForbidden)
		return
	}
	if strings.HasPrefix(r.URL.Path, "/api/") {
		s.api(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if name := strings.TrimPrefix(r.URL.Path, "/"); name != "" {
		if _, err := fs.Stat(assets, "assets/"+name); err != nil {
			http.Error(w, "not found", http.StatusNotFound) // the file server's own 404 would drop no-store
			return
		}
	}
	s.static.ServeHTTP(w, r)
}

// refuse says why a request is refused before any session check, or "".
func (s *Server) refuse(r *http.Request) string {
	if !s.hosts[r.Host] {
		return "Forbidden: wrong Host header (sky web answers only requests for its own loopback address)"
	}
	origin := r.Header.Get("Origin")
	if origin != "" && origin != s.origin && origin != "http://"+r.Host {
		return "Forbidden: a request from another site"
	}
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		// Only the secret's exchange may come from elsewhere (sky web
		// --open's local file leads there); it knows the secret.
		if r.Method != http.MethodGet || !r.URL.Query().Has("secret") {
			return "Forbidden: a request from another site"
		}
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead && origin == "" {
		return "Forbidden: a request without an Origin"
	}
	return ""
}

// exchange trades the URL's secret for the session cookie and sends the
// browser on to the page without the secret in its address bar.
func (s *Server) exchange(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet || subtle.ConstantTimeCompare([]byte(r.URL.Query().Get("secret")), []byte(s.secret)) != 1 {
		http.Error(w, "Forbidden: this address's secret is not the one sky web printed; open the address it printed when it started.",
			http.StatusForbidden)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: s.session, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
	// Not a redirect: a navigation that began on another site (the --open
	// file) stays cross-site through redirects, and the Strict cookie would
	// not be sent. A refresh from this page is a same-site navigation.
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	io.WriteString(w, `<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=/"><title>Sky</title><p>Opening Sky…</p>`)
}

// Serve serves the page on ln until ctx ends, and locks the account when
// the page has been idle for the idle time.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go s.watchIdle(ctx)
	go func() {
		<-ctx.Done()
		hs.Close()
	}()
	err := hs.Serve(ln)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func (s *Server) authenticated(r *http.Request) bool {
	ck, err := r.Cookie(cookieName)
	return err == nil && subtle.ConstantTimeCompare([]byte(ck.Value), []byte(s.session)) == 1
}
