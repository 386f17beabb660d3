package wire

import "strings"

// Account IDs (Sky IDs) name people: the server assigns them, clients
// address messages and contacts by them, and both check them with
// ValidAccountID, so the rule is written down once, here.

// AccountIDAlphabet is what account IDs (and activation codes) are written
// in: digits and lower-case letters without 0, 1, i, l and o, which people
// confuse.
const AccountIDAlphabet = "23456789abcdefghjkmnpqrstuvwxyz"

// AccountIDLength is the length of an account ID: about 49.5 bits, so
// guessing a valid ID is hopeless.
const AccountIDLength = 10

// ValidAccountID reports whether s could be an account ID: AccountIDLength
// characters of AccountIDAlphabet.
func ValidAccountID(s string) bool {
	if len(s) != AccountIDLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(AccountIDAlphabet, s[i]) < 0 {
			return false
		}
	}
	return true
}
