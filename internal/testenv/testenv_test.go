package testenv

import (
	"net"
	"strconv"
	"testing"
)

func TestRequired(t *testing.T) {
	tests := []struct {
		env  map[string]string
		name string
		want bool
	}{
		{map[string]string{}, "postgres", false},
		{map[string]string{"SKY_REQUIRE_POSTGRES": "1"}, "postgres", true},
		{map[string]string{"SKY_REQUIRE_POSTGRES": "0"}, "postgres", false},
		{map[string]string{"SKY_REQUIRE_NATS": "1"}, "postgres", false},
		{map[string]string{"SKY_REQUIRE_ALL": "1"}, "interop", true},
	}
	for _, tc := range tests {
		t.Setenv("SKY_REQUIRE_POSTGRES", "")
		t.Setenv("SKY_REQUIRE_NATS", "")
		t.Setenv("SKY_REQUIRE_ALL", "")
		for k, v := range tc.env {
			t.Setenv(k, v)
		}
		if got := Required(tc.name); got != tc.want {
			t.Errorf("Required(%q) with %v = %v, want %v", tc.name, tc.env, got, tc.want)
		}
	}
}

// TestFreeAddr: the address is loopback, its port can be listened on, and
// on Linux it lies below the ephemeral range.
func TestFreeAddr(t *testing.T) {
	addr := FreeAddr(t)
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host != "127.0.0.1" {
		t.Fatalf("FreeAddr = %q", addr)
	}
	if lo := ephemeralLow(); lo > 12000 {
		if p, _ := strconv.Atoi(port); p >= lo || p < 10000 {
			t.Fatalf("port %d is not below the ephemeral range (%d and up)", p, lo)
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("the free address cannot be listened on: %v", err)
	}
	ln.Close()
}
