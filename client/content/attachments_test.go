package content

import (
	"bytes"
	"errors"
	"testing"

	"github.com/skymsg/sky/client/attach/blobcrypt"
	"github.com/skymsg/sky/client/attach/pointer"
	"github.com/skymsg/sky/wire"
)

func samplePointer(t *testing.T, name string) []byte {
	p := &pointer.Pointer{Key: blobcrypt.NewKey(), Size: 10, Padded: wire.BlobPadded(10), Type: "text/plain", Name: name}
	b, err := pointer.Encode(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAttachments(t *testing.T) {
	for _, c := range []*Content{sample(KindText), groupSample(KindGroupText)} {
		c.Attachments = [][]byte{samplePointer(t, "a.txt"), samplePointer(t, "b.txt")}
		b, err := Encode(c)
		if err != nil {
			t.Fatal(err)
		}
		d, err := Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Attachments) != 2 || !bytes.Equal(d.Attachments[1], c.Attachments[1]) || d.Text != c.Text {
			t.Fatalf("%v: attachments did not round-trip", c.Kind)
		}
		// Refused: a malformed pointer, too many, and attachments on a
		// kind that cannot carry them.
		for _, bad := range [][][]byte{{[]byte("not a pointer")}, bytes.SplitAfter(bytes.Repeat([]byte{0}, MaxAttachments+1), []byte{0})} {
			c.Attachments = bad
			if _, err := Encode(c); !errors.Is(err, ErrMalformed) {
				t.Errorf("%v with %d bad attachments: %v", c.Kind, len(bad), err)
			}
		}
	}
	r := sample(KindReceipt)
	r.Attachments = [][]byte{samplePointer(t, "x")}
	if _, err := Encode(r); !errors.Is(err, ErrMalformed) {
		t.Errorf("a receipt with an attachment: %v", err)
	}
	// Ten is the most a message carries.
	c := sample(KindText)
	c.Attachments = make([][]byte, MaxAttachments)
	for i := range c.Attachments {
		c.Attachments[i] = samplePointer(t, "f")
	}
	if _, err := Encode(c); err != nil {
		t.Fatalf("%d attachments: %v", MaxAttachments, err)
	}
}
