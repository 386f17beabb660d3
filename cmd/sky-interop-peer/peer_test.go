package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// call sends one request to p and decodes the reply.
func call(t *testing.T, p *peer, req map[string]any) reply {
	t.Helper()
	line, _ := json.Marshal(req)
	r, _ := p.handle(line)
	b, _ := json.Marshal(r.Result)
	r.Result = json.RawMessage(b)
	return r
}

func mustOK(t *testing.T, p *peer, req map[string]any, out any) {
	t.Helper()
	r := call(t, p, req)
	if !r.OK {
		t.Fatalf("%v: %s (%s)", req["cmd"], r.Error, r.ErrorType)
	}
	if out != nil {
		if err := json.Unmarshal(r.Result.(json.RawMessage), out); err != nil {
			t.Fatal(err)
		}
	}
}

const (
	nameA = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
	nameB = "11111111-2222-4333-8444-555555555555"
)

// TestConversation runs two in-process peers through the commands of
// PEER-PROTOCOL.md: init, process_bundle, encrypt/decrypt both ways,
// fingerprint (equal on both sides), bundle, and the error types.
func TestConversation(t *testing.T) {
	a, b := &peer{}, &peer{}
	var initB struct {
		Bundle         map[string]any `json:"bundle"`
		RegistrationID int            `json:"registration_id"`
		IdentityKey    string         `json:"identity_key"`
	}
	mustOK(t, a, map[string]any{"id": 1, "cmd": "init", "name": nameA}, nil)
	mustOK(t, b, map[string]any{"id": 1, "cmd": "init", "name": nameB, "registration_id": 77, "device_id": 3}, &initB)
	if initB.RegistrationID != 77 || initB.Bundle["device_id"] != float64(3) || initB.Bundle["pre_key_id"] == nil {
		t.Fatalf("init result %+v", initB)
	}
	mustOK(t, a, map[string]any{"cmd": "process_bundle", "peer": nameB, "device_id": 3, "bundle": initB.Bundle}, nil)
	var ct struct {
		Type       int    `json:"type"`
		Ciphertext string `json:"ciphertext"`
	}
	msg := base64.StdEncoding.EncodeToString([]byte("hello"))
	mustOK(t, a, map[string]any{"cmd": "encrypt", "peer": nameB, "device_id": 3, "plaintext": msg}, &ct)
	if ct.Type != 3 {
		t.Fatalf("first message type %d", ct.Type)
	}
	var pt struct{ Plaintext string }
	mustOK(t, b, map[string]any{"cmd": "decrypt", "peer": nameA, "type": "prekey", "ciphertext": ct.Ciphertext}, &pt)
	if pt.Plaintext != msg {
		t.Fatalf("plaintext %q", pt.Plaintext)
	}
	if r := call(t, b, map[string]any{"cmd": "decrypt", "peer": nameA, "type": 3, "ciphertext": ct.Ciphertext}); r.ErrorType != "DuplicatedMessage" {
		t.Fatalf("duplicate: %+v", r)
	}
	mustOK(t, b, map[string]any{"cmd": "encrypt", "peer": nameA, "plaintext": msg}, &ct)
	if ct.Type != 2 {
		t.Fatalf("reply type %d", ct.Type)
	}
	bad, _ := base64.StdEncoding.DecodeString(ct.Ciphertext)
	bad[len(bad)-1] ^= 1
	if r := call(t, a, map[string]any{"cmd": "decrypt", "peer": nameB, "device_id": 3, "type": 2, "ciphertext": base64.StdEncoding.EncodeToString(bad)}); r.ErrorType != "InvalidMessage" {
		t.Fatalf("tampered: %+v", r)
	}
	mustOK(t, a, map[string]any{"cmd": "decrypt", "peer": nameB, "device_id": 3, "type": "whisper", "ciphertext": ct.Ciphertext}, &pt)

	var fa, fb struct{ Displayable, Scannable string }
	mustOK(t, a, map[string]any{"cmd": "fingerprint", "peer": nameB, "device_id": 3}, &fa)
	mustOK(t, b, map[string]any{"cmd": "fingerprint", "peer": nameA}, &fb)
	if len(fa.Displayable) != 60 || fa.Displayable != fb.Displayable || fa.Scannable == fb.Scannable {
		t.Fatalf("fingerprints %+v %+v", fa, fb)
	}
	var nb struct{ Bundle map[string]any }
	mustOK(t, b, map[string]any{"cmd": "bundle", "one_time_pre_key": false, "new_signed": true, "new_kyber": true}, &nb)
	if nb.Bundle["pre_key_id"] != nil || nb.Bundle["signed_pre_key_id"] != float64(2) || nb.Bundle["kyber_pre_key_id"] != float64(2) {
		t.Fatalf("bundle %v", nb.Bundle)
	}
	tampered := map[string]any{}
	for k, v := range nb.Bundle {
		tampered[k] = v
	}
	sig, _ := base64.StdEncoding.DecodeString(nb.Bundle["signed_pre_key_signature"].(string))
	sig[3] ^= 1
	tampered["signed_pre_key_signature"] = base64.StdEncoding.EncodeToString(sig)
	if r := call(t, a, map[string]any{"cmd": "process_bundle", "peer": nameB, "device_id": 3, "bundle": tampered}); r.ErrorType != "InvalidSignature" {
		t.Fatalf("tampered bundle: %+v", r)
	}
	if r := call(t, a, map[string]any{"cmd": "encrypt", "peer": nameB, "plaintext": msg}); r.ErrorType != "NoSession" {
		t.Fatalf("encrypt to device 1 without a session: %+v", r)
	}
}

