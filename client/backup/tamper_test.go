package backup

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/skymsg/sky/client/store"
)

// bigBackup is a backup of several chunks (a 200 KB message).
func bigBackup(t *testing.T) ([]byte, RecoveryKey) {
	t.Helper()
	f := newFixture(t)
	err := f.st.Update(func(tx *store.Tx) error {
		return tx.AddMessage(&store.Message{Conversation: "bob", Sender: "bob", State: store.Read, Body: store.Secret(bytes.Repeat([]byte("x"), 200<<10))})
	})
	if err != nil {
		t.Fatal(err)
	}
	k := NewRecoveryKey()
	b, _ := f.write(t, k, Options{})
	if len(b) < headerLen+3*sealedSize {
		t.Fatalf("backup of %d bytes has fewer than four chunks", len(b))
	}
	return b, k
}

// Every damaged, truncated, extended or wrongly keyed backup is refused with
// the error that says which, and leaves no store and no half-restored
// directory behind.
func TestRestoreRefusesDamage(t *testing.T) {
	b, k := bigBackup(t)
	flip := func(i int) []byte { c := bytes.Clone(b); c[i] ^= 0x01; return c }
	chunk := func(n int) int { return headerLen + n*sealedSize }
	swapped := bytes.Clone(b)
	copy(swapped[chunk(0):chunk(1)], b[chunk(1):chunk(2)])
	copy(swapped[chunk(1):chunk(2)], b[chunk(0):chunk(1)])
	cases := map[string]struct {
		file []byte
		key  RecoveryKey
		want error
	}{
		"wrong key":                  {b, NewRecoveryKey(), ErrWrongKey},
		"empty file":                 {nil, k, ErrNotBackup},
		"not a backup":               {[]byte("PK\x03\x04 some zip file that is long enough to hold a header, really, yes it is"), k, ErrNotBackup},
		"magic":                      {flip(0), k, ErrNotBackup},
		"newer version":              {func() []byte { c := bytes.Clone(b); c[len(magic)] = 2; return c }(), k, ErrNewerVersion},
		"salt":                       {flip(len(magic) + 1), k, ErrWrongKey},
		"key check":                  {flip(headerLen - 1), k, ErrWrongKey},
		"first chunk":                {flip(headerLen + 10), k, ErrDamaged},
		"middle chunk":               {flip(chunk(2) + 100), k, ErrDamaged},
		"tag of last chunk":          {flip(len(b) - 1), k, ErrDamaged},
		"chunks swapped":             {swapped, k, ErrDamaged},
		"header only":                {b[:headerLen], k, ErrDamaged},
		"cut in a chunk":             {b[:chunk(1)+500], k, ErrDamaged},
		"cut at a chunk boundary":    {b[:chunk(2)], k, ErrDamaged},
		"last chunk dropped":         {b[:len(b)-(len(b)-headerLen)%sealedSize], k, ErrDamaged},
		"one byte short":             {b[:len(b)-1], k, ErrDamaged},
		"bytes appended":             {append(bytes.Clone(b), 0), k, ErrDamaged},
		"a chunk appended":           {append(bytes.Clone(b), b[chunk(1):chunk(2)]...), k, ErrDamaged},
		"cut in the header":          {b[:headerLen-1], k, ErrNotBackup},
		"chunk repeated in the file": {append(append(bytes.Clone(b[:chunk(1)]), b[chunk(0):chunk(1)]...), b[chunk(1):]...), k, ErrDamaged},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			dir, _, err := restore(t, c.file, c.key, t0)
			if !errors.Is(err, c.want) {
				t.Fatalf("Restore = %v, want %v", err, c.want)
			}
			entries, rerr := os.ReadDir(filepath.Dir(dir))
			if rerr != nil || len(entries) != 0 {
				t.Errorf("a refused restore left %v behind (%v)", entries, rerr)
			}
		})
	}
}

