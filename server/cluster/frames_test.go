package cluster

import (
	"bytes"
	"crypto/aes"
	"testing"

	"github.com/skymsg/sky/server/store"
)

func testSealer(t testing.TB, key byte) sealer {
	b, err := aes.NewCipher(bytes.Repeat([]byte{key}, 16))
	if err != nil {
		t.Fatal(err)
	}
	return sealer{b}
}

func TestTokens(t *testing.T) {
	s, other := testSealer(t, 1), testSealer(t, 2)
	for _, a := range []store.Address{
		{Account: "23456789ab", Device: 1},
		{Account: "23456789ab", Device: 0},
		{Account: "x", Device: 1<<32 - 1},
		{Account: "abcdefghjkm", Device: 7}, // 11 bytes, the longest
	} {
		tok, ok := s.seal(a)
		if !ok {
			t.Fatalf("seal(%v) refused", a)
		}
		if got, ok := s.open(tok); !ok || got != a {
			t.Fatalf("open(seal(%v)) = %v, %v", a, got, ok)
		}
		if bytes.Contains(tok[:], []byte(a.Account)) {
			t.Fatalf("token of %v shows the account", a)
		}
		if got, ok := other.open(tok); ok {
			t.Fatalf("a token opened under another key: %v", got)
		}
	}
	for _, a := range []store.Address{{}, {Account: "abcdefghjkmn", Device: 1}} {
		if _, ok := s.seal(a); ok {
			t.Errorf("seal(%v) accepted", a)
		}
	}
	// Same address, same token: nodes can match them; different devices
	// differ.
	t1, _ := s.seal(store.Address{Account: "23456789ab", Device: 1})
	t2, _ := s.seal(store.Address{Account: "23456789ab", Device: 1})
	t3, _ := s.seal(store.Address{Account: "23456789ab", Device: 2})
	if t1 != t2 || t1 == t3 {
		t.Fatal("tokens are not a deterministic function of the address")
	}
}

func TestFrames(t *testing.T) {
	from := nodeID{1, 2, 3, 4, 5, 6, 7, 8}
	toks := []token{{1}, {2}, {3}}
	got, gotToks, err := decodeWake(encodeWake(from, toks))
	if err != nil || got != from || len(gotToks) != 3 || gotToks[2] != toks[2] {
		t.Fatalf("wake round trip: %v %v %v", got, gotToks, err)
	}
	if _, gotToks, err = decodeWake(encodeWake(from, nil)); err != nil || len(gotToks) != 0 {
		t.Fatalf("wake-all round trip: %v %v", gotToks, err)
	}
	if got, err := decodeAlive(encodeAlive(from)); err != nil || got != from {
		t.Fatalf("alive round trip: %v %v", got, err)
	}
	an := announcement{from: from, kind: kindAccountDeleted, tok: token{9}}
	if got, err := decodeAnnouncement(an.encode()); err != nil || got != an {
		t.Fatalf("announcement round trip: %v %v", got, err)
	}
	wake := encodeWake(from, toks)
	pres := an.encode()
	for name, b := range map[string][]byte{
		"empty":              nil,
		"short header":       wake[:5],
		"wrong version":      append([]byte{2}, wake[1:]...),
		"partial token":      wake[:len(wake)-1],
		"alive with payload": append(encodeAlive(from), 0),
		"short presence":     pres[:len(pres)-1],
		"long presence":      append(pres, 0),
		"unknown kind":       append(append(append([]byte{}, pres[:headerLen]...), 9), pres[headerLen+1:]...),
	} {
		_, _, errW := decodeWake(b)
		_, errA := decodeAlive(b)
		_, errP := decodeAnnouncement(b)
		switch name {
		case "partial token", "short header", "empty", "wrong version":
			if errW == nil {
				t.Errorf("%s: decodeWake accepted it", name)
			}
		case "alive with payload":
			if errA == nil {
				t.Errorf("%s: decodeAlive accepted it", name)
			}
		default:
			if errP == nil {
				t.Errorf("%s: decodeAnnouncement accepted it", name)
			}
		}
	}
	if _, _, err := decodeWake(encodeWake(from, make([]token, maxWakeTokens+1))); err == nil {
		t.Error("decodeWake accepted more than maxWakeTokens tokens")
	}
}

// FuzzFrames: no input makes a decoder panic, and what decodes re-encodes
// to the same bytes.
func FuzzFrames(f *testing.F) {
	from := nodeID{1, 2, 3, 4, 5, 6, 7, 8}
	f.Add(encodeWake(from, []token{{1}, {2}}))
	f.Add(encodeWake(from, nil))
	f.Add(encodeAlive(from))
	f.Add(announcement{from: from, kind: kindConnected, tok: token{3}}.encode())
	f.Add([]byte{})
	f.Add([]byte{1})
	s := testSealer(f, 1)
	f.Fuzz(func(t *testing.T, b []byte) {
		if from, toks, err := decodeWake(b); err == nil {
			if !bytes.Equal(encodeWake(from, toks), b) {
				t.Fatalf("wake %x re-encodes differently", b)
			}
			for _, tok := range toks {
				if a, ok := s.open(tok); ok {
					if again, ok := s.seal(a); !ok || again != tok {
						t.Fatalf("token %x opens to %v, which seals differently", tok, a)
					}
				}
			}
		}
		if from, err := decodeAlive(b); err == nil && !bytes.Equal(encodeAlive(from), b) {
			t.Fatalf("alive %x re-encodes differently", b)
		}
		if an, err := decodeAnnouncement(b); err == nil && !bytes.Equal(an.encode(), b) {
			t.Fatalf("announcement %x re-encodes differently", b)
		}
	})
}
