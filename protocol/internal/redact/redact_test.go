package redact

import (
	"fmt"
	"testing"
)

type secret [4]byte

func (secret) Format(f fmt.State, verb rune) { Format(f, "secret") }

func TestFormatHidesBytes(t *testing.T) {
	s := secret{0xde, 0xad, 0xbe, 0xef}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%q", "%d", "%10v"} {
		got := fmt.Sprintf(verb, s)
		if got != "<secret: redacted>" {
			t.Errorf("Sprintf(%s) = %q", verb, got)
		}
	}
	if String("k") != "<k: redacted>" {
		t.Error("String placeholder changed")
	}
}
