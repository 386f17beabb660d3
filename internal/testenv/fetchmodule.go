package testenv

import (
	"encoding/json"
	"os/exec"
	"testing"
)

// FetchModule downloads module@version through the Go module proxy (or finds
// it in the module cache) and returns the directory holding its files. Tests
// use it to read pinned test vectors, such as Wycheproof's, without importing
// the module. It runs `go mod download -json` outside this module, so go.mod
// and go.sum are never touched. A failed download fails the test: the vectors
// are part of the test, not an optional facility.
func FetchModule(t testing.TB, module, version string) string {
	t.Helper()
	// go test puts the go command it runs under first in PATH.
	cmd := exec.Command("go", "mod", "download", "-json", module+"@"+version)
	cmd.Dir = t.TempDir()
	out, err := cmd.Output()
	var j struct{ Dir, Error string }
	if jerr := json.Unmarshal(out, &j); jerr != nil || j.Dir == "" {
		t.Fatalf("cannot fetch %s@%s through the Go module proxy (%v %s); "+
			"check GOPROXY and network access, or fill the module cache first", module, version, err, j.Error)
	}
	return j.Dir
}
