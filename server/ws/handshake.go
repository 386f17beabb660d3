package ws

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// acceptGUID is the fixed string RFC 6455 appends to the client's key.
const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// acceptKey is Sec-WebSocket-Accept for a Sec-WebSocket-Key.
func acceptKey(key string) string {
	h := sha1.Sum([]byte(key + acceptGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

// headerHasToken reports whether a comma-separated header holds token
// (case-insensitively), as Connection and Upgrade headers do.
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// handshakeWriteTimeout bounds writing the 101 response.
const handshakeWriteTimeout = 10 * time.Second

// Upgrade answers a WebSocket upgrade request and takes the connection over
// from the HTTP server. It returns the raw connection (deadlines cleared)
// and any bytes the client sent after its request, which belong to the
// first frames. On a bad request it answers with an HTTP error and returns
// a non-nil error.
//
// A request with an Origin header naming another host than the request's
// Host is refused, so a web page cannot make a browser open a connection on
// its visitor's behalf.
func Upgrade(w http.ResponseWriter, r *http.Request) (net.Conn, []byte, error) {
	fail := func(status int, msg string) (net.Conn, []byte, error) {
		http.Error(w, msg, status)
		return nil, nil, errors.New("websocket upgrade refused: " + msg)
	}
	switch {
	case r.Method != http.MethodGet:
		return fail(http.StatusMethodNotAllowed, "a WebSocket handshake must be a GET request")
	case !headerHasToken(r.Header, "Connection", "upgrade") || !headerHasToken(r.Header, "Upgrade", "websocket"):
		w.Header().Set("Connection", "Upgrade")
		w.Header().Set("Upgrade", "websocket")
		return fail(http.StatusUpgradeRequired, "this endpoint speaks WebSocket only; connect with a WebSocket client")
	case r.Header.Get("Sec-WebSocket-Version") != "13":
		w.Header().Set("Sec-WebSocket-Version", "13")
		return fail(http.StatusBadRequest, "unsupported WebSocket version; use version 13")
	}
	key := r.Header.Get("Sec-WebSocket-Key")
	if k, err := base64.StdEncoding.DecodeString(key); err != nil || len(k) != 16 {
		return fail(http.StatusBadRequest, "Sec-WebSocket-Key must be 16 bytes in base64")
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		u, err := url.Parse(origin)
		if err != nil || !strings.EqualFold(u.Host, r.Host) {
			return fail(http.StatusForbidden, "cross-origin WebSocket connections are refused")
		}
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		return fail(http.StatusInternalServerError, "this HTTP server cannot hand over connections")
	}
	nc, brw, err := hj.Hijack()
	if err != nil {
		return nil, nil, fmt.Errorf("websocket upgrade: %w", err)
	}
	var rest []byte
	if n := brw.Reader.Buffered(); n > 0 {
		b, _ := brw.Reader.Peek(n)
		rest = append([]byte(nil), b...)
	}
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
		acceptKey(key) + "\r\n\r\n"
	nc.SetDeadline(time.Now().Add(handshakeWriteTimeout))
	if _, err := io.WriteString(nc, resp); err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("websocket upgrade: writing the response: %w", err)
	}
	nc.SetDeadline(time.Time{})
	return nc, rest, nil
}

// DialOptions configures Dial.
type DialOptions struct {
	// TLS is used for wss:// URLs (nil: the default configuration).
	TLS *tls.Config
	// LocalAddr, if set, is the local address to connect from (load
	// generators spread connections over several loopback addresses).
	LocalAddr net.Addr
}

// Dial opens a client WebSocket connection to a ws:// or wss:// URL and
// returns it with any bytes the server sent after its handshake response.
// The caller frames messages with AppendFrame (masked, as clients must)
// and reads them with a Reader.
func Dial(ctx context.Context, rawURL string, opts DialOptions) (net.Conn, []byte, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, nil, fmt.Errorf("websocket dial: %w", err)
	}
	host := u.Host
	switch u.Scheme {
	case "ws":
		if u.Port() == "" {
			host = net.JoinHostPort(u.Hostname(), "80")
		}
	case "wss":
		if u.Port() == "" {
			host = net.JoinHostPort(u.Hostname(), "443")
		}
	default:
		return nil, nil, fmt.Errorf("websocket dial: URL scheme %q: use ws:// or wss://", u.Scheme)
	}
	d := net.Dialer{LocalAddr: opts.LocalAddr}
	nc, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, nil, fmt.Errorf("websocket dial: %w", err)
	}
	if u.Scheme == "wss" {
		cfg := opts.TLS.Clone()
		if cfg == nil {
			cfg = &tls.Config{}
		}
		if cfg.ServerName == "" {
			cfg.ServerName = u.Hostname()
		}
		tc := tls.Client(nc, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, nil, fmt.Errorf("websocket dial: TLS: %w", err)
		}
		nc = tc
	}
	rest, err := clientHandshake(ctx, nc, u)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, rest, nil
}

func clientHandshake(ctx context.Context, nc net.Conn, u *url.URL) ([]byte, error) {
	if dl, ok := ctx.Deadline(); ok {
		nc.SetDeadline(dl)
		defer nc.SetDeadline(time.Time{})
	}
	var k [16]byte
	rand.Read(k[:])
	key := base64.StdEncoding.EncodeToString(k[:])
	path := u.RequestURI()
	req := "GET " + path + " HTTP/1.1\r\nHost: " + u.Host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := io.WriteString(nc, req); err != nil {
		return nil, fmt.Errorf("websocket dial: %w", err)
	}
	br := bufio.NewReaderSize(nc, 1024)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return nil, fmt.Errorf("websocket dial: reading the handshake response: %w", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		return nil, fmt.Errorf("websocket dial: server answered %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	if resp.Header.Get("Sec-WebSocket-Accept") != acceptKey(key) {
		return nil, errors.New("websocket dial: the server's Sec-WebSocket-Accept does not match our key")
	}
	var rest []byte
	if n := br.Buffered(); n > 0 {
		b, _ := br.Peek(n)
		rest = append([]byte(nil), b...)
	}
	return rest, nil
}