func TestRequestErrors(t *testing.T) {
	p := &peer{}
	cases := []struct {
		req  string
		want string
	}{
		{`{"id":1,"cmd":"encrypt","peer":"x","plaintext":"aGk="}`, "BadRequest"}, // before init
		{`{"id":2,"cmd":"nope"}`, "BadRequest"},
		{`[1,2]`, "BadRequest"},
		{`null`, "BadRequest"},
		{`{"id":3}`, "BadRequest"},
		{`{"id":4,"cmd":"init"}`, "BadRequest"},
		{`{"id":5,"cmd":"init","name":"x","device_id":128}`, "BadRequest"},
		{`{"id":6,"cmd":"init","name":"x","registration_id":16384}`, "BadRequest"},
		{`{"id":7,"cmd":"sealed_encrypt"}`, "BadRequest"},                         // before init
		{`{"id":8,"cmd":"group_create","distribution_id":"x"}`, "BadRequest"},     // before init
		{`{"id":9,"cmd":"group_process","peer":"x","skdm":"AA=="}`, "BadRequest"}, // before init
		{`{"id":10,"cmd":"decrypt","peer":"x","type":2,"ciphertext":"AA=="}`, "BadRequest"},
	}
	for _, tc := range cases {
		r, quit := p.handle([]byte(tc.req))
		if quit || r.OK || r.ErrorType != tc.want {
			t.Errorf("%s: %+v, want %s", tc.req, r, tc.want)
		}
	}
	mustOK(t, p, map[string]any{"cmd": "init", "name": nameA}, nil)
	for _, tc := range []string{
		`{"cmd":"decrypt","peer":"x","type":4,"ciphertext":"AA=="}`,
		`{"cmd":"decrypt","peer":"x","type":2,"ciphertext":"AA"}`,
		`{"cmd":"decrypt","peer":"x","type":2,"ciphertext":"A\nA=="}`,
		`{"cmd":"encrypt","peer":"x","device_id":0,"plaintext":"AA=="}`,
		`{"cmd":"fingerprint","peer":"not-a-uuid"}`,
		`{"cmd":"bundle","one_time_pre_key":"yes"}`,
	} {
		if r, _ := p.handle([]byte(tc)); r.ErrorType != "BadRequest" && !(strings.Contains(tc, "fingerprint") && r.ErrorType == "NoSession") {
			t.Errorf("%s: %+v", tc, r)
		}
	}
	if r, _ := p.handle([]byte(`{"cmd":"decrypt","peer":"x","type":2,"ciphertext":""}`)); r.ErrorType != "InvalidMessage" {
		t.Errorf("empty message: %+v", r)
	}
}

// TestRun checks the framing: one reply per request line in order, ids
// echoed, blank lines ignored, quit answered and ending the loop.
func TestRun(t *testing.T) {
	in := strings.NewReader("{\"id\":\"a\",\"cmd\":\"ping\"}\n\n   \n{\"id\":7,\"cmd\":\"ping\"}\n{\"id\":[1],\"cmd\":\"quit\"}\n{\"id\":9,\"cmd\":\"ping\"}\n")
	var out bytes.Buffer
	if err := run(in, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	want := []string{
		`{"id":"a","ok":true,"result":{"implementation":"sky","pong":true}}`,
		`{"id":7,"ok":true,"result":{"implementation":"sky","pong":true}}`,
		`{"id":[1],"ok":true,"result":{"bye":true}}`,
	}
	if fmt.Sprint(lines) != fmt.Sprint(want) {
		t.Fatalf("replies:\n%s", out.String())
	}
	out.Reset()
	if err := run(strings.NewReader(`{"id":1,"cmd":"ping"}`), &out); err != nil || !strings.HasSuffix(out.String(), "}\n") {
		t.Fatalf("EOF without newline: %q %v", out.String(), err)
	}
}
