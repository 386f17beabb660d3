package main

import (
	"bytes"
	"encoding/base64"
	"testing"
)

// pairOfPeers returns peers A and B, A holding a session with B.
func pairOfPeers(t *testing.T) (a, b *peer) {
	t.Helper()
	a, b = &peer{}, &peer{}
	mustOK(t, a, map[string]any{"cmd": "init", "name": nameA}, nil)
	var idB struct{ Bundle map[string]any }
	mustOK(t, b, map[string]any{"cmd": "init", "name": nameB, "device_id": 3}, &idB)
	mustOK(t, a, map[string]any{"cmd": "process_bundle", "peer": nameB, "device_id": 3, "bundle": idB.Bundle}, nil)
	return a, b
}

type unsealed struct {
	SenderUUID     string  `json:"sender_uuid"`
	SenderDeviceID int     `json:"sender_device_id"`
	MessageType    int     `json:"message_type"`
	ContentHint    int     `json:"content_hint"`
	GroupID        *string `json:"group_id"`
	Plaintext      string  `json:"plaintext"`
}

// TestSealedCommands runs sealed_config, sealed_encrypt and sealed_decrypt
// between two in-process peers, with the error types the peer protocol
// names for a foreign trust root, an expired certificate and bad envelopes.
func TestSealedCommands(t *testing.T) {
	a, b := pairOfPeers(t)
	if r := call(t, b, map[string]any{"cmd": "sealed_decrypt", "ciphertext": "AA=="}); r.ErrorType != "BadRequest" {
		t.Fatalf("sealed_decrypt before sealed_config: %+v", r)
	}
	var ca, cb struct {
		TrustRootPublic string `json:"trust_root_public"`
	}
	mustOK(t, a, map[string]any{"cmd": "sealed_config"}, &ca)
	mustOK(t, b, map[string]any{"cmd": "sealed_config"}, &cb)
	// The default trust root is the key pair of 32 zero bytes.
	if ca.TrustRootPublic != cb.TrustRootPublic || ca.TrustRootPublic != "BS/lfaNHzWJDFSjarF+7KQcw//aEr8TPwu2QmV9Yyzt0" {
		t.Fatalf("default trust roots %s, %s", ca.TrustRootPublic, cb.TrustRootPublic)
	}
	seal := func(from *peer, to string, dev int, pt string, extra map[string]any) string {
		t.Helper()
		req := map[string]any{"cmd": "sealed_encrypt", "peer": to, "device_id": dev, "plaintext": base64.StdEncoding.EncodeToString([]byte(pt))}
		for k, v := range extra {
			req[k] = v
		}
		var out struct{ Ciphertext string }
		mustOK(t, from, req, &out)
		return out.Ciphertext
	}
	ct := seal(a, nameB, 3, "hello", nil)
	var u unsealed
	mustOK(t, b, map[string]any{"cmd": "sealed_decrypt", "ciphertext": ct}, &u)
	if u.SenderUUID != nameA || u.SenderDeviceID != 1 || u.MessageType != 3 || u.ContentHint != 0 || u.GroupID != nil || u.Plaintext != "aGVsbG8=" {
		t.Fatalf("unsealed %+v", u)
	}
	group := base64.StdEncoding.EncodeToString([]byte("group id"))
	ct = seal(b, nameA, 1, "reply", map[string]any{"content_hint": 2, "group_id": group})
	mustOK(t, a, map[string]any{"cmd": "sealed_decrypt", "ciphertext": ct}, &u)
	if u.SenderUUID != nameB || u.SenderDeviceID != 3 || u.MessageType != 2 || u.ContentHint != 2 || u.GroupID == nil || *u.GroupID != group {
		t.Fatalf("unsealed %+v", u)
	}

	// A certificate under another root, then one past its expiry.
	mustOK(t, a, map[string]any{"cmd": "sealed_config", "trust_root_private": base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))}, nil)
	ct = seal(a, nameB, 3, "foreign", nil)
	if r := call(t, b, map[string]any{"cmd": "sealed_decrypt", "ciphertext": ct}); r.ErrorType != "InvalidSenderCertificate" {
		t.Fatalf("foreign trust root: %+v", r)
	}
	mustOK(t, a, map[string]any{"cmd": "sealed_config", "expires_ms": 1000}, nil)
	ct = seal(a, nameB, 3, "expiring", nil)
	if r := call(t, b, map[string]any{"cmd": "sealed_decrypt", "ciphertext": ct, "timestamp_ms": 1001}); r.ErrorType != "InvalidSenderCertificate" {
		t.Fatalf("expired certificate: %+v", r)
	}
	mustOK(t, b, map[string]any{"cmd": "sealed_decrypt", "ciphertext": ct, "timestamp_ms": 1000}, &u)
	for _, bad := range []string{"", "EQ==", ct[:len(ct)/2]} {
		if r := call(t, b, map[string]any{"cmd": "sealed_decrypt", "ciphertext": bad}); r.ErrorType != "InvalidMessage" && r.ErrorType != "BadRequest" {
			t.Errorf("envelope %q: %+v", bad, r)
		}
	}
	if r := call(t, a, map[string]any{"cmd": "sealed_config", "trust_root_private": "AAAA"}); r.OK {
		t.Errorf("a 3-byte trust root accepted")
	}
}

