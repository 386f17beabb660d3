package testenv

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"testing"
)

// FreeAddr returns a loopback address whose TCP port is free now, for a
// server a test starts later or starts again on the same address after
// killing it. The port is picked below the kernel's ephemeral range (32768
// and up on Linux): a port from net.Listen("127.0.0.1:0") comes from that
// range, so an outgoing connection any test opens in the meantime may be
// given it as its own port, and the server then fails with "address already
// in use" (TestMultiNodeKill did, once in a CI run).
func FreeAddr(t testing.TB) string {
	t.Helper()
	addr, err := FreeLoopbackAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// FreeLoopbackAddr is FreeAddr for code without a testing.TB (a test
// harness's server).
func FreeLoopbackAddr() (string, error) {
	if lo := ephemeralLow(); lo > 12000 {
		for range 500 {
			port := 10000 + rand.IntN(lo-10000)
			ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
			if err != nil {
				continue // in use: another
			}
			addr := ln.Addr().String()
			ln.Close()
			return addr, nil
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0") // no range to stay below
	if err != nil {
		return "", fmt.Errorf("no free loopback port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// ephemeralLow returns the first port of Linux's ephemeral range, or 0 if
// the system does not say.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0
	}
	var lo, hi int
	if _, err := fmt.Sscan(strings.TrimSpace(string(b)), &lo, &hi); err != nil {
		return 0
	}
	return lo
}
