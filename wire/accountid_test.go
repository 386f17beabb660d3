package wire

import (
	"regexp"
	"strings"
	"testing"
)

// accountIDPattern is the account ID rule written independently of
// ValidAccountID.
var accountIDPattern = regexp.MustCompile(`^[2-9a-hjkmnp-z]{10}$`)

func TestValidAccountID(t *testing.T) {
	for _, tc := range []struct {
		id   string
		want bool
	}{
		{"23456789ab", true},
		{"zzzzzzzzzz", true},
		{"mnpqrstuvw", true},
		{"", false},
		{"23456789a", false},   // 9 characters
		{"23456789abc", false}, // 11
		{"0234567892", false},  // 0 is confusable
		{"1234567892", false},  // 1
		{"i234567892", false},  // i
		{"l234567892", false},  // l
		{"o234567892", false},  // o
		{"A234567892", false},  // upper case
		{"2345678 9a", false},
		{"2345678-9a", false},
		{"23456789a\x00", false},
		{"2345678é9", false}, // 10 bytes, not ASCII
	} {
		if got := ValidAccountID(tc.id); got != tc.want {
			t.Errorf("ValidAccountID(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
}

func TestAccountIDAlphabet(t *testing.T) {
	if len(AccountIDAlphabet) != 31 {
		t.Fatalf("alphabet has %d characters, want 31", len(AccountIDAlphabet))
	}
	seen := map[rune]bool{}
	for _, r := range AccountIDAlphabet {
		if seen[r] || strings.ContainsRune("01ilo", r) || !accountIDPattern.MatchString(strings.Repeat(string(r), AccountIDLength)) {
			t.Errorf("alphabet character %q is repeated, confusable or outside the rule", r)
		}
		seen[r] = true
	}
}

// FuzzValidAccountID: ValidAccountID agrees with the independent pattern on
// every input.
func FuzzValidAccountID(f *testing.F) {
	for _, s := range []string{"", "23456789ab", "zzzzzzzzzz", "0234567892", "A234567892", "23456789abc", "2345678é9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := ValidAccountID(s), accountIDPattern.MatchString(s); got != want {
			t.Fatalf("ValidAccountID(%q) = %v, the pattern says %v", s, got, want)
		}
	})
}
