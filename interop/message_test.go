package interop

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func readHex(t testing.TB, name string) []byte {
	t.Helper()
	s, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return unhex(t, strings.TrimSpace(string(s)))
}

// TestParseRealMessages parses messages libsignal 0.103.0 produced (captured
// from the Node peer into testdata/) and checks them against the layout of
// shared/docs/libsignal-interop.md §5 and §7.
func TestParseRealMessages(t *testing.T) {
	raw := readHex(t, "prekey_message.hex")
	pk, err := ParsePreKeySignalMessage(raw)
	if err != nil {
		t.Fatal(err)
	}
	if pk.Version != 0x44 || pk.PreKeyID == nil || len(pk.KyberCiphertext) != 1569 || len(pk.Signal.Addresses) != 36 ||
		!slices.Equal(pk.FieldOrder, []int{1, 2, 3, 4, 5, 6, 7, 8}) || !slices.Equal(pk.Signal.FieldOrder, []int{1, 2, 3, 4, 5, 6}) {
		t.Fatalf("PreKey message parsed as %+v", pk)
	}
	if len(raw) != firstMessageReference || PreKeyMessageSize(pk) != len(raw) || SignalMessageSize(pk.Signal) != len(pk.Message) {
		t.Fatalf("sizes: message %d (reference %d), computed %d; inner %d, computed %d", len(raw), firstMessageReference, PreKeyMessageSize(pk), len(pk.Message), SignalMessageSize(pk.Signal))
	}

	raw = readHex(t, "signal_message.hex")
	sm, err := ParseSignalMessage(raw)
	if err != nil {
		t.Fatal(err)
	}
	if sm.Version != 0x44 || sm.Addresses != nil || sm.Counter != 0 || len(sm.Ciphertext) != 16 || SignalMessageSize(sm) != len(raw) || !bytes.Equal(sm.MAC, raw[len(raw)-8:]) {
		t.Fatalf("Whisper message parsed as %+v", sm)
	}

	d, err := ParseSenderKeyDistribution(readHex(t, "sender_key_distribution.hex"))
	if err != nil || d.Version != SenderKeyVersion || !bytes.Equal(d.DistributionID, unhex(t, "c0ffee0012344abc8def0123456789ab")) || d.Iteration != 0 {
		t.Fatalf("distribution message parsed as %+v, %v", d, err)
	}
	m, err := ParseSenderKeyMessage(readHex(t, "sender_key_message.hex"))
	if err != nil || m.ChainID != d.ChainID || m.Iteration != 1 || !bytes.Equal(m.DistributionID, d.DistributionID) || len(m.Ciphertext) != 16 {
		t.Fatalf("sender key message parsed as %+v, %v", m, err)
	}

	s, err := ParseScannable(readHex(t, "scannable_fingerprint.hex"))
	if err != nil || s.Version != 2 || len(s.Local) != 32 || len(s.Remote) != 32 || !s.Matches(Scannable{2, s.Remote, s.Local}) || s.Matches(Scannable{1, s.Remote, s.Local}) {
		t.Fatalf("scannable fingerprint parsed as %+v, %v", s, err)
	}
}

func TestParseMessageErrors(t *testing.T) {
	whisper := readHex(t, "signal_message.hex")
	prekey := readHex(t, "prekey_message.hex")
	tests := []struct {
		name    string
		parse   func([]byte) error
		in      []byte
		wantErr string
	}{
		{"whisper: empty", signalErr, nil, "shorter than"},
		{"whisper: MAC only", signalErr, whisper[len(whisper)-9:], "required field"},
		{"whisper: cut inside a field", signalErr, append(whisper[:20:20], whisper[len(whisper)-8:]...), "exceeds"},
		{"whisper: ratchet key of the wrong type", signalErr, withByte(whisper, 3, 0x06), "type byte"},
		{"whisper: wire type 5", signalErr, append([]byte{0x44, 0x0d, 1, 2, 3, 4}, make([]byte, 8)...), "wire type 5"},
		{"prekey: empty", prekeyErr, nil, "empty"},
		{"prekey: version only", prekeyErr, prekey[:1], "required field"},
		{"prekey: cut kyber ciphertext", prekeyErr, prekey[:len(prekey)-1], "exceeds"},
		{"prekey: inner message broken", prekeyErr, withByte(prekey, 79, 0x06), "inner"},
		{"scannable: halves missing", scannableErr, []byte{0x08, 0x02}, "missing"},
		{"scannable: short half", scannableErr, []byte{0x12, 0x03, 0x0a, 0x01, 0x00, 0x1a, 0x00}, "is 1 bytes, want 32"},
		{"skdm: empty", skdmErr, nil, "empty"},
		{"skm: shorter than a signature", skmErr, make([]byte, 64), "shorter"},
		{"varint: eleven bytes", signalErr, append(append([]byte{0x44, 0x10}, bytes.Repeat([]byte{0xff}, 10)...), make([]byte, 9)...), "varint"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.parse(tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func withByte(b []byte, i int, v byte) []byte {
	out := append([]byte(nil), b...)
	out[i] = v
	return out
}

func signalErr(b []byte) error    { _, err := ParseSignalMessage(b); return err }
func prekeyErr(b []byte) error    { _, err := ParsePreKeySignalMessage(b); return err }
func scannableErr(b []byte) error { _, err := ParseScannable(b); return err }
func skdmErr(b []byte) error      { _, err := ParseSenderKeyDistribution(b); return err }
func skmErr(b []byte) error       { _, err := ParseSenderKeyMessage(b); return err }

// FuzzParseMessages feeds the same bytes to every wire parser of the suite:
// none may panic, and whatever one accepts must be consistent.
func FuzzParseMessages(f *testing.F) {
	for _, name := range []string{"prekey_message.hex", "signal_message.hex", "sender_key_distribution.hex", "sender_key_message.hex", "scannable_fingerprint.hex"} {
		b := readHex(f, name)
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if m, err := ParseSignalMessage(b); err == nil {
			if len(m.RatchetKey) != 33 || len(m.MAC) != MACSize || (m.Addresses != nil && len(m.Addresses) != 36) {
				t.Fatalf("inconsistent SignalMessage %+v", m)
			}
		}
		if m, err := ParsePreKeySignalMessage(b); err == nil {
			if len(m.BaseKey) != 33 || len(m.IdentityKey) != 33 || len(m.KyberCiphertext) != 1569 || m.Signal.RatchetKey == nil {
				t.Fatalf("inconsistent PreKeySignalMessage %+v", m)
			}
		}
		if s, err := ParseScannable(b); err == nil && (len(s.Local) != 32 || len(s.Remote) != 32) {
			t.Fatalf("inconsistent scannable fingerprint %+v", s)
		}
		if d, err := ParseSenderKeyDistribution(b); err == nil && (len(d.DistributionID) != 16 || len(d.ChainKey) != 32 || len(d.SigningKey) != 33) {
			t.Fatalf("inconsistent distribution message %+v", d)
		}
		if m, err := ParseSenderKeyMessage(b); err == nil && (len(m.DistributionID) != 16 || len(m.Signature) != SenderKeySignatureSize) {
			t.Fatalf("inconsistent sender key message %+v", m)
		}
	})
}
