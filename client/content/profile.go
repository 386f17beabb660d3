package content

import (
	"bytes"
	"fmt"
	"unicode"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
)

// Profiles and typing indicators (packages client/profile and
// client/typing). Both travel only inside the 1:1 session with a contact or
// with a member of a group both are in (GroupID set then), so the server
// sees one more padded ciphertext and nothing else.
//
//   - KindProfile: the sender's profile as it is now (a display name and an
//     avatar image, both optional), with a version that only grows, so the
//     newest one wins whatever order they arrive in. It takes a sequence
//     number, like an action.
//   - KindTyping: the sender started (Typing true) or stopped typing in
//     the conversation. It takes no sequence number: it is never shown or
//     stored, and a lost one changes nothing.
const (
	KindProfile Kind = 40
	KindTyping  Kind = 41
)

// Limits of a profile.
const (
	// MaxProfileNameBytes and MaxProfileNameRunes bound a display name.
	MaxProfileNameBytes = 256
	MaxProfileNameRunes = 64
	// MaxAvatarBytes bounds an avatar image (a 256x256 JPEG is about
	// 20 KiB), so a profile fits a 64 KiB bucket.
	MaxAvatarBytes = 48 << 10
)

// Profile is the body of a KindProfile.
type Profile struct {
	Version    uint64
	Name       string // empty: none
	Avatar     []byte // JPEG, PNG or WebP; empty: none
	AvatarType string // "image/jpeg", "image/png" or "image/webp"; empty without an avatar
}

// Format hides the name and image under every fmt verb.
func (p Profile) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "content.Profile{v%d, %d name bytes, %d avatar bytes}", p.Version, len(p.Name), len(p.Avatar))
}

// Field numbers of a profile body: 1 version, 2 name, 3 avatar, 4 avatar
// type, 5 group ID; of a typing body: 1 started (0 or 1), 2 group ID.
const (
	pVersion    = 1
	pName       = 2
	pAvatar     = 3
	pAvatarType = 4
	pGroup      = 5

	tStarted = 1
	tGroup   = 2
)

// AvatarType returns the type of an avatar image by its first bytes
// ("image/jpeg", "image/png" or "image/webp"), or "" for anything else.
func AvatarType(b []byte) string {
	switch {
	case bytes.HasPrefix(b, []byte{0xff, 0xd8, 0xff}):
		return "image/jpeg"
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return "image/png"
	case len(b) >= 12 && bytes.Equal(b[:4], []byte("RIFF")) && bytes.Equal(b[8:12], []byte("WEBP")):
		return "image/webp"
	}
	return ""
}

// CheckProfileName reports whether name can be a display name: UTF-8 of
// at most MaxProfileNameBytes and MaxProfileNameRunes, without control or
// format characters (no line breaks, no direction overrides) and without
// space at either end.
func CheckProfileName(name string) error {
	if len(name) > MaxProfileNameBytes || !utf8.ValidString(name) || utf8.RuneCountInString(name) > MaxProfileNameRunes {
		return fmt.Errorf("%w: a display name is UTF-8 text of at most %d characters", ErrMalformed, MaxProfileNameRunes)
	}
	for _, r := range name {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError {
			return fmt.Errorf("%w: a display name has no control or format characters", ErrMalformed)
		}
	}
	first, _ := utf8.DecodeRuneInString(name)
	last, _ := utf8.DecodeLastRuneInString(name)
	if name != "" && (unicode.IsSpace(first) || unicode.IsSpace(last)) {
		return fmt.Errorf("%w: a display name does not start or end with space", ErrMalformed)
	}
	return nil
}

// Check reports whether p is a well formed profile.
func (p *Profile) Check() error {
	if p.Version == 0 {
		return malformed("a profile without a version")
	}
	if err := CheckProfileName(p.Name); err != nil {
		return err
	}
	switch {
	case len(p.Avatar) > MaxAvatarBytes:
		return malformed("the avatar is too large")
	case len(p.Avatar) == 0 && p.AvatarType != "":
		return malformed("an avatar type without an avatar")
	case len(p.Avatar) > 0 && AvatarType(p.Avatar) != p.AvatarType:
		return malformed("the avatar is not the image type it claims (JPEG, PNG or WebP)")
	}
	return nil
}

