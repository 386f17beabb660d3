package storetest

import (
	"bytes"
	"errors"
	"sync"
	"testing"

	"github.com/skymsg/sky/server/store"
)

func keyDir(t *testing.T, s store.Store) store.KeyDir {
	kd, ok := s.(store.KeyDir)
	if !ok {
		t.Fatal("the backend does not keep a key directory (store.KeyDir)")
	}
	return kd
}

func epoch(n uint64) store.KeyDirEpoch {
	return store.KeyDirEpoch{Number: n, Record: randBytes(40), Head: randBytes(148)}
}

// testKeyDir: queued values wait until published, a value queued again
// meanwhile stays queued, epochs are numbered without gaps, values are
// found by index and version, countersignatures only move forward.
func testKeyDir(t *testing.T, s store.Store) {
	kd := keyDir(t, s)
	c := ctx(t)
	a, b := store.KeyDirPending{Index: randBytes(32), Value: []byte("a1")}, store.KeyDirPending{Index: randBytes(32), Value: []byte("b1")}
	for _, p := range []store.KeyDirPending{a, b, {Index: a.Index, Value: []byte("a2")}} {
		if err := kd.QueueKeyDir(c, p); err != nil {
			t.Fatal(err)
		}
	}
	pend, err := kd.PendingKeyDir(c, 10)
	if err != nil || len(pend) != 2 {
		t.Fatalf("pending: %d, %v; want 2 (one per index)", len(pend), err)
	}
	for _, p := range pend {
		if bytes.Equal(p.Index, a.Index) && string(p.Value) != "a2" {
			t.Fatalf("a's queued value is %q, want the later a2", p.Value)
		}
	}
	if got, _ := kd.PendingKeyDir(c, 1); len(got) != 1 {
		t.Fatalf("limit 1 returned %d", len(got))
	}
	if err := kd.PublishKeyDir(c, epoch(1), nil, nil); !errors.Is(err, store.ErrKeyDirConflict) {
		t.Fatalf("epoch 1 on an empty directory: %v, want ErrKeyDirConflict", err)
	}
	e0 := epoch(0)
	vals := []store.KeyDirValue{{Index: a.Index, Version: 1, Opening: randBytes(16), Value: []byte("a1")}}
	// Published: a with its old value a1 (a2 was queued meanwhile) and b.
	if err := kd.PublishKeyDir(c, e0, vals, []store.KeyDirPending{a, b}); err != nil {
		t.Fatal(err)
	}
	pend, _ = kd.PendingKeyDir(c, 10)
	if len(pend) != 1 || !bytes.Equal(pend[0].Index, a.Index) || string(pend[0].Value) != "a2" {
		t.Fatalf("after publishing, pending = %v; want only a's newer value", pend)
	}
	if err := kd.PublishKeyDir(c, epoch(0), nil, nil); !errors.Is(err, store.ErrKeyDirConflict) {
		t.Fatalf("epoch 0 twice: %v, want ErrKeyDirConflict", err)
	}
	if err := kd.PublishKeyDir(c, epoch(1), nil, nil); err != nil {
		t.Fatal(err)
	}
	es, err := kd.KeyDirEpochs(c, 0, 10)
	if err != nil || len(es) != 2 || es[0].Number != 0 || !bytes.Equal(es[0].Record, e0.Record) || !bytes.Equal(es[0].Head, e0.Head) {
		t.Fatalf("epochs: %v, %v", es, err)
	}
	if es, _ := kd.KeyDirEpochs(c, 1, 10); len(es) != 1 || es[0].Number != 1 {
		t.Fatalf("epochs from 1: %v", es)
	}
	v, err := kd.KeyDirValue(c, a.Index, 1)
	if err != nil || !bytes.Equal(v.Opening, vals[0].Opening) || string(v.Value) != "a1" {
		t.Fatalf("value: %+v, %v", v, err)
	}
	if _, err := kd.KeyDirValue(c, a.Index, 2); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing version: %v, want ErrNotFound", err)
	}
	aud := randBytes(33)
	for _, cs := range []store.KeyDirCountersig{{Auditor: aud, Size: 5, Signature: []byte("s5")}, {Auditor: aud, Size: 3, Signature: []byte("s3")}, {Auditor: randBytes(33), Size: 1, Signature: []byte("x")}} {
		if err := kd.SetKeyDirCountersig(c, cs); err != nil {
			t.Fatal(err)
		}
	}
	cs, err := kd.KeyDirCountersigs(c)
	if err != nil || len(cs) != 2 {
		t.Fatalf("countersignatures: %v, %v", cs, err)
	}
	for _, x := range cs {
		if bytes.Equal(x.Auditor, aud) && (x.Size != 5 || string(x.Signature) != "s5") {
			t.Fatalf("an older countersignature replaced a newer one: %+v", x)
		}
	}
}

// testKeyDirOneWriter: of several nodes publishing the same epoch at once,
// exactly one succeeds.
func testKeyDirOneWriter(t *testing.T, s store.Store) {
	kd := keyDir(t, s)
	var (
		wg sync.WaitGroup
		mu sync.Mutex
		ok int
	)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := kd.PublishKeyDir(ctx(t), epoch(0), nil, nil)
			if err != nil && !errors.Is(err, store.ErrKeyDirConflict) {
				t.Error(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				ok++
			}
		}()
	}
	wg.Wait()
	if ok != 1 {
		t.Fatalf("%d writers published epoch 0, want exactly 1", ok)
	}
}