const (
	blobName  = "0123456789abcdef0123456789abcdef.blob"
	otherBlob = "fedcba9876543210fedcba9876543210.blob"
)

// A record that authenticates but does not make sense is refused as
// damaged too (someone holding the key wrote it, or a bug did).
func TestRestoreRefusesBadRecords(t *testing.T) {
	k := NewRecoveryKey()
	meta := append([]byte{recMeta, 0}, nil...)
	meta[1] = byte(len(encodeMeta(Meta{AccountID: "me"})))
	meta = append(meta, encodeMeta(Meta{AccountID: "me"})...)
	rec := func(typ byte, p []byte) []byte { return append([]byte{typ, byte(len(p))}, p...) }
	end := func(n byte) []byte { return []byte{recEnd, 1, n} }
	cases := map[string][]byte{
		"no meta":            rec(recRow, encodeRow(Row{Table: "contacts", Key: []byte("a"), Value: []byte("b")})),
		"meta twice":         append(append(bytes.Clone(meta), meta...), end(2)...),
		"unknown type":       append(append(bytes.Clone(meta), rec(9, nil)...), end(2)...),
		"unknown table":      append(append(bytes.Clone(meta), rec(recRow, encodeRow(Row{Table: "sessions", Key: []byte("a"), Value: []byte("b")}))...), end(2)...),
		"store's own kv":     append(append(bytes.Clone(meta), rec(recRow, encodeRow(Row{Table: "kv", Key: []byte("store/panic"), Value: []byte("b")}))...), end(2)...),
		"wrong count":        append(bytes.Clone(meta), end(5)...),
		"no end":             bytes.Clone(meta),
		"after end":          append(append(bytes.Clone(meta), end(1)...), 0),
		"trailing in meta":   append(rec(recMeta, append(encodeMeta(Meta{}), 0)), end(1)...),
		"message, no number": append(append(bytes.Clone(meta), rec(recMessage, encodeMessage(&store.Message{Conversation: "bob"}))...), end(2)...),
		"huge length":        append(bytes.Clone(meta), recRow, 0xff, 0xff, 0xff, 0xff, 0x7f),
		"file not from 0":    append(append(bytes.Clone(meta), rec(recFile, encodeFile(FilePiece{Name: blobName, Offset: 5, Data: []byte("x")}))...), end(2)...),
		"file gap":           append(append(append(bytes.Clone(meta), rec(recFile, encodeFile(FilePiece{Name: blobName, Data: []byte("ab")}))...), rec(recFile, encodeFile(FilePiece{Name: blobName, Offset: 3, Data: []byte("x")}))...), end(3)...),
		"file twice":         append(append(append(append(bytes.Clone(meta), rec(recFile, encodeFile(FilePiece{Name: blobName, Data: []byte("a")}))...), rec(recFile, encodeFile(FilePiece{Name: otherBlob, Data: []byte("b")}))...), rec(recFile, encodeFile(FilePiece{Name: blobName, Data: []byte("c")}))...), end(4)...),
		"file name":          append(append(bytes.Clone(meta), rec(recFile, encodeFile(FilePiece{Name: "../sky.key", Data: []byte("x")}))...), end(2)...),
		"empty file piece":   append(append(bytes.Clone(meta), rec(recFile, encodeFile(FilePiece{Name: blobName}))...), end(2)...),
	}
	for name, plain := range cases {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			sw, err := newSealWriter(&buf, k, [saltLen]byte{1})
			if err != nil {
				t.Fatal(err)
			}
			sw.Write(plain)
			sw.Close()
			dir, _, err := restore(t, buf.Bytes(), k, t0)
			if !errors.Is(err, ErrDamaged) {
				t.Fatalf("Restore = %v, want ErrDamaged", err)
			}
			if entries, _ := os.ReadDir(filepath.Dir(dir)); len(entries) != 0 {
				t.Errorf("a refused restore left %v behind", entries)
			}
		})
	}
}
