// Package blobtest is the conformance suite every blob.Store backend runs.
package blobtest

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/skymsg/sky/server/blob"
	"github.com/skymsg/sky/wire"
)

// Opener returns a function that opens the backend under test; each call
// opens the same storage again (as after a restart).
type Opener func(t *testing.T) func() blob.Store

// Run runs the suite.
func Run(t *testing.T, open Opener) {
	for _, tc := range []struct {
		name string
		f    func(*testing.T, func() blob.Store)
	}{
		{"RoundTrip", testRoundTrip},
		{"Rules", testRules},
		{"Resume", testResume},
		{"Sweep", testSweep},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.f(t, open(t)) })
	}
}

var t0 = time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)

const T = wire.BlobTransferBytes

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func upload(t *testing.T, s blob.Store, data []byte, created time.Time) blob.ID {
	t.Helper()
	id := blob.NewID()
	ctx := t.Context()
	if err := s.Create(ctx, id, int64(len(data)), created); err != nil {
		t.Fatal(err)
	}
	for off := 0; off < len(data); off += T {
		if err := s.Put(ctx, id, int64(off), data[off:min(off+T, len(data))]); err != nil {
			t.Fatalf("put at %d: %v", off, err)
		}
	}
	if err := s.Finish(ctx, id); err != nil {
		t.Fatal(err)
	}
	return id
}

func readAll(t *testing.T, s blob.Store, id blob.ID) ([]byte, error) {
	t.Helper()
	var out []byte
	buf := make([]byte, T)
	for {
		n, size, err := s.ReadAt(t.Context(), id, buf, int64(len(out)))
		if err != nil {
			return nil, err
		}
		out = append(out, buf[:n]...)
		if int64(len(out)) >= size || n == 0 {
			return out, nil
		}
	}
}

func testRoundTrip(t *testing.T, open func() blob.Store) {
	s := open()
	defer s.Close()
	for _, n := range []int{4112, T, 2*T + 4112, 5 * T} {
		data := random(n)
		id := upload(t, s, data, t0)
		got, err := readAll(t, s, id)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%d bytes: read %d bytes back, %v", n, len(got), err)
		}
		// A read inside a chunk and one past the end.
		p := make([]byte, 100)
		if k, size, err := s.ReadAt(t.Context(), id, p, int64(n-50)); err != nil || k != 50 || size != int64(n) || !bytes.Equal(p[:k], data[n-50:]) {
			t.Fatalf("tail read: %d bytes, size %d, %v", k, size, err)
		}
		if k, _, err := s.ReadAt(t.Context(), id, p, int64(n)); err != nil || k != 0 {
			t.Fatalf("read at the end: %d bytes, %v", k, err)
		}
	}
	// Finished blobs survive a reopen.
	data := random(T + 4112)
	id := upload(t, s, data, t0)
	s.Close()
	s = open()
	defer s.Close()
	if got, err := readAll(t, s, id); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("after reopening: %d bytes, %v", len(got), err)
	}
}

