package interop

import "fmt"

// Scannable is a parsed scannable safety number (libsignal's
// CombinedFingerprints message): a version and the two 32-byte halves, the
// local party's first.
type Scannable struct {
	Version uint32
	Local   []byte
	Remote  []byte
}

// ParseScannable parses the scannable form of a safety number.
func ParseScannable(b []byte) (Scannable, error) {
	var s Scannable
	_, err := eachField("scannable fingerprint", b, func(f field) (err error) {
		switch f.Num {
		case 1:
			s.Version, err = uint32Field(f, "version")
		case 2, 3:
			var content []byte
			content, err = logicalFingerprint(f)
			if f.Num == 2 {
				s.Local = content
			} else {
				s.Remote = content
			}
		}
		return err
	})
	if err != nil {
		return s, err
	}
	if s.Local == nil || s.Remote == nil {
		return s, fmt.Errorf("scannable fingerprint: local or remote fingerprint missing")
	}
	return s, nil
}

func logicalFingerprint(f field) ([]byte, error) {
	inner, err := bytesField(f, "logical fingerprint", 0)
	if err != nil {
		return nil, err
	}
	fs, err := fields(inner)
	if err != nil {
		return nil, err
	}
	for _, g := range fs {
		if g.Num == 1 {
			return bytesField(g, "fingerprint content", 32)
		}
	}
	return nil, fmt.Errorf("logical fingerprint (field %d) has no content", f.Num)
}

// Matches reports whether s and other are the two sides' views of the same
// safety number: same version, and each side's local half is the other's
// remote half. This is the comparison a phone makes after scanning a QR code.
func (s Scannable) Matches(other Scannable) bool {
	return s.Version == other.Version && string(s.Local) == string(other.Remote) && string(s.Remote) == string(other.Local)
}
