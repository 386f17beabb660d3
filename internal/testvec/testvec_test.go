package testvec

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func TestLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v.json")
	if err := os.WriteFile(path, []byte(`{"a":"00ff10","b":""}`), 0o600); err != nil {
		t.Fatal(err)
	}
	var v struct{ A, B Hex }
	Load(t, path, &v)
	if string(v.A) != "\x00\xff\x10" || len(v.B) != 0 {
		t.Fatalf("loaded %x and %x", v.A, v.B)
	}
	for _, bad := range []string{`"0g"`, `"abc"`, `12`} {
		var h Hex
		if err := json.Unmarshal([]byte(bad), &h); err == nil {
			t.Errorf("%s: decoded as %x", bad, h)
		}
	}
}
