package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/skymsg/sky/server/store"
	"github.com/skymsg/sky/wire"
)

// Alphabet is what account IDs and activation codes are written in: digits
// and lower-case letters without 0, 1, i, l and o, which people confuse.
// The rule lives in package wire, which clients share.
const Alphabet = wire.AccountIDAlphabet

// AccountIDLength gives about 49.5 bits of randomness: collisions are
// retried, and guessing a valid ID is hopeless.
const AccountIDLength = wire.AccountIDLength

// codeLength gives about 99 bits: activation codes cannot be guessed.
const codeLength = 20

func randomString(n int) string {
	var b strings.Builder
	max := big.NewInt(int64(len(Alphabet)))
	for range n {
		i, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic(err) // crypto/rand does not fail
		}
		b.WriteByte(Alphabet[i.Int64()])
	}
	return b.String()
}

// NewAccountID returns a random account ID.
func NewAccountID() string { return randomString(AccountIDLength) }

// ValidAccountID reports whether s could be an account ID
// (wire.ValidAccountID).
func ValidAccountID(s string) bool { return wire.ValidAccountID(s) }

// HashCode is how an activation code is stored: SHA-256 of its canonical
// form (lower case, with the dashes and spaces people type removed).
// Codes carry ~99 random bits, so a plain hash cannot be inverted.
func HashCode(code string) [32]byte {
	code = strings.Map(func(r rune) rune {
		if r == '-' || r == ' ' {
			return -1
		}
		return r
	}, strings.ToLower(strings.TrimSpace(code)))
	return sha256.Sum256([]byte(code))
}

// formatCode groups a code in fives for reading aloud: xxxxx-xxxxx-….
func formatCode(c string) string {
	var parts []string
	for len(c) > 5 {
		parts = append(parts, c[:5])
		c = c[5:]
	}
	return strings.Join(append(parts, c), "-")
}

// CreateCodes stores n new activation codes, each granting period and
// valid until validUntil rounded up to midnight UTC, with today's date (UTC)
// as their creation day (the time of day codes were made is not kept), and
// returns them for the operator to hand out. Only their hashes are kept.
func CreateCodes(ctx context.Context, st store.Store, n int, period time.Duration, validUntil time.Time) ([]string, error) {
	if n < 1 || n > 10000 {
		return nil, fmt.Errorf("code count %d out of range: create between 1 and 10000 at a time", n)
	}
	if period <= 0 {
		return nil, fmt.Errorf("a code must grant a positive period")
	}
	codes := make([]string, n)
	rows := make([]store.Code, n)
	today := time.Now().UTC().Truncate(store.Day)
	for i := range codes {
		codes[i] = formatCode(randomString(codeLength))
		rows[i] = store.Code{Hash: HashCode(codes[i]), Period: period, Expires: store.CeilDay(validUntil), Created: today}
	}
	if err := st.AddCodes(ctx, rows); err != nil {
		return nil, err
	}
	return codes, nil
}
