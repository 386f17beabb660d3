package wire

import (
	"crypto/sha256"
	"encoding/binary"
	"slices"
)

// Sealed delivery: the sizes sealed content may have, and the delivery
// token's verifier. See docs/protocol.md, "Sealed sending".

// SealedSizes are the only lengths Send.content may have when it is sealed
// (sent with a delivery token, or as a sealed request). Clients pad every
// sealed envelope to the smallest that fits, so the server, and anyone
// watching it, learns one of five sizes and nothing finer. The largest is
// MaxMessageBytes.
var SealedSizes = []int{1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10}

// IsSealedSize reports whether n is one of SealedSizes.
func IsSealedSize(n int) bool { return slices.Contains(SealedSizes, n) }

// SealedSize returns the smallest sealed size of at least n bytes, or false
// when n is over the largest.
func SealedSize(n int) (int, bool) {
	for _, s := range SealedSizes {
		if n <= s {
			return s, true
		}
	}
	return 0, false
}

// Sizes of the delivery token and of its verifier.
const (
	DeliveryTokenBytes    = 32
	DeliveryVerifierBytes = sha256.Size
)

const verifierContext = "sky/v1 delivery token\x00"

// DeliveryVerifier is what the server stores for account's delivery token:
// SHA-256("sky/v1 delivery token" 0x00 ‖ u32(len(account)) ‖ account ‖
// token). The server compares a presented token by recomputing it, so a
// copy of its database does not let anyone send to the account; binding
// the account means one verifier says nothing about another account's.
func DeliveryVerifier(account string, token []byte) []byte {
	h := sha256.New()
	h.Write([]byte(verifierContext))
	h.Write(binary.BigEndian.AppendUint32(nil, uint32(len(account))))
	h.Write([]byte(account))
	h.Write(token)
	return h.Sum(nil)
}
