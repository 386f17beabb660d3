package content

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

var pngHead = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")

func profileSample() *Content {
	c := sample(KindText)
	c.Kind, c.Text, c.Timer = KindProfile, "", 0
	c.Profile = &Profile{Version: 3, Name: "Alice Ω", Avatar: pngHead, AvatarType: "image/png"}
	return c
}

func typingSample() *Content {
	c := sample(KindText)
	c.Kind, c.Text, c.Timer, c.Seq, c.Typing, c.GroupID = KindTyping, "", 0, 0, true, GroupID{9}
	return c
}

// TestPresence: profiles and typing indicators round-trip, and what Check
// and Decode refuse of them.
func TestPresence(t *testing.T) {
	for _, c := range []*Content{profileSample(), typingSample()} {
		b, err := Encode(c)
		if err != nil {
			t.Fatalf("%s: %v", c.Kind, err)
		}
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("%s: %v", c.Kind, err)
		}
		if !reflect.DeepEqual(got.Profile, c.Profile) || got.Typing != c.Typing || got.GroupID != c.GroupID {
			t.Errorf("%s: round trip changed it", c.Kind)
		}
	}
	bad := map[string]func(*Content){
		"no version":          func(c *Content) { c.Profile.Version = 0 },
		"no seq":              func(c *Content) { c.Seq = 0 },
		"newline in name":     func(c *Content) { c.Profile.Name = "Bob\nAlice" },
		"direction override":  func(c *Content) { c.Profile.Name = "Bob\u202eecilA" },
		"leading space":       func(c *Content) { c.Profile.Name = " Alice" },
		"ideographic space":   func(c *Content) { c.Profile.Name = "Alice\u3000" },
		"name too long":       func(c *Content) { c.Profile.Name = strings.Repeat("é", MaxProfileNameRunes+1) },
		"not UTF-8":           func(c *Content) { c.Profile.Name = "\xff" },
		"avatar too large":    func(c *Content) { c.Profile.Avatar = append(pngHead, make([]byte, MaxAvatarBytes)...) },
		"avatar lies":         func(c *Content) { c.Profile.AvatarType = "image/jpeg" },
		"avatar not an image": func(c *Content) { c.Profile.Avatar, c.Profile.AvatarType = []byte("<svg>"), "image/svg+xml" },
		"type without avatar": func(c *Content) { c.Profile.Avatar = nil },
		"text on a profile":   func(c *Content) { c.Text = "hi" },
		"no profile":          func(c *Content) { c.Profile = nil },
	}
	for name, mutate := range bad {
		c := profileSample()
		mutate(c)
		if _, err := Encode(c); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: Encode = %v, want ErrMalformed", name, err)
		}
	}
	ty := typingSample()
	ty.Seq = 4
	if _, err := Encode(ty); !errors.Is(err, ErrMalformed) {
		t.Errorf("typing with a sequence number: Encode = %v", err)
	}
	// A typing body with started = 2 and a repeated field are refused.
	good, _ := Encode(typingSample())
	body := appendPresenceBody(nil, typingSample())
	head := good[:len(good)-len(body)-protowire.SizeTag(protowire.Number(KindTyping))-protowire.SizeVarint(uint64(len(body)))]
	for name, body := range map[string][]byte{"started 2": {0x08, 0x02}, "repeated": {0x08, 0x01, 0x08, 0x00}} {
		b := protowire.AppendTag(append([]byte(nil), head...), protowire.Number(KindTyping), protowire.BytesType)
		b = protowire.AppendBytes(b, body)
		if _, err := Decode(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: Decode = %v, want ErrMalformed", name, err)
		}
	}
	// The head cut above is right: the same head with a good body decodes.
	b := protowire.AppendTag(append([]byte(nil), head...), protowire.Number(KindTyping), protowire.BytesType)
	if _, err := Decode(protowire.AppendBytes(b, []byte{0x08, 0x00})); err != nil {
		t.Errorf("a good typing body: %v", err)
	}
}
