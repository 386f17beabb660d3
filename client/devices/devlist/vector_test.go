package devlist

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"

	"github.com/skymsg/sky/protocol/curve"
)

type vector struct {
	Account string
	Version uint64
	IDs     []uint32
	Key     curve.PublicKey
	Encoded []byte
}

// loadVector reads testdata/list.json (hex byte strings).
func loadVector(t *testing.T) vector {
	t.Helper()
	raw, err := os.ReadFile("testdata/list.json")
	if err != nil {
		t.Fatal(err)
	}
	var j struct {
		Account string   `json:"account"`
		Version uint64   `json:"version"`
		IDs     []uint32 `json:"devices"`
		Key     string   `json:"identity_key"`
		Encoded string   `json:"encoded"`
	}
	if err := json.Unmarshal(raw, &j); err != nil {
		t.Fatal(err)
	}
	kb, err1 := hex.DecodeString(j.Key)
	enc, err2 := hex.DecodeString(j.Encoded)
	key, err3 := curve.ParsePublicKey(kb)
	if err1 != nil || err2 != nil || err3 != nil {
		t.Fatalf("testdata/list.json: %v %v %v", err1, err2, err3)
	}
	return vector{Account: j.Account, Version: j.Version, IDs: j.IDs, Key: key, Encoded: enc}
}
