package mlkem768

import (
	"bytes"
	"compress/gzip"
	"crypto/sha3"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/skymsg/sky/internal/testenv"
	"github.com/skymsg/sky/internal/testvec"
)

// Pinned vector modules, read through testenv.FetchModule from the module
// cache, never imported: the Wycheproof package embeds 100 MB.
const (
	wycheproofModule, wycheproofVersion = "github.com/c2sp/wycheproof", "v0.0.0-20260902155932-3fa63dd0344a"
	circlModule, circlVersion           = "github.com/cloudflare/circl", "v1.6.5"
)

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if _, err := buf.ReadFrom(zr); err != nil {
			t.Fatal(err)
		}
		b = buf.Bytes()
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

type wycheproofFile[T any] struct {
	NumberOfTests int
	TestGroups    []struct {
		ParameterSet string
		Tests        []T
	}
}

func wycheproof[T any](t *testing.T, name string) []T {
	t.Helper()
	var f wycheproofFile[T]
	readJSON(t, filepath.Join(testenv.FetchModule(t, wycheproofModule, wycheproofVersion), "testvectors_v1", name), &f)
	var out []T
	for _, g := range f.TestGroups {
		if g.ParameterSet != "ML-KEM-768" {
			t.Fatalf("%s: unexpected parameter set %q", name, g.ParameterSet)
		}
		out = append(out, g.Tests...)
	}
	if len(out) != f.NumberOfTests || len(out) == 0 {
		t.Fatalf("%s: read %d tests, file says %d", name, len(out), f.NumberOfTests)
	}
	return out
}

// TestWycheproofDecaps runs mlkem_768_test.json: key generation from a seed,
// then decapsulation; invalid vectors have a seed or ciphertext of the wrong
// length and must be rejected.
func TestWycheproofDecaps(t *testing.T) {
	type vector struct {
		TcID           int
		Comment        string
		Seed, Ek, C, K testvec.Hex
		Result         string
	}
	valid := 0
	for _, v := range wycheproof[vector](t, "mlkem_768_test.json") {
		dk, err := NewDecapsulationKey(v.Seed)
		if err != nil {
			if v.Result == "valid" {
				t.Errorf("tc %d: key from seed: %v", v.TcID, err)
			}
			continue
		}
		if !bytes.Equal(dk.EncapsulationKey(), v.Ek) {
			t.Errorf("tc %d: encapsulation key differs", v.TcID)
		}
		K, err := dk.Decapsulate(v.C)
		switch {
		case v.Result == "valid" && err != nil:
			t.Errorf("tc %d (%s): %v", v.TcID, v.Comment, err)
		case v.Result == "valid" && !bytes.Equal(K[:], v.K):
			t.Errorf("tc %d (%s): shared key differs", v.TcID, v.Comment)
		case v.Result == "invalid" && err == nil:
			t.Errorf("tc %d (%s): accepted an invalid vector", v.TcID, v.Comment)
		case v.Result == "valid":
			valid++
		}
	}
	if valid < 150 {
		t.Fatalf("only %d valid vectors checked", valid)
	}
}

// TestWycheproofEncaps runs mlkem_768_encaps_test.json through the split
// encapsulation: ct1 and K from the header alone, ct2 once t̂ is added. Keys
// that are not reduced mod q or have the wrong length must be rejected.
func TestWycheproofEncaps(t *testing.T) {
	type vector struct {
		TcID        int
		Comment     string
		Flags       []string
		Ek, M, C, K testvec.Hex
		Result      string
	}
	valid := 0
	for _, v := range wycheproof[vector](t, "mlkem_768_encaps_test.json") {
		m := (*[RandomnessSize]byte)(v.M)
		K, c, err := Encapsulate(v.Ek, m)
		if v.Result == "invalid" {
			if !errors.Is(err, ErrInvalidKey) {
				t.Errorf("tc %d (%s %v): got %v, want ErrInvalidKey", v.TcID, v.Comment, v.Flags, err)
			}
			if len(v.Ek) == EncapsulationKeySize {
				hdr := headerOf(v.Ek)
				if _, err := Encapsulate2(&hdr, (*[VectorSize]byte)(v.Ek), m); !errors.Is(err, ErrInvalidKey) {
					t.Errorf("tc %d: Encapsulate2 accepted an unreduced key", v.TcID)
				}
			}
			continue
		}
		if err != nil || !bytes.Equal(c, v.C) || !bytes.Equal(K[:], v.K) {
			t.Errorf("tc %d (%s): err %v, ciphertext or key differs", v.TcID, v.Comment, err)
			continue
		}
		hdr := headerOf(v.Ek)
		ct1, K1 := Encapsulate1(&hdr, m)
		ct2, err := Encapsulate2(&hdr, (*[VectorSize]byte)(v.Ek), m)
		if err != nil || !bytes.Equal(ct1[:], v.C[:Ciphertext1Size]) || !bytes.Equal(ct2[:], v.C[Ciphertext1Size:]) || !bytes.Equal(K1[:], v.K) {
			t.Errorf("tc %d: split encapsulation differs (err %v)", v.TcID, err)
		}
		valid++
	}
	if valid < 130 {
		t.Fatalf("only %d valid vectors checked", valid)
	}
}

