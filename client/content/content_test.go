package content

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

var t0 = time.UnixMilli(1_790_000_000_123)

func sample(kind Kind) *Content {
	c := &Content{Version: Version, Sender: "abcdefghjk", SenderDevice: 1, Recipient: "mnpqrstuvw", ID: ID{1, 2, 3}, SentAt: t0, Kind: kind}
	switch kind {
	case KindText:
		c.Seq, c.Text, c.Timer = 7, "héllo, Bob", 30*time.Second
		c.AccessKey = bytes.Repeat([]byte{0xAC}, AccessKeySize)
		c.DirectoryHead = bytes.Repeat([]byte{0xD1}, DirectoryHeadSize)
	case KindTimerChange:
		c.Seq, c.Timer, c.TimerV = 8, time.Hour, 3
	case KindReceipt:
		c.Receipt, c.IDs = Read, []ID{{9}, {10}}
	}
	return c
}

func TestRoundTrip(t *testing.T) {
	for _, c := range []*Content{sample(KindText), sample(KindTimerChange), sample(KindReceipt), func() *Content {
		c := sample(KindText)
		c.Text, c.Timer = "", 0 // empty text, timer off
		return c
	}()} {
		b, err := Encode(c)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("%s: %v", c.Kind, err)
		}
		if fmt.Sprint(got.IDs) != fmt.Sprint(c.IDs) || got.Text != c.Text || got.Timer != c.Timer || got.TimerV != c.TimerV ||
			got.Receipt != c.Receipt || got.Seq != c.Seq || !got.SentAt.Equal(c.SentAt) || got.ID != c.ID ||
			got.Sender != c.Sender || got.Recipient != c.Recipient || got.SenderDevice != c.SenderDevice || got.Kind != c.Kind ||
			!bytes.Equal(got.AccessKey, c.AccessKey) || !bytes.Equal(got.DirectoryHead, c.DirectoryHead) {
			t.Errorf("%s: round trip changed the content:\n got %+v\nwant %+v", c.Kind, *got, *c)
		}
	}
}

func TestEncodeRefuses(t *testing.T) {
	for name, mutate := range map[string]func(*Content){
		"no sender":            func(c *Content) { c.Sender = "" },
		"long sender":          func(c *Content) { c.Sender = strings.Repeat("a", 65) },
		"no recipient":         func(c *Content) { c.Recipient = "" },
		"no device":            func(c *Content) { c.SenderDevice = 0 },
		"no ID":                func(c *Content) { c.ID = ID{} },
		"no time":              func(c *Content) { c.SentAt = time.Time{} },
		"timer too short":      func(c *Content) { c.Timer = 4 * time.Second },
		"timer too long":       func(c *Content) { c.Timer = MaxTimer + time.Second },
		"text not UTF-8":       func(c *Content) { c.Text = "\xff" },
		"text too long":        func(c *Content) { c.Text = strings.Repeat("a", MaxTextBytes+1) },
		"text without seq":     func(c *Content) { c.Seq = 0 },
		"unknown kind":         func(c *Content) { c.Kind = 42 },
		"short access key":     func(c *Content) { c.AccessKey = make([]byte, 31) },
		"short directory head": func(c *Content) { c.DirectoryHead = make([]byte, 147) },
	} {
		c := sample(KindText)
		mutate(c)
		if _, err := Encode(c); err == nil {
			t.Errorf("%s: encoded", name)
		}
	}
	r := sample(KindReceipt)
	r.IDs = nil
	if _, err := Encode(r); !errors.Is(err, ErrMalformed) {
		t.Errorf("empty receipt: %v", err)
	}
}

// raw builds encodings by hand, for inputs Encode cannot make.
func raw(fields ...func([]byte) []byte) []byte {
	var b []byte
	for _, f := range fields {
		b = f(b)
	}
	return b
}

func v(num protowire.Number, x uint64) func([]byte) []byte {
	return func(b []byte) []byte { return appendVarint(b, num, x) }
}

func s(num protowire.Number, x []byte) func([]byte) []byte {
	return func(b []byte) []byte { return appendBytes(b, num, x) }
}

func header() []func([]byte) []byte {
	return []func([]byte) []byte{v(fVersion, 1), s(fSender, []byte("a")), v(fSenderDevice, 1), s(fRecipient, []byte("b")),
		s(fID, bytes.Repeat([]byte{1}, 16)), v(fSentAt, 1000), v(fSeq, 1)}
}

