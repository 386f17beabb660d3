package conn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
)

// DialError says why the server could not be reached, in words a user can
// act on: refused, timed out, no such host, TLS, not a Sky server.
type DialError struct {
	URL    string // the WebSocket URL dialled
	Reason string // why, and what to check
	Err    error  // the underlying error
}

func (e *DialError) Error() string {
	return fmt.Sprintf("cannot reach the Sky server at %s: %s", e.URL, e.Reason)
}

func (e *DialError) Unwrap() error { return e.Err }

// dialError turns a failed WebSocket dial into a DialError.
func dialError(ctx context.Context, u string, resp *http.Response, err error) error {
	return &DialError{URL: u, Reason: dialReason(ctx, resp, err), Err: err}
}

func dialReason(ctx context.Context, resp *http.Response, err error) string {
	var dns *net.DNSError
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var record tls.RecordHeaderError
	var verify *tls.CertificateVerificationError
	var netErr net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused (nothing listens there: is skyd running, and are the host and port right?)"
	case errors.As(err, &dns):
		if dns.IsNotFound {
			return fmt.Sprintf("no such host %q (check the server address)", dns.Name)
		}
		return fmt.Sprintf("looking up %q failed (check your network and DNS)", dns.Name)
	case errors.As(err, &unknownCA):
		return "TLS: the server's certificate is not signed by an authority this system trusts (a self-signed certificate, or someone in between)"
	case errors.As(err, &hostname):
		return "TLS: the server's certificate is for another name (" + hostname.Error() + ")"
	case errors.As(err, &invalid):
		return "TLS: the server's certificate is not valid (" + invalid.Error() + ")"
	case errors.As(err, &verify):
		return "TLS: the server's certificate does not verify (" + verify.Err.Error() + ")"
	case errors.As(err, &record), strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"): // net/http does not wrap it
		return "TLS: the server does not speak TLS there (try ws:// instead of wss://, or the right port)"
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		return "network or host unreachable (check your network)"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the connection was closed during the handshake (a wss:// server reached with ws://, a proxy, or not skyd)"
	case resp != nil && resp.StatusCode != http.StatusSwitchingProtocols:
		return fmt.Sprintf("the server answered HTTP %d, not a WebSocket upgrade (is this skyd's address?)", resp.StatusCode)
	case errors.Is(err, context.DeadlineExceeded), ctx.Err() != nil, errors.As(err, &netErr) && netErr.Timeout():
		return "timed out (no answer; check the address, that skyd runs there, and your network or firewall)"
	}
	return err.Error()
}
