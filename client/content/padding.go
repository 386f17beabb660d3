package content

import "fmt"

// Buckets are the sizes a padded plaintext can have. Every message is padded
// to the smallest bucket it fits (after the one-byte end marker), so the
// server, which sees only ciphertext lengths, learns the bucket and nothing
// finer: a "yes" and a paragraph look the same.
var Buckets = []int{256, 1 << 10, 4 << 10, 16 << 10, 64 << 10, 128 << 10}

// MaxPadded is the largest padded plaintext, the last bucket.
var MaxPadded = Buckets[len(Buckets)-1]

// Pad appends the end marker 0x80 and zeros up to the next bucket
// (ISO/IEC 7816-4 padding, as Signal pads). A b too large for the last
// bucket is an error.
func Pad(b []byte) ([]byte, error) {
	for _, size := range Buckets {
		if len(b) < size {
			out := make([]byte, size)
			copy(out, b)
			out[len(b)] = 0x80
			return out, nil
		}
	}
	return nil, fmt.Errorf("%w: %d bytes do not fit the largest bucket (%d)", ErrMalformed, len(b), MaxPadded)
}

// Unpad removes what Pad added. The padding is checked: after the last
// non-zero byte, which must be 0x80, only zeros may follow.
func Unpad(b []byte) ([]byte, error) {
	for i := len(b) - 1; i >= 0; i-- {
		switch b[i] {
		case 0:
			continue
		case 0x80:
			return b[:i], nil
		}
		break
	}
	return nil, malformed("bad padding")
}