func TestDecode(t *testing.T) {
	text := s(firstBody, raw(s(fTextBody, []byte("hi"))))
	for _, tc := range []struct {
		name string
		in   []byte
		want error // nil: decodes
	}{
		{"minimal text", raw(append(header(), text)...), nil},
		{"unknown field skipped", raw(append(header(), v(200, 5), text)...), nil},
		{"newer version", raw(append([]func([]byte) []byte{v(fVersion, 2)}, append(header()[1:], text)...)...), ErrUnsupported},
		{"unknown body", raw(append(header(), s(99, nil))...), ErrUnsupported},
		{"no body", raw(header()...), ErrMalformed},
		{"two bodies", raw(append(header(), text, text)...), ErrMalformed},
		{"repeated field", raw(append(header(), v(fSeq, 2), text)...), ErrMalformed},
		{"no version", raw(append(header()[1:], text)...), ErrMalformed},
		{"version 0", raw(append([]func([]byte) []byte{v(fVersion, 0)}, append(header()[1:], text)...)...), ErrMalformed},
		{"short ID", raw(append(append(header()[:4], s(fID, []byte{1})), text)...), ErrMalformed},
		{"access key", raw(append(header(), s(fAccessKey, make([]byte, 32)), text)...), nil},
		{"short access key", raw(append(header(), s(fAccessKey, make([]byte, 31)), text)...), ErrMalformed},
		{"access key twice", raw(append(header(), s(fAccessKey, make([]byte, 32)), s(fAccessKey, make([]byte, 32)), text)...), ErrMalformed},
		{"directory head", raw(append(header(), s(fDirHead, make([]byte, DirectoryHeadSize)), text)...), nil},
		{"short directory head", raw(append(header(), s(fDirHead, make([]byte, DirectoryHeadSize-1)), text)...), ErrMalformed},
		{"directory head twice", raw(append(header(), s(fDirHead, make([]byte, DirectoryHeadSize)), s(fDirHead, make([]byte, DirectoryHeadSize)), text)...), ErrMalformed},
		{"wrong wire type", raw(append(header(), s(fSeq, []byte{1}), text)...), ErrMalformed},
		{"truncated", raw(append(header(), text)...)[:20], ErrMalformed},
		{"empty", nil, ErrMalformed},
		{"timer 3 s", raw(append(header(), s(firstBody, raw(s(fTextBody, []byte("x")), v(fTextTimer, 3))))...), ErrMalformed},
		{"huge timer", raw(append(header(), s(firstBody, raw(v(fTextTimer, 1<<40))))...), ErrMalformed},
		{"receipt with short ID", raw(append(header()[:6], s(12, raw(v(fReceiptType, 1), s(fReceiptIDs, []byte{1}))))...), ErrMalformed},
		{"receipt with seq", raw(append(header(), s(12, raw(v(fReceiptType, 1), s(fReceiptIDs, make([]byte, 16)))))...), ErrMalformed},
		{"receipt", raw(append(header()[:6], s(12, raw(v(fReceiptType, 1), s(fReceiptIDs, make([]byte, 16)), s(fReceiptIDs, make([]byte, 16)))))...), nil},
	} {
		_, err := Decode(tc.in)
		if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestPad(t *testing.T) {
	for _, n := range []int{0, 1, 255, 256, 1000, 1023, 1024, 100 << 10, MaxPadded - 1} {
		in := bytes.Repeat([]byte{0x80}, n) // the marker byte itself inside the data
		p, err := Pad(in)
		if err != nil {
			t.Fatal(n, err)
		}
		want := 0
		for _, b := range Buckets {
			if n < b {
				want = b
				break
			}
		}
		if len(p) != want {
			t.Errorf("%d bytes padded to %d, want %d", n, len(p), want)
		}
		out, err := Unpad(p)
		if err != nil || !bytes.Equal(out, in) {
			t.Errorf("%d bytes: unpad gave %d bytes, %v", n, len(out), err)
		}
	}
	if _, err := Pad(make([]byte, MaxPadded)); err == nil {
		t.Error("padded more than the largest bucket")
	}
	for _, bad := range [][]byte{nil, {0, 0}, {1, 2}, {0x80, 1}, {0x80, 0, 7, 0}} {
		if _, err := Unpad(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("Unpad(%x): %v", bad, err)
		}
	}
}

func TestPadForSealing(t *testing.T) {
	for _, n := range []int{0, 1, 255, 256, 70000} {
		b := bytes.Repeat([]byte{7}, n)
		p, err := PadForSealing(b)
		if err != nil || len(p) != n+1 {
			t.Fatalf("PadForSealing(%d bytes) = %d bytes, %v", n, len(p), err)
		}
		if u, err := Unpad(p); err != nil || !bytes.Equal(u, b) {
			t.Fatalf("Unpad after PadForSealing(%d bytes): %v", n, err)
		}
	}
	if _, err := PadForSealing(make([]byte, MaxPadded)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("PadForSealing of the largest bucket: %v", err)
	}
}

func TestFormatHidesText(t *testing.T) {
	c := sample(KindText)
	c.Text = "canary-7f3a"
	c.AccessKey = bytes.Repeat([]byte{0xa7}, AccessKeySize)
	g := Group{Version: 3, Name: "canary-group", Members: []string{"a", "b"}, Admins: []string{"a"},
		AccessKeys:   []MemberKey{{ID: "b", Key: bytes.Repeat([]byte{0xa7}, AccessKeySize)}},
		Distribution: bytes.Repeat([]byte{0xa7}, 64)}
	type holder struct { // a struct holding them by value (fmt formats exported fields with their own Format)
		C Content
		G Group
		K []MemberKey
	}
	type embedder struct{ Group }
	secrets := []string{"canary", fmt.Sprintf("%x", "canary"), "a7a7a7a7", "167 167 167 167", "0xa7, 0xa7", `\xa7\xa7`, "\xa7"}
	for _, v := range []any{*c, c, g, &g, g.AccessKeys[0], g.AccessKeys, holder{*c, g, g.AccessKeys}, &holder{*c, g, g.AccessKeys}, embedder{g}} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q", "%d"} {
			out := fmt.Sprintf(verb, v)
			for _, s := range secrets {
				if strings.Contains(out, s) {
					t.Errorf("Sprintf(%s, %T) shows a secret or the text: %s", verb, v, out)
				}
			}
		}
	}
}

