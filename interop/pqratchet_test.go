package interop

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var chunk32 = strings.Repeat("ab", 32)

func TestParsePQRatchet(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    PQRatchet
		wantErr string
	}{
		{"empty field: no SPQR", "", PQRatchet{}, ""},
		{"version 0: no SPQR", "00 01 02 00", PQRatchet{}, ""},
		{"SPQR-lite: epoch 1, payload None", "01 01 07 00", PQRatchet{Version: 1, Epoch: 1, Index: 7, Type: SPQRNone}, ""},
		{"header chunk", "01 01 00 01 02" + chunk32, PQRatchet{Version: 1, Epoch: 1, Type: SPQRHdr, HasChunk: true, ChunkIndex: 2, Chunk: unhex(t, chunk32)}, ""},
		{"multi-byte varints", "01 ac 02 ff ff ff ff 0f 06 ff ff 03" + chunk32, PQRatchet{Version: 1, Epoch: 300, Index: 0xffffffff, Type: SPQRCt2, HasChunk: true, ChunkIndex: 0xffff, Chunk: unhex(t, chunk32)}, ""},
		{"Ct1Ack has no chunk; trailing bytes tolerated", "01 04 09 04 aa bb", PQRatchet{Version: 1, Epoch: 4, Index: 9, Type: SPQRCt1Ack, Trailing: 2}, ""},
		{"other version byte parsed with the V1 layout", "7f 02 01 00", PQRatchet{Version: 0x7f, Epoch: 2, Index: 1}, ""},
		{"epoch 0", "01 00 01 00", PQRatchet{}, "epoch 0"},
		{"no type", "01 01 01", PQRatchet{}, "type missing"},
		{"unknown type", "01 01 01 07", PQRatchet{}, "unknown message type 7"},
		{"short chunk", "01 01 01 02 00" + chunk32[:62], PQRatchet{}, "chunk has 31 bytes"},
		{"truncated varint", "01 81", PQRatchet{}, "truncated"},
		{"index over 32 bits", "01 01 80 80 80 80 10 00", PQRatchet{}, "index"},
		{"chunk index over 16 bits", "01 01 01 05 80 80 04" + chunk32, PQRatchet{}, "chunk index"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePQRatchet(unhex(t, tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Version != tc.want.Version || got.Epoch != tc.want.Epoch || got.Index != tc.want.Index || got.Type != tc.want.Type ||
				got.HasChunk != tc.want.HasChunk || got.ChunkIndex != tc.want.ChunkIndex || !bytes.Equal(got.Chunk, tc.want.Chunk) || got.Trailing != tc.want.Trailing {
				t.Fatalf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// TestMessageEpochReal reads the SPQR fields of messages libsignal 0.103.0
// produced (testdata/*.hex, captured from the Node peer): the initiator's
// first message carries a header chunk, the responder's reply payload None,
// both at epoch 1.
func TestMessageEpochReal(t *testing.T) {
	pk, err := ParsePreKeySignalMessage(readHex(t, "prekey_message.hex"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParsePQRatchet(pk.Signal.PQRatchet)
	if err != nil || p.Version != 1 || p.Epoch != 1 || p.Index != 1 || p.Type != SPQRHdr || p.ChunkIndex != 0 || p.Trailing != 0 {
		t.Fatalf("initiator's first pq_ratchet %x parsed as %+v (%v); want V1, epoch 1, index 1, Hdr chunk 0", pk.Signal.PQRatchet, p, err)
	}
	sm, err := ParseSignalMessage(readHex(t, "signal_message.hex"))
	if err != nil {
		t.Fatal(err)
	}
	p, err = ParsePQRatchet(sm.PQRatchet)
	if err != nil || p.Version != 1 || p.Epoch != 1 || p.Index != 1 || p.Type != SPQRNone {
		t.Fatalf("responder's reply pq_ratchet %x parsed as %+v (%v); want V1, epoch 1, index 1, None", sm.PQRatchet, p, err)
	}
	if e, err := MessageEpoch(2, readHex(t, "signal_message.hex")); e != 1 || err != nil {
		t.Fatalf("MessageEpoch = %d, %v; want 1", e, err)
	}
	if _, err := MessageEpoch(7, readHex(t, "sender_key_message.hex")); err == nil {
		t.Fatal("MessageEpoch accepted a sender-key message, which has no pq_ratchet field")
	}
}

// encodePQRatchet is the inverse of ParsePQRatchet, for the fuzz target.
func encodePQRatchet(p PQRatchet) []byte {
	if p.Version == 0 {
		return nil
	}
	out := []byte{p.Version}
	out = appendVarint(out, p.Epoch)
	out = appendVarint(out, p.Index)
	out = append(out, p.Type)
	if p.HasChunk {
		out = appendVarint(out, p.ChunkIndex)
		out = append(out, p.Chunk...)
	}
	return out
}

func appendVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func FuzzParsePQRatchet(f *testing.F) {
	for _, s := range []string{"", "00", "01010000", "0101070004", "01ac02ffffffff0f06ffff03" + chunk32, "01040904aabb", "0101000102" + chunk32} {
		b, _ := hex.DecodeString(s)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePQRatchet(b)
		if err != nil {
			return
		}
		if p.Version == 0 {
			if len(b) > 0 && b[0] != 0 {
				t.Fatalf("version 0 reported for %x", b)
			}
			return
		}
		if p.Epoch == 0 || p.Index > 0xffffffff || p.ChunkIndex > 0xffff || p.HasChunk != (len(p.Chunk) == SPQRChunkSize) || p.Trailing > len(b) {
			t.Fatalf("inconsistent parse of %x: %+v", b, p)
		}
		again, err := ParsePQRatchet(encodePQRatchet(p))
		if err != nil || again.Epoch != p.Epoch || again.Index != p.Index || again.Type != p.Type || again.ChunkIndex != p.ChunkIndex || !bytes.Equal(again.Chunk, p.Chunk) || again.Trailing != 0 {
			t.Fatalf("re-encoding %+v does not parse back: %+v, %v", p, again, err)
		}
	})
}
