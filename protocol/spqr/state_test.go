package spqr

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/skymsg/sky/protocol/internal/errs"
)

func pair(t *testing.T) (alice, bob *State) {
	auth := bytes.Repeat([]byte{0x11}, 32)
	a, err := NewState(auth, A2B, Params{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewState(auth, B2A, Params{})
	if err != nil {
		t.Fatal(err)
	}
	return a, b
}

func TestLiteMessagesAreV1NoneEpoch1(t *testing.T) {
	a, b := pair(t)
	for i := 1; i <= 130; i++ {
		msg, key, err := a.Send()
		if err != nil {
			t.Fatal(err)
		}
		// 0x01, epoch 1, varint index, type None.
		want := append(append([]byte{0x01, 0x01}, uvarint(uint64(i))...), 0x00)
		if !bytes.Equal(msg, want) {
			t.Fatalf("message %d = %x, want %x", i, msg, want)
		}
		got, err := b.Recv(msg)
		if err != nil || got != key {
			t.Fatalf("message %d: %v", i, err)
		}
	}
}

func uvarint(v uint64) []byte {
	var b []byte
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// TestLiteAcceptsFullSPQRPayloads: libsignal as initiator sends Hdr chunks
// in epoch 1 forever; SPQR-lite ignores payloads and takes the key.
func TestLiteAcceptsFullSPQRPayloads(t *testing.T) {
	a, b := pair(t)
	_, key, _ := a.Send()
	m := Message{Epoch: 1, Index: 1, Type: TypeHdr, ChunkIndex: 3}
	got, err := b.Recv(m.Append(nil))
	if err != nil || got != key {
		t.Fatalf("Hdr payload: %v", err)
	}
}

func TestLiteRefuses(t *testing.T) {
	cases := map[string][]byte{
		"empty (no SPQR)":   nil,
		"version 0":         {0x00, 0x01, 0x01, 0x00},
		"version 2":         {0x02, 0x01, 0x01, 0x00},
		"epoch 0":           {0x01, 0x00, 0x01, 0x00},
		"epoch 2":           {0x01, 0x02, 0x01, 0x00},
		"index 0 (no key)":  {0x01, 0x01, 0x00, 0x00},
		"type missing":      {0x01, 0x01, 0x01},
		"type 7":            {0x01, 0x01, 0x01, 0x07},
		"chunk truncated":   append([]byte{0x01, 0x01, 0x01, 0x01, 0x00}, make([]byte, 31)...),
		"chunk index > 16b": append([]byte{0x01, 0x01, 0x01, 0x01, 0x80, 0x80, 0x04}, make([]byte, 32)...),
		"index > 32 bits":   {0x01, 0x01, 0x80, 0x80, 0x80, 0x80, 0x10, 0x00},
		"jump 25,001":       {0x01, 0x01, 0xa9, 0xc3, 0x01, 0x00},
	}
	for name, msg := range cases {
		_, b := pair(t)
		if _, err := b.Recv(msg); !errors.Is(err, errs.InvalidMessage) {
			t.Errorf("%s: %v", name, err)
		}
	}
	_, b := pair(t)
	if _, err := b.Recv([]byte{0x01, 0x01, 0xa8, 0xc3, 0x01, 0x00}); err != nil {
		t.Errorf("jump of exactly 25,000 refused: %v", err)
	}
	_, b = pair(t)
	if _, err := b.Recv(append([]byte{0x01, 0x01, 0x01, 0x00}, 0xEE, 0xFF)); err != nil {
		t.Errorf("trailing bytes refused: %v", err)
	}
	if _, err := NewState(make([]byte, 31), A2B, Params{}); err == nil {
		t.Error("31-byte auth key accepted")
	}
}

func TestStateCloneAndEncoding(t *testing.T) {
	a, b := pair(t)
	var msgs [][]byte
	var keys [][32]byte
	for i := 0; i < 5; i++ {
		m, k, _ := a.Send()
		msgs, keys = append(msgs, m), append(keys, k)
	}
	b.Recv(msgs[4])
	enc, _ := b.MarshalBinary()
	if enc[0] != 0x01 {
		t.Fatalf("format byte %x", enc[0])
	}
	var c State
	if err := c.UnmarshalBinary(enc); err != nil {
		t.Fatal(err)
	}
	d := b.Clone()
	for _, s := range []*State{b, &c, d} {
		if k, err := s.Recv(msgs[1]); err != nil || k != keys[1] {
			t.Fatalf("copy lost a kept key: %v", err)
		}
	}
	// The clone is independent: using msgs[2] on d leaves b able to.
	d.Recv(msgs[2])
	if _, err := b.Recv(msgs[2]); err != nil {
		t.Fatalf("clone shares state: %v", err)
	}
	for _, bad := range [][]byte{nil, {0x02}, {0x01}, enc[:len(enc)-1]} {
		var s State
		if err := s.UnmarshalBinary(bad); !errors.Is(err, errs.InvalidState) {
			t.Errorf("UnmarshalBinary(%x): %v", bad, err)
		}
	}
	if got := fmt.Sprintf("%v %+v %#v %s %x", a, a, a, a, a); strings.Count(got, "redacted") != 5 {
		t.Errorf("state not redacted: %s", got)
	}
}

func FuzzParseMessage(f *testing.F) {
	f.Add([]byte{0x01, 0x01, 0x01, 0x00})
	f.Add(Message{Epoch: 3, Index: 300, Type: TypeCt2, ChunkIndex: 7}.Append(nil))
	f.Add([]byte{0x01, 0x01, 0x01, 0x04})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseMessage(b)
		if err != nil {
			return
		}
		enc := m.Append(nil)
		if m2, err := ParseMessage(enc); err != nil || m2 != m {
			t.Fatalf("re-encoding %x does not parse back to the same message", enc)
		}
		_, bob := pair(t)
		bob.Recv(b)
	})
}

func FuzzUnmarshalState(f *testing.F) {
	a, b := pair(&testing.T{})
	m, _, _ := a.Send()
	b.Recv(m)
	m, _, _ = a.Send()
	m, _, _ = a.Send()
	b.Recv(m)
	enc, _ := b.MarshalBinary()
	f.Add(enc)
	f.Fuzz(func(t *testing.T, enc []byte) {
		var s State
		if err := s.UnmarshalBinary(enc); err != nil {
			return
		}
		again, _ := s.MarshalBinary()
		var s2 State
		if err := s2.UnmarshalBinary(again); err != nil {
			t.Fatalf("re-encoded state does not decode: %v", err)
		}
		s.Send()
		s.Recv([]byte{0x01, 0x01, 0x05, 0x00})
	})
}