func TestParseID(t *testing.T) {
	id := ID{0xde, 0xad, 15: 0xff}
	got, err := ParseID(id.String())
	if err != nil || got != id {
		t.Fatalf("ParseID(%s) = %x, %v", id, got, err)
	}
	for _, bad := range []string{"", "zz", strings.Repeat("g", 32), strings.Repeat("a", 31)} {
		if _, err := ParseID(bad); err == nil {
			t.Errorf("ParseID(%q) accepted", bad)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, k := range []Kind{KindText, KindTimerChange, KindReceipt} {
		b, _ := Encode(sample(k))
		f.Add(b)
	}
	for _, k := range groupKinds {
		b, _ := Encode(groupSample(k))
		f.Add(b)
	}
	for _, k := range []Kind{KindReaction, KindEdit, KindDelete} {
		b, _ := Encode(actionSample(k))
		f.Add(b)
	}
	for _, c := range []*Content{profileSample(), typingSample()} {
		b, _ := Encode(c)
		f.Add(b)
	}
	q := sample(KindText)
	q.Quote = &Quote{ID: ID{5}, Excerpt: "earlier"}
	b, _ := Encode(q)
	f.Add(b)
	for _, c := range grouprxSamples() {
		b, _ := Encode(c)
		f.Add(b)
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Decode(b)
		if err != nil {
			return
		}
		// whatever decodes must encode again and decode to the same thing
		b2, err := Encode(c)
		if err != nil {
			t.Fatalf("decoded content does not encode: %v", err)
		}
		c2, err := Decode(b2)
		if err != nil {
			t.Fatalf("re-encoded content does not decode: %v", err)
		}
		b3, _ := Encode(c2)
		if !bytes.Equal(b2, b3) {
			t.Fatal("encoding is not stable")
		}
	})
}

func FuzzUnpad(f *testing.F) {
	p, _ := Pad([]byte("hello"))
	f.Add(p)
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := Unpad(b)
		if err != nil {
			return
		}
		if len(out) >= len(b) || b[len(out)] != 0x80 {
			t.Fatal("unpadded without a marker")
		}
	})
}

