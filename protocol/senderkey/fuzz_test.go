package senderkey

import (
	"bytes"
	"errors"
	"testing"

	"github.com/skymsg/sky/protocol/internal/errs"
)

// The fuzz targets check that every decoder fails cleanly (an error of the
// documented kind, no panic) and that what it accepts encodes back to the
// same value. Seeds are libsignal's messages and Sky's records.

func FuzzParseDistributionMessage(f *testing.F) {
	v := loadVectors(f)
	f.Add([]byte(v.SKDM))
	f.Add([]byte(v.SKDMAfter))
	f.Add([]byte(v.Fixed.SKDM))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ParseDistributionMessage(b)
		if err != nil {
			if !errors.Is(err, errs.InvalidMessage) {
				t.Fatalf("error of the wrong kind: %v", err)
			}
			return
		}
		again, err := ParseDistributionMessage(d.Bytes())
		if err != nil || *again != *d {
			t.Fatalf("re-encoded distribution message reads differently: %v", err)
		}
	})
}

func FuzzParseMessage(f *testing.F) {
	v := loadVectors(f)
	for _, m := range v.Messages[:5] {
		f.Add([]byte(m.Message))
	}
	f.Add([]byte(v.Fixed.SKM))
	d, err := ParseDistributionMessage(v.SKDM)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseMessage(b)
		if err != nil {
			if !errors.Is(err, errs.InvalidMessage) {
				t.Fatalf("error of the wrong kind: %v", err)
			}
			return
		}
		if !bytes.Equal(m.Bytes(), b) {
			t.Fatal("Bytes() is not the parsed input")
		}
		// Decrypting it with libsignal's key fails cleanly or succeeds.
		r := NewRecord()
		r.Process(d)
		if _, err := r.Decrypt(m); err != nil && !errors.Is(err, errs.InvalidMessage) && !errors.Is(err, errs.InvalidSignature) &&
			!errors.Is(err, errs.NoSession) && !errors.Is(err, errs.DuplicateMessage) {
			t.Fatalf("Decrypt: error of the wrong kind: %v", err)
		}
	})
}

func FuzzParseRecord(f *testing.F) {
	p := newPair(f)
	_, cts := p.send(f, 5)
	for i := 4; i >= 2; i-- {
		if _, err := p.receive(f, cts[i]); err != nil {
			f.Fatal(err)
		}
	}
	for _, s := range []*MemoryStore{p.aliceStore, p.bobStore} {
		r, _ := s.LoadSenderKey(ctx, alice, group)
		b, _ := r.MarshalBinary()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRecord(b)
		if err != nil {
			if !errors.Is(err, errs.InvalidState) {
				t.Fatalf("error of the wrong kind: %v", err)
			}
			return
		}
		enc, _ := r.MarshalBinary()
		again, err := ParseRecord(enc)
		if err != nil {
			t.Fatalf("re-encoded record does not parse: %v", err)
		}
		enc2, _ := again.MarshalBinary()
		if !bytes.Equal(enc, enc2) {
			t.Fatal("record encoding is not stable")
		}
		if r.States() > MaxStates {
			t.Fatalf("%d states accepted", r.States())
		}
	})
}
