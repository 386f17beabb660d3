package errs

import (
	"errors"
	"strings"
	"testing"
)

func TestNewWrapsKind(t *testing.T) {
	kinds := []error{UntrustedIdentity, DuplicateMessage, InvalidMessage, InvalidKey, InvalidSignature, NoSession, InvalidState}
	for _, k := range kinds {
		err := Newf(k, "check %d failed", 7)
		if !errors.Is(err, k) {
			t.Errorf("errors.Is(%q, kind) = false", err)
		}
		for _, other := range kinds {
			if other != k && errors.Is(err, other) {
				t.Errorf("error of kind %q also matches %q", k, other)
			}
		}
		if !strings.Contains(err.Error(), "check 7 failed") || !strings.HasPrefix(err.Error(), k.Error()) {
			t.Errorf("text %q lacks kind or detail", err)
		}
	}
}
