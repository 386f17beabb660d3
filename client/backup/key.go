package backup

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"fmt"
	"strings"
)

// RecoveryKey is the secret a backup is encrypted under: 30 random bytes
// (240 bits) from crypto/rand, shown to the user once as 52 base32
// characters in 13 groups of four (the last two characters carry a 16-bit
// checksum that catches typos before any decryption is tried).
//
// It is random, not a passphrase the user picks, because a backup file is
// meant to be copied to places the user does not control (a USB stick, a
// cloud folder) and can then be attacked offline, without a rate limit, for
// ever. A chosen passphrase has far less entropy than its length suggests,
// and a slow KDF only multiplies the cost of each guess; 240 random bits
// make guessing hopeless, so the key needs no slow derivation (HKDF only).
//
// It never shows its bytes when formatted with fmt; Code returns the form to
// show the user.
type RecoveryKey struct{ b *[keyBytes]byte }

const (
	keyBytes   = 30
	checkBytes = 2
	// CodeLen is the length of a recovery code without separators.
	CodeLen = ((keyBytes+checkBytes)*8 + 4) / 5
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewRecoveryKey returns a fresh random recovery key.
func NewRecoveryKey() RecoveryKey {
	k := RecoveryKey{b: new([keyBytes]byte)}
	if _, err := rand.Read(k.b[:]); err != nil {
		panic("backup: crypto/rand failed: " + err.Error())
	}
	return k
}

func checksum(b []byte) []byte {
	s := sha256.Sum256(append([]byte("sky backup recovery key checksum\x00"), b...))
	return s[:checkBytes]
}

// Code is the recovery key as the user writes it down: 13 groups of four
// characters from A-Z and 2-7, separated by spaces.
func (k RecoveryKey) Code() string {
	if k.b == nil {
		return ""
	}
	raw := append(append([]byte{}, k.b[:]...), checksum(k.b[:])...)
	s := b32.EncodeToString(raw)
	clear(raw)
	var g []string
	for i := 0; i < len(s); i += 4 {
		g = append(g, s[i:i+4])
	}
	return strings.Join(g, " ")
}

// ParseRecoveryKey reads a recovery code as Code writes it. It ignores case,
// spaces and dashes, and reads 0 as O, 1 as I and 8 as B (digits the
// alphabet lacks, easily written for those letters). A code of the wrong
// length or with a wrong checksum is refused with ErrBadRecoveryCode before
// any file is read.
func ParseRecoveryKey(code string) (RecoveryKey, error) {
	s := strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '\t', '\n', '\r':
			return -1
		case '0':
			return 'O'
		case '1':
			return 'I'
		case '8':
			return 'B'
		}
		return r
	}, strings.ToUpper(code))
	if len(s) != CodeLen {
		return RecoveryKey{}, fmt.Errorf("%w: it has %d characters, not %d", ErrBadRecoveryCode, len(s), CodeLen)
	}
	raw, err := b32.DecodeString(s)
	if err != nil || len(raw) != keyBytes+checkBytes {
		return RecoveryKey{}, fmt.Errorf("%w: it holds a character other than A-Z and 2-7", ErrBadRecoveryCode)
	}
	defer clear(raw)
	if subtle.ConstantTimeCompare(checksum(raw[:keyBytes]), raw[keyBytes:]) != 1 {
		return RecoveryKey{}, fmt.Errorf("%w: a character is wrong (its checksum does not match)", ErrBadRecoveryCode)
	}
	k := RecoveryKey{b: new([keyBytes]byte)}
	copy(k.b[:], raw)
	return k, nil
}

// IsZero reports whether k holds no key.
func (k RecoveryKey) IsZero() bool { return k.b == nil }

// Zero overwrites the key.
func (k RecoveryKey) Zero() {
	if k.b != nil {
		clear(k.b[:])
	}
}

// String, GoString and Format redact the key for every fmt verb.
func (k RecoveryKey) String() string                { return "backup.RecoveryKey{redacted}" }
func (k RecoveryKey) GoString() string              { return k.String() }
func (k RecoveryKey) Format(f fmt.State, verb rune) { fmt.Fprint(f, k.String()) }
