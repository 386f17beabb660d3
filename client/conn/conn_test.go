package conn

import (
	"errors"
	"testing"
)

func TestNormalizeURL(t *testing.T) {
	for in, want := range map[string]string{
		"ws://127.0.0.1:7443":                "ws://127.0.0.1:7443/v1/websocket",
		"ws://127.0.0.1:7443/":               "ws://127.0.0.1:7443/v1/websocket",
		" http://127.0.0.1:7443 ":            "ws://127.0.0.1:7443/v1/websocket",
		"https://sky.example.org":            "wss://sky.example.org/v1/websocket",
		"wss://sky.example.org/v1/websocket": "wss://sky.example.org/v1/websocket",
		"wss://user:pw@sky.example.org/?x#y": "wss://sky.example.org/v1/websocket",
	} {
		got, err := NormalizeURL(in)
		if err != nil || got != want {
			t.Errorf("NormalizeURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "127.0.0.1:7443", "ftp://x", "ws://", "::"} {
		if _, err := NormalizeURL(bad); !errors.Is(err, ErrBadURL) {
			t.Errorf("NormalizeURL(%q): %v", bad, err)
		}
	}
}