// TestGroupReceiptsContent: a receipt naming a group and the admins'
// receipts switch round-trip; a bad setting or a switch without a group
// does not encode.
func TestGroupReceiptsContent(t *testing.T) {
	base := func(k Kind) *Content {
		return &Content{Version: Version, Sender: "alice", SenderDevice: 1, Recipient: "bob", ID: ID{1}, SentAt: time.UnixMilli(1700000000000), Kind: k}
	}
	rc := base(KindReceipt)
	rc.Receipt, rc.IDs, rc.GroupID = Read, []ID{{2}, {3}}, GroupID{9}
	sw := base(KindGroupReceipts)
	sw.Seq, sw.GroupID, sw.Receipts = 4, GroupID{9}, ReceiptsOff
	for _, c := range []*Content{rc, sw} {
		b, err := Encode(c)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(b)
		if err != nil || got.GroupID != c.GroupID || got.Receipts != c.Receipts || len(got.IDs) != len(c.IDs) {
			t.Fatalf("%s: %+v, %v", c.Kind, got, err)
		}
	}
	bad := *sw
	bad.Receipts = 3
	if _, err := Encode(&bad); err == nil {
		t.Fatal("an unknown receipts setting encoded")
	}
	bad = *sw
	bad.GroupID = GroupID{}
	if _, err := Encode(&bad); err == nil {
		t.Fatal("a receipts switch without a group encoded")
	}
}

// TestBroadcastContent: a broadcast list's key and text round-trip; a
// text without its list, or naming a recipient, does not encode.
func TestBroadcastContent(t *testing.T) {
	key := &Content{Version: Version, Sender: "alice", SenderDevice: 1, Recipient: "bob", ID: ID{1}, SentAt: time.UnixMilli(1700000000000), Seq: 3,
		Kind: KindBroadcastKey, GroupID: GroupID{7}, Distribution: []byte("distribution"), NextSeq: 5}
	text := &Content{Version: Version, Sender: "alice", SenderDevice: 1, ID: ID{2}, SentAt: time.UnixMilli(1700000000000), Seq: 5,
		Kind: KindBroadcastText, GroupID: GroupID{7}, Text: "to the list", Timer: 30 * time.Second}
	for _, c := range []*Content{key, text} {
		b, err := Encode(c)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(b)
		if err != nil || got.GroupID != c.GroupID || got.Text != c.Text || got.Timer != c.Timer || string(got.Distribution) != string(c.Distribution) || got.NextSeq != c.NextSeq {
			t.Fatalf("%s: %+v, %v", c.Kind, got, err)
		}
	}
	bad := *text
	bad.GroupID = GroupID{}
	if _, err := Encode(&bad); err == nil {
		t.Fatal("a broadcast text without its list encoded")
	}
	bad = *text
	bad.Recipient = "bob"
	if _, err := Encode(&bad); err == nil {
		t.Fatal("a broadcast text naming a recipient encoded")
	}
}

// grouprxSamples are a receipt naming a group, a receipts switch, a
// broadcast list's key and text, and a shared group update (no recipient).
func grouprxSamples() []*Content {
	at := time.UnixMilli(1700000000000)
	rc := &Content{Version: Version, Sender: "alice", SenderDevice: 1, Recipient: "bob", ID: ID{1}, SentAt: at, Kind: KindReceipt, Receipt: Read, IDs: []ID{{2}}, GroupID: GroupID{9}}
	sw := &Content{Version: Version, Sender: "alice", SenderDevice: 1, Recipient: "bob", ID: ID{1}, SentAt: at, Seq: 2, Kind: KindGroupReceipts, GroupID: GroupID{9}, Receipts: ReceiptsOff}
	bk := &Content{Version: Version, Sender: "alice", SenderDevice: 1, Recipient: "bob", ID: ID{1}, SentAt: at, Seq: 3, Kind: KindBroadcastKey, GroupID: GroupID{7}, Distribution: []byte("dist"), NextSeq: 1}
	bt := &Content{Version: Version, Sender: "alice", SenderDevice: 1, ID: ID{1}, SentAt: at, Seq: 1, Kind: KindBroadcastText, GroupID: GroupID{7}, Text: "all"}
	up := groupSample(KindGroupUpdate)
	up.Recipient = ""
	return []*Content{rc, sw, bk, bt, up}
}
