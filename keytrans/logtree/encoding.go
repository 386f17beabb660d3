package logtree

import "errors"

// EncodeProof writes a proof as a count byte then the hashes.
func EncodeProof(p []Hash) []byte {
	b := make([]byte, 1, 1+32*len(p))
	b[0] = byte(len(p))
	for _, h := range p {
		b = append(b, h[:]...)
	}
	return b
}

// DecodeProof reads what EncodeProof wrote, refusing more than MaxProofLen
// hashes and any byte too many or too few.
func DecodeProof(b []byte) ([]Hash, error) {
	if len(b) < 1 || int(b[0]) > MaxProofLen || len(b) != 1+32*int(b[0]) {
		return nil, errors.New("logtree: malformed proof encoding")
	}
	p := make([]Hash, b[0])
	for i := range p {
		copy(p[i][:], b[1+32*i:])
	}
	return p, nil
}
