package pointer

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/skymsg/sky/client/attach/blobcrypt"
	"github.com/skymsg/sky/wire"
	"google.golang.org/protobuf/encoding/protowire"
)

func sample() *Pointer {
	p := &Pointer{
		Key: blobcrypt.NewKey(), Size: 5000, Padded: wire.BlobPadded(5000),
		Type: "image/jpeg", Name: "dock 7.jpg", Width: 4032, Height: 3024,
		Preview: []byte{0xff, 0xd8, 1, 2, 3}, Duration: 1500 * time.Millisecond, Caption: "loaded\nat 6",
	}
	p.BlobID[0], p.Digest[0] = 1, 2
	return p
}

func TestRoundTrip(t *testing.T) {
	for _, p := range []*Pointer{sample(), {Key: blobcrypt.NewKey(), Padded: 4096, Type: "application/octet-stream"}} {
		b, err := Encode(p)
		if err != nil {
			t.Fatal(err)
		}
		q, err := Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		if q.Key != p.Key || q.BlobID != p.BlobID || q.Digest != p.Digest || q.Size != p.Size || q.Padded != p.Padded ||
			q.Type != p.Type || q.Name != p.Name || q.Width != p.Width || q.Height != p.Height ||
			!bytes.Equal(q.Preview, p.Preview) || q.Duration != p.Duration || q.Caption != p.Caption {
			t.Fatalf("decoded %#v differs", q)
		}
	}
}

func TestDecodeRefuses(t *testing.T) {
	good, _ := Encode(sample())
	field := func(num protowire.Number, v []byte) []byte {
		b := protowire.AppendTag(bytes.Clone(good), num, protowire.BytesType)
		return protowire.AppendBytes(b, v)
	}
	varint := func(num protowire.Number, v uint64) []byte {
		b := protowire.AppendTag(bytes.Clone(good), num, protowire.VarintType)
		return protowire.AppendVarint(b, v)
	}
	enc := func(f func(p *Pointer)) []byte {
		p := sample()
		f(p)
		// Encode checks too; build by hand to get past it.
		b := protowire.AppendTag(nil, fBlobID, protowire.BytesType)
		b = protowire.AppendBytes(b, p.BlobID[:])
		b = protowire.AppendTag(b, fKey, protowire.BytesType)
		b = protowire.AppendBytes(b, p.Key[:])
		b = protowire.AppendTag(b, fDigest, protowire.BytesType)
		b = protowire.AppendBytes(b, p.Digest[:])
		b = appendVarint(b, fSize, uint64(p.Size))
		b = appendVarint(b, fPadded, uint64(p.Padded))
		b = appendString(b, fType, p.Type)
		b = appendVarint(b, fWidth, uint64(p.Width))
		return appendString(b, fName, p.Name)
	}
	for name, b := range map[string][]byte{
		"empty":               nil,
		"truncated":           good[:len(good)-1],
		"duplicate key":       field(fKey, make([]byte, 32)),
		"size as bytes":       field(fSize, []byte{1}),
		"width too large":     varint(fWidth+0, MaxDimension+1)[len(good)-0:],
		"padding mismatch":    enc(func(p *Pointer) { p.Padded = 8192 }),
		"size in other class": enc(func(p *Pointer) { p.Size = 9000 }),
		"short key":           enc(func(p *Pointer) {})[:40],
		"no MIME type":        enc(func(p *Pointer) { p.Type = "" }),
		"MIME with newline":   enc(func(p *Pointer) { p.Type = "text/plain\n" }),
		"upper-case MIME":     enc(func(p *Pointer) { p.Type = "Text/HTML" }),
		"name with NUL":       enc(func(p *Pointer) { p.Name = "a\x00b" }),
		"name with escape":    enc(func(p *Pointer) { p.Name = "\x1b[31mred" }),
		"name not UTF-8":      enc(func(p *Pointer) { p.Name = "\xff" }),
		"long name":           enc(func(p *Pointer) { p.Name = strings.Repeat("a", MaxNameBytes+1) }),
		"field zero":          append(bytes.Clone(good), 0x02, 0x00),
		"oversized":           make([]byte, MaxBytes+1),
	} {
		if _, err := Decode(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
	// An unknown field is skipped: later versions may add some.
	if _, err := Decode(varint(40, 7)); err != nil {
		t.Errorf("unknown field: %v", err)
	}
}

func TestRedacted(t *testing.T) {
	p := sample()
	out := fmt.Sprintf("%v %+v %#v %s", p, *p, p, p)
	if bytes.Contains([]byte(out), p.Key[:4]) || strings.Contains(out, fmt.Sprintf("%x", p.Key[:4])) || !strings.Contains(out, "redacted") {
		t.Fatalf("formatting shows the key or does not say redacted: %s", out)
	}
}

func FuzzDecode(f *testing.F) {
	good, _ := Encode(sample())
	f.Add(good)
	f.Add(good[:20])
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Decode(b)
		if err != nil {
			return
		}
		// What decodes re-encodes, and decodes to the same.
		again, err := Encode(p)
		if err != nil {
			t.Fatalf("decoded pointer does not encode: %v", err)
		}
		q, err := Decode(again)
		if err != nil || q.Key != p.Key || q.Size != p.Size || q.Name != p.Name || q.Caption != p.Caption {
			t.Fatalf("re-decoding differs: %v", err)
		}
	})
}
