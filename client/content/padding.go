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

// PadForSealing appends only the end marker 0x80, for a plaintext whose
// ciphertext is padded again before the server sees it: Sky's sealed
// envelopes are padded to the server's sealed sizes, and padding twice to
// coarse buckets would compound (a 4 KiB text would take 64 KiB instead of
// 16 KiB). Unpad removes it like Pad's. A b too large for the last bucket is
// an error.
func PadForSealing(b []byte) ([]byte, error) {
	if len(b) >= MaxPadded {
		return nil, fmt.Errorf("%w: %d bytes do not fit the largest bucket (%d)", ErrMalformed, len(b), MaxPadded)
	}
	return append(append(make([]byte, 0, len(b)+1), b...), 0x80), nil
}

// Unpad removes what Pad or PadForSealing added. The padding is checked: after the last
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

// Open removes the padding from a decrypted message and decodes what is
// left: the plaintext (kept as the message's stored form) and its content.
// Errors are those of Unpad and Decode (ErrUnsupported for a newer format).
func Open(padded []byte) ([]byte, *Content, error) {
	plain, err := Unpad(padded)
	if err != nil {
		return nil, nil, err
	}
	ct, err := Decode(plain)
	return plain, ct, err
}
