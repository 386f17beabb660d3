package content

import (
	"errors"
	"strings"
	"testing"
)

func actionSample(k Kind) *Content {
	c := sample(KindText)
	c.Kind, c.Text, c.Timer, c.AccessKey, c.Target = k, "", 0, nil, ID{7}
	switch k {
	case KindReaction:
		c.Text = "👍🏽"
	case KindEdit:
		c.Text, c.GroupID = "fixed", GroupID{4}
	}
	return c
}

// TestActions: quotes and the three action kinds round-trip; what Check
// refuses of them.
func TestActions(t *testing.T) {
	quoted := sample(KindText)
	quoted.Quote = &Quote{ID: ID{5}, Excerpt: "é" + strings.Repeat("x", 150)}
	gq := groupSample(KindGroupText)
	gq.Quote = &Quote{ID: ID{6}}
	for _, c := range []*Content{quoted, gq, actionSample(KindReaction), actionSample(KindEdit), actionSample(KindDelete)} {
		b, err := Encode(c)
		if err != nil {
			t.Fatalf("%s: %v", c.Kind, err)
		}
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("%s: %v", c.Kind, err)
		}
		if got.Kind != c.Kind || got.Target != c.Target || got.Text != c.Text || got.GroupID != c.GroupID ||
			(c.Quote == nil) != (got.Quote == nil) || (c.Quote != nil && *c.Quote != *got.Quote) {
			t.Errorf("%s: round trip changed it:\n got %+v\nwant %+v", c.Kind, *got, *c)
		}
	}
	for name, c := range map[string]*Content{
		"no target":        func() *Content { c := actionSample(KindDelete); c.Target = ID{}; return c }(),
		"text on a delete": func() *Content { c := actionSample(KindDelete); c.Text = "x"; return c }(),
		"empty edit":       func() *Content { c := actionSample(KindEdit); c.Text = ""; return c }(),
		"long reaction":    func() *Content { c := actionSample(KindReaction); c.Text = strings.Repeat("🙂", 9); return c }(),
		"no seq":           func() *Content { c := actionSample(KindReaction); c.Seq = 0; return c }(),
		"quote on action":  func() *Content { c := actionSample(KindReaction); c.Quote = &Quote{ID: ID{1}}; return c }(),
		"long excerpt": func() *Content {
			c := sample(KindText)
			c.Quote = &Quote{ID: ID{1}, Excerpt: strings.Repeat("x", 201)}
			return c
		}(),
		"quote without ID": func() *Content { c := sample(KindText); c.Quote = &Quote{Excerpt: "x"}; return c }(),
	} {
		if _, err := Encode(c); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if e := Excerpt(strings.Repeat("é", 150)); len(e) != 200 || !strings.HasSuffix(e, "é") {
		t.Errorf("Excerpt cut %d bytes", len(e))
	}
}
