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
// a port, brackets or a zone, by "[address]". Addresses are found wherever
// they stand, not only between spaces: net's errors pair them
// ("read tcp 10.0.0.1:443->203.0.113.7:50123: connection reset by peer"),
// and text may quote or label them ("addr=203.0.113.7").
func ScrubAddresses(s string) string {
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); {
		if !isAddrByte(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && (isAddrByte(s[j]) || s[j] == '%' && j > i) {
			if s[j] == '%' { // an IPv6 zone: letters, digits and a few marks
				j++
				for j < len(s) && isZoneByte(s[j]) {
					j++
				}
				continue
			}
			j++
		}
		// The run may end in punctuation (a colon or full stop after the
		// address). No address with port and zone is longer than
		// maxAddressLen, so longer runs are not parsed at all.
		if end := addressEnd(s[i:j]); end > 0 && (i == 0 || !isWordByte(s[i-1])) {
			b.WriteString(s[last:i])
			b.WriteString("[address]")
			last = i + end
		}
		i = j
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// addressEnd returns the length of the address run starts with, or 0: the
// whole run, or the run without the punctuation after it (one mark, or all).
func addressEnd(run string) int {
	if len(run) > maxAddressLen+2 {
		return 0
	}
	trimmed := strings.TrimRight(run, ":.")
	for _, c := range []string{run, run[:len(run)-1], trimmed} {
		if len(c) >= 2 && isAddress(c) {
			return len(c)
		}
	}
	return 0
}

// maxAddressLen bounds the text of an address: a bracketed IPv6 address
// with a zone and a port.
const maxAddressLen = 80

// isAddrByte reports whether c can be part of an address with a port:
// hex digits, dots, colons and brackets.
func isAddrByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' || c == '.' || c == ':' || c == '[' || c == ']'
}

func isZoneByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '-' || c == '.'
}

// isWordByte reports whether c continues a word, so that hex-looking
// letters inside one ("deadbeef::" in "xdeadbeef::") are not taken for the
// start of an address.
func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
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
