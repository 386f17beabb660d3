package sealed

import (
	"bytes"
	"testing"

	"github.com/skymsg/sky/interop"
)

// TestAppendPadding: every padding length from 2 up (across the varint
// boundaries at 130 and 16387 bytes) is filled exactly, with fields a
// reader skips; one byte cannot be.
func TestAppendPadding(t *testing.T) {
	check := func(r int) {
		b, err := appendPadding([]byte{0xAA}, r)
		if err != nil || len(b) != 1+r {
			t.Fatalf("appendPadding(%d): %d bytes, %v", r, len(b)-1, err)
		}
		c := &Content{Type: TypeWhisper, Sender: newWorld(t).aliceCert, Message: []byte("m")}
		enc, _ := c.Bytes()
		if got, err := ParseContent(append(enc, b[1:]...)); err != nil || !bytes.Equal(got.Message, c.Message) {
			t.Fatalf("padding of %d bytes: %v", r, err)
		}
	}
	for r := 0; r < 300; r++ {
		if r == 1 {
			continue
		}
		check(r)
	}
	for _, r := range []int{16380, 16385, 16386, 16387, 16388, 16390, 200000} {
		check(r)
	}
	if _, err := appendPadding(nil, 1); err == nil {
		t.Fatal("padded by one byte")
	}
}

// TestPadTo: a padded content makes an envelope of exactly the size asked
// for, for every sealed size Sky uses, and opens to the same content.
func TestPadTo(t *testing.T) {
	w := newWorld(t)
	for _, size := range []int{1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10} {
		n, ok := ContentSizeFor(size)
		if !ok || EnvelopeSize(n) != size {
			t.Fatalf("ContentSizeFor(%d) = %d, %v", size, n, ok)
		}
		for _, msgLen := range []int{1, 100, size / 2} {
			c := &Content{Type: TypeWhisper, Sender: w.aliceCert, Message: bytes.Repeat([]byte{7}, msgLen), PadTo: n}
			env := w.seal(t, c)
			if len(env) != size {
				t.Fatalf("padded to %d: envelope of %d bytes, want %d", n, len(env), size)
			}
			got, err := Decrypt(env, w.bobR, w.now)
			if err != nil || !bytes.Equal(got.Message, c.Message) || got.PadTo != 0 {
				t.Fatalf("opening a padded envelope: %v", err)
			}
		}
	}
	// EnvelopeSize agrees with Encrypt unpadded too.
	for _, msgLen := range []int{0, 1, 50, 120, 16500} {
		c := &Content{Type: TypeWhisper, Sender: w.aliceCert, Message: make([]byte, msgLen)}
		enc, _ := c.Bytes()
		if got := len(w.seal(t, c)); got != EnvelopeSize(len(enc)) {
			t.Fatalf("EnvelopeSize(%d) = %d, Encrypt made %d", len(enc), EnvelopeSize(len(enc)), got)
		}
	}
	// Too small, or one byte short of filling: refused.
	c := &Content{Type: TypeWhisper, Sender: w.aliceCert, Message: make([]byte, 100)}
	enc, _ := c.Bytes()
	for _, pad := range []int{len(enc) - 1, len(enc) + 1} {
		c.PadTo = pad
		if _, err := Encrypt(c, w.alice, w.bob.Public); err == nil {
			t.Fatalf("PadTo %d for %d bytes accepted", pad, len(enc))
		}
	}
}

// TestLibsignalOpensPaddedEnvelopes: libsignal skips the padding field.
func TestLibsignalOpensPaddedEnvelopes(t *testing.T) {
	o := startOracle(t)
	w := newWorld(t)
	for _, size := range []int{1 << 10, 4 << 10} {
		n, _ := ContentSizeFor(size)
		for _, c := range testContents(w.aliceCert) {
			c.PadTo = n
			env := w.seal(t, c)
			var got opened
			if err := o.Call(interop.Request{"cmd": "open", "recipient": w.bob.Private.Bytes(), "envelope": env,
				"trust_root": w.root.Public().Bytes(), "time": w.now.UnixMilli()}, &got); err != nil {
				t.Fatalf("libsignal cannot open a padded %v envelope: %v", c.Type, err)
			}
			checkOpenedByLibsignal(t, c, &got)
		}
	}
}
