// Package wycheproof loads Project Wycheproof test vectors for the protocol
// core's known-answer tests. The vectors come from a pinned version of
// github.com/c2sp/wycheproof, fetched through the Go module proxy at test
// time and read from the module directory (the module is never imported).
package wycheproof

import (
	"path/filepath"
	"testing"

	"github.com/skymsg/sky/internal/testenv"
	"github.com/skymsg/sky/internal/testvec"
)

// Module and Version pin the vectors.
const (
	Module  = "github.com/c2sp/wycheproof"
	Version = "v0.0.0-20260902155932-3fa63dd0344a"
)

// Load decodes testvectors_v1/<name> into v.
func Load(t testing.TB, name string, v any) {
	t.Helper()
	dir := testenv.FetchModule(t, Module, Version)
	testvec.Load(t, filepath.Join(dir, "testvectors_v1", name), v)
}

// Hex is a byte string written in hex in the vector files.
type Hex = testvec.Hex

// Test holds the fields every vector has.
type Test struct {
	ID      int      `json:"tcId"`
	Comment string   `json:"comment"`
	Flags   []string `json:"flags"`
	Result  string   `json:"result"` // "valid", "invalid" or "acceptable"
}