func testRules(t *testing.T, open func() blob.Store) {
	s := open()
	defer s.Close()
	ctx := t.Context()
	id := blob.NewID()
	size := int64(2*T + 100)
	if err := s.Create(ctx, id, size, t0); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, id, size, t0); !errors.Is(err, blob.ErrExists) {
		t.Errorf("second create: %v, want ErrExists", err)
	}
	check := func(what string, err, want error) {
		t.Helper()
		if !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", what, err, want)
		}
	}
	check("put past the end", s.Put(ctx, id, T, random(T)), blob.ErrOffset)
	check("short put", s.Put(ctx, id, 0, random(10)), blob.ErrChunk)
	check("put to unknown", s.Put(ctx, blob.NewID(), 0, random(T)), blob.ErrNotFound)
	check("finish empty", s.Finish(ctx, id), blob.ErrIncomplete)
	if err := s.Put(ctx, id, 0, random(T)); err != nil {
		t.Fatal(err)
	}
	check("put again at 0", s.Put(ctx, id, 0, random(T)), blob.ErrOffset)
	_, _, err := s.ReadAt(ctx, id, make([]byte, 10), 0)
	check("read unfinished", err, blob.ErrNotFound)
	if err := s.Put(ctx, id, T, random(T)); err != nil {
		t.Fatal(err)
	}
	check("put over the size", s.Put(ctx, id, 2*T, random(101)), blob.ErrTooLong)
	if err := s.Put(ctx, id, 2*T, random(100)); err != nil {
		t.Fatal(err)
	}
	if err := s.Finish(ctx, id); err != nil {
		t.Fatal(err)
	}
	check("put after finish", s.Put(ctx, id, size, random(1)), blob.ErrFinished)
	in, err := s.Stat(ctx, id)
	if err != nil || in.Size != size || in.Have != size || !in.Finished {
		t.Errorf("stat: %+v, %v", in, err)
	}
	_, _, err = s.ReadAt(ctx, blob.NewID(), make([]byte, 10), 0)
	check("read unknown", err, blob.ErrNotFound)
	_, err = s.Stat(ctx, blob.NewID())
	check("stat unknown", err, blob.ErrNotFound)
}

// testResume: an upload interrupted by a restart goes on from where the
// store says it is.
func testResume(t *testing.T, open func() blob.Store) {
	s := open()
	ctx := t.Context()
	data := random(3*T + 7)
	id := blob.NewID()
	if err := s.Create(ctx, id, int64(len(data)), t0); err != nil {
		t.Fatal(err)
	}
	for off := 0; off < 2*T; off += T {
		if err := s.Put(ctx, id, int64(off), data[off:off+T]); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	s = open()
	defer s.Close()
	in, err := s.Stat(ctx, id)
	if err != nil || in.Have != 2*T || in.Finished {
		t.Fatalf("after restart: %+v, %v; want 2 chunks, unfinished", in, err)
	}
	for off := int(in.Have); off < len(data); off += T {
		if err := s.Put(ctx, id, int64(off), data[off:min(off+T, len(data))]); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Finish(ctx, id); err != nil {
		t.Fatal(err)
	}
	if got, err := readAll(t, s, id); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("resumed upload reads %d bytes, %v", len(got), err)
	}
}

func testSweep(t *testing.T, open func() blob.Store) {
	s := open()
	defer s.Close()
	ctx := t.Context()
	old := upload(t, s, random(4112), t0)
	fresh := upload(t, s, random(4112), t0.Add(time.Hour))
	stale := blob.NewID() // unfinished, old enough for the upload window
	if err := s.Create(ctx, stale, 2*T, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	s.Put(ctx, stale, 0, random(T))
	young := blob.NewID() // unfinished, still in its window
	if err := s.Create(ctx, young, 2*T, t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	n, err := s.Sweep(ctx, t0, t0.Add(time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("sweep deleted %d, %v; want the old blob and the stale upload", n, err)
	}
	for _, id := range []blob.ID{old, stale} {
		if _, err := s.Stat(ctx, id); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("swept blob: %v, want ErrNotFound", err)
		}
		if _, _, err := s.ReadAt(ctx, id, make([]byte, 10), 0); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("read of a swept blob: %v, want ErrNotFound", err)
		}
	}
	if _, err := readAll(t, s, fresh); err != nil {
		t.Errorf("fresh blob swept: %v", err)
	}
	if in, err := s.Stat(ctx, young); err != nil || in.Finished {
		t.Errorf("young upload: %+v, %v", in, err)
	}
	// Everything goes at the TTL; a second sweep finds nothing more.
	if n, err := s.Sweep(ctx, t0.Add(3*time.Hour), t0.Add(3*time.Hour)); err != nil || n != 2 {
		t.Fatalf("final sweep deleted %d, %v; want 2", n, err)
	}
	if n, err := s.Sweep(ctx, t0.Add(3*time.Hour), t0.Add(3*time.Hour)); err != nil || n != 0 {
		t.Fatalf("sweep of an empty store deleted %d, %v", n, err)
	}
}