// checkPresence checks a profile or typing content.
func (c *Content) checkPresence() error {
	switch {
	case len(c.Attachments) > 0 || c.Quote != nil || c.Text != "":
		return malformed("attachments, a quote or text on a profile or typing indicator")
	case c.Kind == KindProfile && c.Seq == 0:
		return malformed("a profile without a sequence number")
	case c.Kind == KindTyping && c.Seq != 0:
		return malformed("a typing indicator with a sequence number")
	case c.Kind == KindProfile && c.Profile == nil:
		return malformed("a profile content without a profile")
	case c.Kind == KindTyping && c.Profile != nil:
		return malformed("a typing indicator with a profile")
	}
	if c.Kind == KindProfile {
		return c.Profile.Check()
	}
	return nil
}

func appendPresenceBody(b []byte, c *Content) []byte {
	if c.Kind == KindTyping {
		started := uint64(0)
		if c.Typing {
			started = 1
		}
		b = appendVarint(b, tStarted, started)
		if c.GroupID != (GroupID{}) {
			b = appendBytes(b, tGroup, c.GroupID[:])
		}
		return b
	}
	p := c.Profile
	b = appendVarint(b, pVersion, p.Version)
	if p.Name != "" {
		b = appendString(b, pName, p.Name)
	}
	if len(p.Avatar) > 0 {
		b = appendBytes(b, pAvatar, p.Avatar)
		b = appendString(b, pAvatarType, p.AvatarType)
	}
	if c.GroupID != (GroupID{}) {
		b = appendBytes(b, pGroup, c.GroupID[:])
	}
	return b
}

func decodePresenceBody(c *Content, b []byte) error {
	if c.Kind == KindProfile {
		c.Profile = new(Profile)
	}
	var seen uint64
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return malformed("bad tag in a profile or typing body")
		}
		b = b[n:]
		if num < 64 {
			if seen&(1<<num) != 0 {
				return malformed("profile or typing field repeated")
			}
			seen |= 1 << num
		}
		var err error
		if c.Kind == KindTyping {
			err = decodeTypingField(c, num, typ, &b)
		} else {
			err = decodeProfileField(c, num, typ, &b)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func decodeTypingField(c *Content, num protowire.Number, typ protowire.Type, b *[]byte) error {
	switch num {
	case tStarted:
		v, err := consumeVarint(b, typ)
		if err != nil {
			return err
		}
		if v > 1 {
			return malformed("typing is started (1) or stopped (0)")
		}
		c.Typing = v == 1
	case tGroup:
		return consumeGroupID(c, typ, b)
	default:
		return skipField(num, typ, b)
	}
	return nil
}

func decodeProfileField(c *Content, num protowire.Number, typ protowire.Type, b *[]byte) error {
	p := c.Profile
	switch num {
	case pVersion:
		v, err := consumeVarint(b, typ)
		if err != nil {
			return err
		}
		p.Version = v
	case pName, pAvatar, pAvatarType:
		v, err := consumeBytes(b, typ)
		if err != nil {
			return err
		}
		switch num {
		case pName:
			p.Name = string(v)
		case pAvatar:
			if len(v) == 0 || len(v) > MaxAvatarBytes {
				return malformed("avatar size")
			}
			p.Avatar = append([]byte(nil), v...)
		default:
			p.AvatarType = string(v)
		}
	case pGroup:
		return consumeGroupID(c, typ, b)
	default:
		return skipField(num, typ, b)
	}
	return nil
}

func consumeGroupID(c *Content, typ protowire.Type, b *[]byte) error {
	v, err := consumeBytes(b, typ)
	if err != nil {
		return err
	}
	if len(v) != GroupIDSize {
		return malformed("group ID size")
	}
	copy(c.GroupID[:], v)
	return nil
}

func profileSize(c *Content) int {
	if c.Profile == nil {
		return 0
	}
	return len(c.Profile.Name) + len(c.Profile.Avatar) + 32
}
