package main

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestJSONRPCDocListsEveryMethod: docs/json-rpc.md documents exactly the
// daemon's methods (one "### `name`" section each), and sky help lists
// them from the same table.
func TestJSONRPCDocListsEveryMethod(t *testing.T) {
	b, err := os.ReadFile("../../docs/json-rpc.md")
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for _, m := range regexp.MustCompile("(?m)^### `([a-z._]+)`$").FindAllStringSubmatch(string(b), -1) {
		documented = append(documented, m[1])
	}
	var table []string
	for _, m := range rpcMethods {
		table = append(table, m.name)
		if !slices.Contains(documented, m.name) {
			t.Errorf("docs/json-rpc.md does not document the method %q", m.name)
		}
		if !strings.Contains(rpcHelp(), "  "+m.name+" ") {
			t.Errorf("sky help does not list %q", m.name)
		}
	}
	for _, name := range documented {
		if !slices.Contains(table, name) {
			t.Errorf("docs/json-rpc.md documents %q, which the daemon does not have", name)
		}
	}
}
