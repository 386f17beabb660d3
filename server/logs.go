package server

import (
	"context"
	"log"
	"log/slog"
	"net"
	"strings"
)

// httpErrorLog is the logger net/http reports connection errors to. Its
// messages name the client's address ("TLS handshake error from
// 203.0.113.7:50123: EOF"), and skyd keeps no addresses, not even in logs:
// every IP address (with or without port) is replaced by "[address]" before
// the message reaches the server's logger, at debug level.
func httpErrorLog(l *slog.Logger) *log.Logger {
	return log.New(scrubWriter{l}, "", 0)
}

type scrubWriter struct{ l *slog.Logger }

func (w scrubWriter) Write(p []byte) (int, error) {
	w.l.Log(context.Background(), slog.LevelDebug, ScrubAddresses(strings.TrimSpace(string(p))))
	return len(p), nil
}

// ScrubAddresses replaces every IPv4 or IPv6 address in s, with or without
// a port or brackets, by "[address]".
func ScrubAddresses(s string) string {
	fields := strings.Fields(s)
	changed := false
	for i, f := range fields {
		core := strings.TrimRight(f, ":,;.)")
		core = strings.TrimLeft(core, "(")
		if isAddress(core) {
			fields[i] = strings.Replace(f, core, "[address]", 1)
			changed = true
		}
	}
	if !changed {
		return s
	}
	return strings.Join(fields, " ")
}

func isAddress(s string) bool {
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	if i := strings.IndexByte(s, '%'); i >= 0 { // an IPv6 zone
		s = s[:i]
	}
	return net.ParseIP(s) != nil
}
