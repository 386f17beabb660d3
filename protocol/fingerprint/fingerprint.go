// Package fingerprint computes safety numbers, the values two people compare
// to check that no one sits between them, exactly as libsignal does: the
// 60-digit displayable form and the scannable (QR code) form.
//
// Each party's half is an iterated SHA-512 over its identity key and its
// identifier: h0 = SHA-512(0x00 0x00 || key || id || key), then
// h(i) = SHA-512(h(i-1) || key) up to the iteration count (Signal apps use
// 5200 iterations, identifier = the 16-byte ACI UUID, version 2). Thirty
// digits come from the first 30 bytes, five digits per 5 bytes (a 40-bit
// big-endian number mod 100000). The displayable number joins the two
// halves, smaller first, so both parties see the same 60 digits.
package fingerprint

import (
	"crypto/sha512"
	"crypto/subtle"
	"fmt"

	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/internal/errs"
	"github.com/skymsg/sky/protocol/internal/pb"
)

// Iterations and Version are what the Signal apps use.
const (
	Iterations = 5200
	Version    = 2
)

// Fingerprint is the safety number of a pair of identities, from one side.
type Fingerprint struct {
	// Displayable is the 60-digit safety number, the same on both sides.
	Displayable string
	// Scannable is the QR code content (a CombinedFingerprints protobuf):
	// version, then this side's and the other side's 32-byte halves.
	Scannable []byte
}

// New computes the fingerprint of (localID, localKey) and (remoteID,
// remoteKey). iterations must be in 2..1,000,000.
func New(version, iterations uint32, localID []byte, localKey curve.PublicKey, remoteID []byte, remoteKey curve.PublicKey) (Fingerprint, error) {
	if iterations <= 1 || iterations > 1_000_000 {
		return Fingerprint{}, errs.Newf(errs.InvalidKey, "fingerprint iteration count %d is outside 2..1000000", iterations)
	}
	local := hashIdentity(iterations, localID, localKey)
	remote := hashIdentity(iterations, remoteID, remoteKey)
	l, r := digits(local[:]), digits(remote[:])
	display := r + l
	if l < r {
		display = l + r
	}
	return Fingerprint{Displayable: display, Scannable: scannable(version, local[:32], remote[:32])}, nil
}

func hashIdentity(iterations uint32, id []byte, key curve.PublicKey) [sha512.Size]byte {
	k := key.Bytes()
	h := sha512.New()
	h.Write([]byte{0, 0})
	h.Write(k)
	h.Write(id)
	h.Write(k)
	var buf [sha512.Size]byte
	h.Sum(buf[:0])
	for i := uint32(1); i < iterations; i++ {
		h.Reset()
		h.Write(buf[:])
		h.Write(k)
		h.Sum(buf[:0])
	}
	return buf
}

func digits(h []byte) string {
	s := make([]byte, 0, 30)
	for i := 0; i < 6; i++ {
		var x uint64
		for _, b := range h[5*i : 5*i+5] {
			x = x<<8 | uint64(b)
		}
		s = fmt.Appendf(s, "%05d", x%100000)
	}
	return string(s)
}

// scannable encodes CombinedFingerprints {1: version, 2: {1: local}, 3: {1: remote}}.
func scannable(version uint32, local, remote []byte) []byte {
	b := pb.AppendUint64(nil, 1, uint64(version))
	b = pb.AppendMessage(b, 2, func(b []byte) []byte { return pb.AppendBytes(b, 1, local) })
	return pb.AppendMessage(b, 3, func(b []byte) []byte { return pb.AppendBytes(b, 1, remote) })
}

// Compare reports whether the scannable fingerprint theirs, scanned from the
// other party's screen, matches ours: same version, their local half is our
// remote half and the other way round. A malformed input is an error; a
// different version is an error that says so.
func Compare(ours, theirs []byte) (bool, error) {
	ov, ol, or, err := parseScannable(ours)
	if err != nil {
		return false, err
	}
	tv, tl, tr, err := parseScannable(theirs)
	if err != nil {
		return false, err
	}
	if ov != tv {
		return false, errs.Newf(errs.InvalidKey, "fingerprint versions differ (theirs %d, ours %d); both sides must update", tv, ov)
	}
	return subtle.ConstantTimeCompare(tl, or)&subtle.ConstantTimeCompare(tr, ol) == 1, nil
}

func parseScannable(b []byte) (version uint32, local, remote []byte, err error) {
	r := pb.NewReader(b)
	var hasVersion bool
	for {
		num, ok := r.Next()
		if !ok {
			break
		}
		switch num {
		case 1:
			version, hasVersion = r.Uint32(), true
		case 2, 3:
			inner := pb.NewReader(r.Bytes())
			var content []byte
			for {
				n, ok := inner.Next()
				if !ok {
					break
				}
				if n == 1 {
					content = inner.Bytes()
				} else {
					inner.Skip(n)
				}
			}
			if inner.Err() != nil || content == nil {
				return 0, nil, nil, errs.New(errs.InvalidKey, "scannable fingerprint half malformed or missing")
			}
			if num == 2 {
				local = content
			} else {
				remote = content
			}
		default:
			r.Skip(num)
		}
	}
	if r.Err() != nil || !hasVersion || local == nil || remote == nil {
		return 0, nil, nil, errs.New(errs.InvalidKey, "scannable fingerprint malformed")
	}
	return version, local, remote, nil
}
