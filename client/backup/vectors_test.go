package backup

import (
	"bytes"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"testing"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/skymsg/sky/internal/testvec"
)

// streamVector is one known answer of the file format: the recovery key (as
// its code), the salt, the plaintext (Len copies of Byte) and the file's
// SHA-256 (and the file itself when small). Made once by this package
// (SKY_WRITE_VECTORS=1) and checked since, so the format cannot change by
// accident; TestStreamConstruction checks the small ones independently.
type streamVector struct {
	Name       string
	Code       string
	Salt       testvec.Hex
	Byte       byte
	Len        int
	FileSHA256 testvec.Hex `json:"file_sha256"`
	File       testvec.Hex `json:"file,omitempty"`
}

const vectorFile = "testdata/stream.json"

func seal(t testing.TB, code string, salt []byte, plain []byte) []byte {
	t.Helper()
	k, err := ParseRecoveryKey(code)
	if err != nil {
		t.Fatal(err)
	}
	var s [saltLen]byte
	copy(s[:], salt)
	var buf bytes.Buffer
	w, err := newSealWriter(&buf, k, s)
	if err != nil {
		t.Fatal(err)
	}
	// Odd-sized writes, so chunking does not depend on how the caller
	// writes.
	for p := plain; len(p) > 0; {
		n := min(len(p), 1000+len(p)%7)
		w.Write(p[:n])
		p = p[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestStreamVectors(t *testing.T) {
	if os.Getenv("SKY_WRITE_VECTORS") == "1" {
		writeVectors(t)
	}
	var vs []streamVector
	testvec.Load(t, vectorFile, &vs)
	for _, v := range vs {
		t.Run(v.Name, func(t *testing.T) {
			plain := bytes.Repeat([]byte{v.Byte}, v.Len)
			file := seal(t, v.Code, v.Salt, plain)
			if sum := sha256.Sum256(file); !bytes.Equal(sum[:], v.FileSHA256) {
				t.Errorf("file SHA-256 %x, want %x", sum, v.FileSHA256)
			}
			if v.File != nil && !bytes.Equal(file, v.File) {
				t.Errorf("file\n%x\nwant\n%x", file, v.File)
			}
			k, _ := ParseRecoveryKey(v.Code)
			r, err := newOpenReader(bytes.NewReader(file), k)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			if err != nil || !bytes.Equal(got, plain) {
				t.Errorf("read back %d bytes, %v; want %d", len(got), err, len(plain))
			}
		})
	}
}

func writeVectors(t *testing.T) {
	code := "ABCD EFGH IJKL MNOP QRST UVWX YZ23 4567 ABCD EFGH IJKL MNOP QRST"
	raw, _ := b32.DecodeString(stripSpaces(code))
	k := RecoveryKey{b: new([keyBytes]byte)}
	copy(k.b[:], raw)
	code = k.Code() // with its checksum
	salt := bytes.Repeat([]byte{0x5a}, saltLen)
	var vs []streamVector
	for _, c := range []struct {
		name string
		b    byte
		n    int
	}{{"empty", 0, 0}, {"short", 'a', 100}, {"one full chunk", 'b', chunkSize}, {"chunk and a byte", 'c', chunkSize + 1}, {"three chunks", 'd', 3*chunkSize - 5}} {
		file := seal(t, code, salt, bytes.Repeat([]byte{c.b}, c.n))
		sum := sha256.Sum256(file)
		v := streamVector{Name: c.name, Code: code, Salt: salt, Byte: c.b, Len: c.n, FileSHA256: sum[:]}
		if len(file) < 512 {
			v.File = file
		}
		vs = append(vs, v)
	}
	type out struct {
		Name, Code, Salt string
		Byte             byte
		Len              int
		FileSHA256       string `json:"file_sha256"`
		File             string `json:"file,omitempty"`
	}
	var os_ []out
	for _, v := range vs {
		os_ = append(os_, out{v.Name, v.Code, hex.EncodeToString(v.Salt), v.Byte, v.Len, hex.EncodeToString(v.FileSHA256), hex.EncodeToString(v.File)})
	}
	b, _ := json.MarshalIndent(os_, "", "  ")
	if err := os.WriteFile(vectorFile, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

func stripSpaces(s string) string { return string(bytes.ReplaceAll([]byte(s), []byte(" "), nil)) }

// TestStreamConstruction rebuilds a one-chunk file from the primitives:
// HKDF-SHA256 keys from the recovery key and salt, ChaCha20-Poly1305 with
// the nonce 0…0 ‖ 1 (chunk 0, last) and the header as associated data.
func TestStreamConstruction(t *testing.T) {
	var vs []streamVector
	testvec.Load(t, vectorFile, &vs)
	for _, v := range vs {
		if v.File == nil {
			continue
		}
		k, _ := ParseRecoveryKey(v.Code)
		ck, _ := hkdf.Key(sha256.New, k.b[:], v.Salt, "sky backup v1 chunk key", 32)
		check, _ := hkdf.Key(sha256.New, k.b[:], v.Salt, "sky backup v1 key check", 32)
		hdr := append(append(append([]byte(magic), 1), v.Salt...), check...)
		aead, _ := chacha20poly1305.New(ck)
		n := make([]byte, 12)
		n[11] = 1
		want := aead.Seal(bytes.Clone(hdr), n, bytes.Repeat([]byte{v.Byte}, v.Len), hdr)
		if !bytes.Equal(v.File, want) {
			t.Errorf("%s: the vector is not header ‖ ChaCha20-Poly1305(chunk 0, last)", v.Name)
		}
	}
}