// TestWycheproofKeygenSeed checks keys derived from seeds against
// mlkem_768_keygen_seed_test.json, including the expanded FIPS 203 dk.
func TestWycheproofKeygenSeed(t *testing.T) {
	type vector struct {
		TcID         int
		Seed, Ek, Dk testvec.Hex
		Result       string
	}
	for _, v := range wycheproof[vector](t, "mlkem_768_keygen_seed_test.json") {
		dk, err := NewDecapsulationKey(v.Seed)
		if err != nil {
			t.Fatalf("tc %d: %v", v.TcID, err)
		}
		if !bytes.Equal(dk.EncapsulationKey(), v.Ek) || !bytes.Equal(expandedBytes(dk), v.Dk) {
			t.Errorf("tc %d: generated key differs", v.TcID)
		}
		if s := dk.Seed(); !bytes.Equal(s[:], v.Seed) {
			t.Errorf("tc %d: Seed() does not return the seed", v.TcID)
		}
	}
}

// TestWycheproofSemiExpandedDecaps decapsulates with expanded FIPS 203
// decapsulation keys, which must be rejected when their length, hash or
// embedded encapsulation key is wrong.
func TestWycheproofSemiExpandedDecaps(t *testing.T) {
	type vector struct {
		TcID     int
		Comment  string
		Dk, C, K testvec.Hex
		Result   string
	}
	for _, v := range wycheproof[vector](t, "mlkem_768_semi_expanded_decaps_test.json") {
		dk, err := parseExpanded(v.Dk)
		var K [SharedKeySize]byte
		if err == nil {
			K, err = dk.Decapsulate(v.C)
		}
		switch {
		case v.Result == "valid" && (err != nil || !bytes.Equal(K[:], v.K)):
			t.Errorf("tc %d (%s): err %v or wrong key", v.TcID, v.Comment, err)
		case v.Result == "invalid" && err == nil:
			t.Errorf("tc %d (%s): accepted", v.TcID, v.Comment)
		}
	}
}

type acvpFile struct {
	TestGroups []struct {
		TgID         int
		ParameterSet string
		Function     string
		Dk           testvec.Hex
		Tests        []struct {
			TcID         int
			D, Z, Ek, Dk testvec.Hex
			M, C, K      testvec.Hex
		}
	}
}

// acvp reads a NIST ACVP prompt and its expected results from circl's copy.
func acvp(t *testing.T, name string) (prompt, expected acvpFile) {
	dir := filepath.Join(testenv.FetchModule(t, circlModule, circlVersion), "kem", "mlkem", "testdata", name)
	readJSON(t, filepath.Join(dir, "prompt.json.gz"), &prompt)
	readJSON(t, filepath.Join(dir, "expectedResults.json.gz"), &expected)
	return prompt, expected
}

// TestACVPKeyGen runs the NIST ACVP ML-KEM-768 keyGen vectors.
func TestACVPKeyGen(t *testing.T) {
	prompt, expected := acvp(t, "ML-KEM-keyGen-FIPS203")
	n := 0
	for gi, g := range prompt.TestGroups {
		if g.ParameterSet != "ML-KEM-768" {
			continue
		}
		for ti, tc := range g.Tests {
			want := expected.TestGroups[gi].Tests[ti]
			dk, err := NewDecapsulationKey(append(append([]byte{}, tc.D...), tc.Z...))
			if err != nil || want.TcID != tc.TcID {
				t.Fatalf("tc %d: %v", tc.TcID, err)
			}
			if !bytes.Equal(dk.EncapsulationKey(), want.Ek) || !bytes.Equal(expandedBytes(dk), want.Dk) {
				t.Errorf("tc %d: key differs", tc.TcID)
			}
			n++
		}
	}
	if n != 25 {
		t.Fatalf("checked %d ML-KEM-768 keyGen vectors, want 25", n)
	}
}

