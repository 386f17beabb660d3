package braid

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

// FuzzParseMessage checks that the SPQR message parser never panics, that
// what it accepts re-encodes to the same leading bytes, and that it rejects
// everything else with ErrVersion0 or ErrMessage.
func FuzzParseMessage(f *testing.F) {
	for _, s := range []string{
		"01010100", "0101020101" + "9a389349fdf1223515c376f96b3d431922b1e96c4ea4909ae051545756858cfb",
		"01ffffffffffffffffff01ffffffff0f0600", "0001", "", "0102030405", "01010104",
		"7f0a8080800106ff03" + "00",
	} {
		b, _ := hex.DecodeString(s)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, idx, err := ParseMessage(b)
		if err != nil {
			if !errors.Is(err, ErrVersion0) && !errors.Is(err, ErrMessage) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if m.Epoch == 0 || m.Type > MsgCt2 {
			t.Fatalf("accepted epoch %d type %d", m.Epoch, m.Type)
		}
		out := AppendMessage(nil, m, idx)
		m2, idx2, err := ParseMessage(out)
		if err != nil || m2 != m || idx2 != idx {
			t.Fatalf("re-encoded message parses as %+v %d %v", m2, idx2, err)
		}
		// Canonical encodings (version 1, minimal varints) re-encode to
		// themselves; trailing bytes are allowed.
		if b[0] == Version1 && len(out) <= len(b) && !bytes.Equal(b[:len(out)], out) && canonical(b) {
			t.Fatalf("%x re-encodes as %x", b, out)
		}
	})
}

// canonical reports whether the varints at the start of an SPQR message are
// minimally encoded, so that re-encoding must reproduce them.
func canonical(b []byte) bool {
	at := 1
	for range 2 {
		start := at
		if _, err := uvarint(b, &at); err != nil {
			return false
		}
		if at-start > 1 && b[at-1] == 0 {
			return false
		}
		if at-start == 10 && b[at-1] > 1 {
			return false
		}
	}
	if at < len(b) && MsgType(b[at]).hasChunk() {
		start := at + 1
		at++
		if _, err := uvarint(b, &at); err != nil || (at-start > 1 && b[at-1] == 0) {
			return false
		}
	}
	return true
}

// FuzzRecv feeds messages made from fuzz input to states in every phase of a
// real exchange: no panic, errors are typed, a failed Recv leaves the state
// unchanged, and the state always serializes and restores.
func FuzzRecv(f *testing.F) {
	f.Add([]byte{3, 1, 1, 0, 0})
	f.Add([]byte{40, 1, 2, 2, 5, 7})
	f.Add([]byte{90, 1, 6, 4})
	f.Add([]byte{61, 0, 1, 5, 200, 1, 1})
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) < 2 {
			return
		}
		// Run a real exchange for in[0] steps, then attack one side.
		a, b := New([]byte("k"), true), New([]byte("k"), false)
		lockstep(t, a, b, int(in[0]%128))
		target := a
		if in[1]&1 == 1 {
			target = b
		}
		for rest := in[2:]; len(rest) >= 3; rest = rest[3:] {
			m := Message{Epoch: target.Epoch() + uint64(rest[0]%3) - 1, Type: MsgType(rest[1] % 7)}
			m.Chunk.Index = uint16(rest[2])
			for i := range m.Chunk.Data {
				m.Chunk.Data[i] = rest[2] ^ byte(i)
			}
			if m.Epoch == 0 {
				m.Epoch = 1
			}
			before := snapshot(target)
			if _, err := target.Recv(m); err != nil {
				if !bytes.Equal(before, snapshot(target)) {
					t.Fatalf("failed Recv changed the state: %v", err)
				}
			}
			var r State
			if err := r.UnmarshalBinary(snapshot(target)); err != nil {
				t.Fatalf("state does not restore: %v", err)
			}
			if _, _, err := target.Send(); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// FuzzUnmarshalState restores states from arbitrary bytes: no panic, and an
// accepted state re-encodes to its input and can send and receive.
func FuzzUnmarshalState(f *testing.F) {
	a, b := New([]byte("k"), true), New([]byte("k"), false)
	for range 6 {
		f.Add(snapshot(a))
		f.Add(snapshot(b))
		lockstep(f, a, b, 7)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var s State
		if err := s.UnmarshalBinary(in); err != nil {
			if !errors.Is(err, ErrState) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if !bytes.Equal(snapshot(&s), in) {
			t.Fatal("accepted state does not re-encode to itself")
		}
		m, _, err := s.Send()
		if err != nil {
			t.Fatal(err)
		}
		s.Recv(m)
	})
}