// TestGroupCommands runs group_create, group_process, group_encrypt and
// group_decrypt between two in-process peers.
func TestGroupCommands(t *testing.T) {
	a, b := pairOfPeers(t)
	const dist = "d1571b07-1d00-4000-8000-00000000c0de"
	var created struct{ SKDM string }
	mustOK(t, a, map[string]any{"cmd": "group_create", "distribution_id": dist}, &created)
	var g struct {
		DistributionID string `json:"distribution_id"`
		ChainID        uint32 `json:"chain_id"`
		Iteration      uint32 `json:"iteration"`
	}
	mustOK(t, b, map[string]any{"cmd": "group_process", "peer": nameA, "skdm": created.SKDM}, &g)
	if g.DistributionID != dist || g.Iteration != 0 {
		t.Fatalf("group_process: %+v", g)
	}
	var m struct {
		Type       int
		Ciphertext string
	}
	mustOK(t, a, map[string]any{"cmd": "group_encrypt", "distribution_id": dist, "plaintext": "aGk="}, &m)
	if m.Type != 7 {
		t.Fatalf("type %d", m.Type)
	}
	var out struct{ Plaintext string }
	mustOK(t, b, map[string]any{"cmd": "group_decrypt", "peer": nameA, "ciphertext": m.Ciphertext}, &out)
	if out.Plaintext != "aGk=" {
		t.Fatalf("plaintext %q", out.Plaintext)
	}
	for _, tc := range []struct {
		req  map[string]any
		want string
	}{
		{map[string]any{"cmd": "group_decrypt", "peer": nameA, "ciphertext": m.Ciphertext}, "DuplicatedMessage"},
		{map[string]any{"cmd": "group_decrypt", "peer": nameB, "ciphertext": m.Ciphertext}, "NoSession"},
		{map[string]any{"cmd": "group_decrypt", "peer": nameA, "ciphertext": "MzM="}, "InvalidMessage"},
		{map[string]any{"cmd": "group_process", "peer": nameA, "skdm": "MzM="}, "InvalidMessage"},
		{map[string]any{"cmd": "group_create", "distribution_id": "not a uuid"}, "BadRequest"},
		{map[string]any{"cmd": "group_encrypt", "distribution_id": "5eed5eed-0000-4000-8000-0000000000aa", "plaintext": "aGk="}, "NoSession"},
	} {
		if r := call(t, b, tc.req); r.ErrorType != tc.want {
			t.Errorf("%v: %+v, want %s", tc.req, r, tc.want)
		}
	}
}
