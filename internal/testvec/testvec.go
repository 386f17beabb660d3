// Package testvec reads JSON test vector files, such as those the protocol
// packages keep in their testdata folders (most of them made by libsignal;
// each testdata/README.md says how), with byte strings written in hex.
package testvec

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"
)

// Hex is a byte string written as hex digits in a vector file.
type Hex []byte

// UnmarshalJSON decodes a JSON string of hex digits.
func (h *Hex) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	d, err := hex.DecodeString(s)
	*h = d
	return err
}

// Load decodes the JSON file at path into v, or fails the test.
func Load(t testing.TB, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
