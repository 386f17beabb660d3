package annex

import (
	"bytes"
	"fmt"
	"reflect"
	"testing"
	"time"
)

var t0 = time.UnixMilli(1_790_000_000_000)

// TestAnnex: one reaction per person, a later one replaces it, an older
// one changes nothing, an empty one removes it; edits keep at most MaxEdits
// versions for EditHistory; the encoding round-trips.
func TestAnnex(t *testing.T) {
	var a Annex
	steps := []struct {
		by, emoji string
		at        time.Duration
		changed   bool
	}{
		{"bob", "👍", 1, true}, {"carol", "🎉", 2, true}, {"bob", "❤", 3, true},
		{"bob", "😢", 2, false}, {"carol", "", 4, true}, {"dave", "", 5, false},
	}
	for _, s := range steps {
		if got := a.React(s.by, s.emoji, t0.Add(s.at*time.Second)); got != s.changed {
			t.Errorf("React(%s, %q): changed %v", s.by, s.emoji, got)
		}
	}
	if len(a.Reactions) != 1 || a.Reactions[0].By != "bob" || a.Reactions[0].Emoji != "❤" {
		t.Fatalf("reactions %+v", a.Reactions)
	}
	for i := range MaxEdits + 2 {
		a.Replaced(string(rune('a'+i)), t0.Add(time.Duration(i)*time.Minute), t0)
	}
	if len(a.Edits) != MaxEdits || a.Edits[0].Text != "c" {
		t.Fatalf("edits %+v", a.Edits)
	}
	got, err := Decode(a.Encode())
	if err != nil || !reflect.DeepEqual(got, a) {
		t.Fatalf("round trip: %v\n got %+v\nwant %+v", err, got, a)
	}
	a.Prune(t0.Add(EditHistory + 5*time.Minute + time.Second))
	if len(a.Edits) != MaxEdits-4 {
		t.Fatalf("after EditHistory %d edits kept", len(a.Edits))
	}
	for _, bad := range [][]byte{{0x0a}, {0x0a, 0x02, 0x08, 0x01}, {0x1a, 0x00}, {0x08, 0x01}} {
		if _, err := Decode(bad); err == nil {
			t.Errorf("Decode(%x) accepted", bad)
		}
	}
}

func FuzzDecode(f *testing.F) {
	var a Annex
	a.React("bob", "👍", t0)
	a.Replaced("old", t0, t0)
	a.Confirm("carol", true, t0)
	a.Confirm("dave", false, t0)
	f.Add(a.Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := Decode(b)
		if err != nil {
			return
		}
		b2 := a.Encode()
		a2, err := Decode(b2)
		if err != nil || !bytes.Equal(a2.Encode(), b2) {
			t.Fatalf("re-encoding is not stable: %v", err)
		}
	})
}

// TestConfirm: one receipt per member, moving only forward (delivered,
// then read), at most MaxReceipts members; they survive the encoding.
func TestConfirm(t *testing.T) {
	var a Annex
	steps := []struct {
		by      string
		read    bool
		changed bool
	}{{"bob", false, true}, {"bob", false, false}, {"bob", true, true}, {"bob", false, false}, {"bob", true, false}, {"carol", true, true}}
	for i, s := range steps {
		if got := a.Confirm(s.by, s.read, t0); got != s.changed {
			t.Fatalf("step %d: changed %v", i, got)
		}
	}
	if len(a.Receipts) != 2 || !a.Receipts[0].Read || !a.Receipts[1].Read {
		t.Fatalf("receipts %+v", a.Receipts)
	}
	got, err := Decode(a.Encode())
	if err != nil || !reflect.DeepEqual(got.Receipts, a.Receipts) {
		t.Fatalf("round trip %+v, %v", got.Receipts, err)
	}
	for i := range MaxReceipts {
		a.Confirm(fmt.Sprint("m", i), false, t0)
	}
	if len(a.Receipts) != MaxReceipts || a.Confirm("one too many", true, t0) {
		t.Fatalf("%d receipts kept", len(a.Receipts))
	}
}
