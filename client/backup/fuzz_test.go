package backup

import (
	"bytes"
	"errors"
	"testing"

	"github.com/skymsg/sky/client/store"
)

// fuzzKey is the fixed key the file-level fuzz target opens with, so that
// seeds made with it reach past the key check.
var fuzzKey = func() RecoveryKey {
	k := RecoveryKey{b: new([keyBytes]byte)}
	copy(k.b[:], "sky backup fuzz target key....")
	return k
}()

func fuzzSeedPlain() []byte {
	var buf bytes.Buffer
	meta := encodeMeta(Meta{AccountID: "me", Server: "ws://x"})
	buf.Write(append([]byte{recMeta, byte(len(meta))}, meta...))
	row := encodeRow(Row{Table: "contacts", Key: []byte("bob"), Value: []byte("v")})
	buf.Write(append([]byte{recRow, byte(len(row))}, row...))
	m := encodeMessage(&store.Message{ID: 1, Conversation: "bob", Body: store.Secret("hi")})
	buf.Write(append([]byte{recMessage, byte(len(m))}, m...))
	fp := encodeFile(FilePiece{Name: "0123456789abcdef0123456789abcdef.blob", Data: []byte("ciphertext")})
	buf.Write(append([]byte{recFile, byte(len(fp))}, fp...))
	buf.Write([]byte{recEnd, 1, 4})
	return buf.Bytes()
}

// FuzzRead feeds whole files to the decoder: header, chunk framing and
// authentication. Nothing may panic; anything accepted must be accepted
// only with its last chunk and end record in place.
func FuzzRead(f *testing.F) {
	var buf bytes.Buffer
	sw, _ := newSealWriter(&buf, fuzzKey, [saltLen]byte{7})
	sw.Write(fuzzSeedPlain())
	sw.Close()
	f.Add(buf.Bytes())
	f.Add(buf.Bytes()[:headerLen])
	f.Add([]byte(magic))
	f.Fuzz(func(t *testing.T, b []byte) {
		err := Read(bytes.NewReader(b), fuzzKey, Handler{})
		if err == nil && len(b) < headerLen+2*16 {
			t.Fatalf("accepted a %d-byte file", len(b))
		}
	})
}

// FuzzRecords feeds plaintexts to the record decoder directly (as if the
// key holder wrote them): lengths, types, order, fields. It must not panic,
// and a record it accepts must encode back to what it read.
func FuzzRecords(f *testing.F) {
	f.Add(fuzzSeedPlain())
	f.Add([]byte{recMeta, 0xff, 0xff, 0xff, 0x1f})
	f.Fuzz(func(t *testing.T, b []byte) {
		err := decodeRecords(bytes.NewReader(b), Handler{
			Row: func(r Row) error {
				if r.Table == "" || len(r.Key) == 0 {
					t.Fatal("accepted a row without a table or key")
				}
				return nil
			},
			File: func(fp FilePiece) error {
				if !validBlobName(fp.Name) || len(fp.Data) == 0 {
					t.Fatalf("accepted a malformed file piece %q", fp.Name)
				}
				return nil
			},
			Message: func(m *store.Message) error {
				if m.ID <= 0 || m.Conversation == "" || m.Timer < 0 {
					t.Fatalf("accepted a malformed message %v", m)
				}
				return nil
			},
		})
		if err != nil && !errors.Is(err, ErrDamaged) {
			t.Fatalf("error %v is not ErrDamaged", err)
		}
	})
}