// TestACVPEncapDecap runs the NIST ACVP ML-KEM-768 encapsulation (through
// the split path) and decapsulation vectors.
func TestACVPEncapDecap(t *testing.T) {
	prompt, expected := acvp(t, "ML-KEM-encapDecap-FIPS203")
	enc, dec := 0, 0
	for gi, g := range prompt.TestGroups {
		if g.ParameterSet != "ML-KEM-768" {
			continue
		}
		var dk *DecapsulationKey
		if g.Function == "decapsulation" {
			var err error
			if dk, err = parseExpanded(g.Dk); err != nil {
				t.Fatalf("group %d: %v", g.TgID, err)
			}
		}
		for ti, tc := range g.Tests {
			want := expected.TestGroups[gi].Tests[ti]
			switch g.Function {
			case "encapsulation":
				hdr := headerOf(tc.Ek)
				m := (*[RandomnessSize]byte)(tc.M)
				ct1, K := Encapsulate1(&hdr, m)
				ct2, err := Encapsulate2(&hdr, (*[VectorSize]byte)(tc.Ek), m)
				if err != nil || !bytes.Equal(append(ct1[:], ct2[:]...), want.C) || !bytes.Equal(K[:], want.K) {
					t.Errorf("tc %d: encapsulation differs (err %v)", tc.TcID, err)
				}
				enc++
			case "decapsulation":
				K, err := dk.Decapsulate(tc.C)
				if err != nil || !bytes.Equal(K[:], want.K) {
					t.Errorf("tc %d: decapsulation differs (err %v)", tc.TcID, err)
				}
				dec++
			}
		}
	}
	if enc != 25 || dec != 10 {
		t.Fatalf("checked %d encapsulation and %d decapsulation vectors, want 25 and 10", enc, dec)
	}
}

// headerOf computes ρ ‖ H(ek) from a standard encapsulation key.
func headerOf(ek []byte) (hdr [HeaderSize]byte) {
	copy(hdr[:32], ek[VectorSize:])
	h := sha3.Sum256(ek)
	copy(hdr[32:], h[:])
	return hdr
}

// expandedBytes encodes dk in the expanded FIPS 203 form
// ByteEncode₁₂(s) ‖ ek ‖ H(ek) ‖ z.
func expandedBytes(dk *DecapsulationKey) []byte {
	var b []byte
	for i := range dk.s {
		b = polyByteEncode(b, dk.s[i])
	}
	b = append(b, dk.EncapsulationKey()...)
	b = append(b, dk.h[:]...)
	return append(b, dk.z[:]...)
}

// parseExpanded parses an expanded FIPS 203 decapsulation key, checking its
// length, its encoding and that its H(ek) matches its ek (FIPS 203 §7.3).
func parseExpanded(b []byte) (*DecapsulationKey, error) {
	if len(b) != expandedKeySize {
		return nil, errors.New("expanded decapsulation key has the wrong length")
	}
	dk := &DecapsulationKey{}
	for i := range dk.s {
		var err error
		if dk.s[i], err = polyByteDecode[nttElement](b[i*encodingSize12 : (i+1)*encodingSize12]); err != nil {
			return nil, err
		}
	}
	ek := b[k*encodingSize12 : k*encodingSize12+EncapsulationKeySize]
	rest := b[k*encodingSize12+EncapsulationKeySize:]
	copy(dk.ρ[:], ek[VectorSize:])
	copy(dk.h[:], rest[:32])
	copy(dk.z[:], rest[32:])
	hdr := dk.Header()
	t, err := CheckVector(&hdr, (*[VectorSize]byte)(ek))
	if err != nil {
		return nil, err
	}
	dk.t = t
	for i := byte(0); i < k; i++ {
		for j := byte(0); j < k; j++ {
			dk.a[i*k+j] = sampleNTT(dk.ρ[:], j, i)
		}
	}
	return dk, nil
}
