package group

import (
	"path/filepath"
	"testing"

	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/client/core"
	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/client/store/keyfile"
)

// TestStrangerEnvelopesBounded: envelopes held from non-members stay within
// one bound for all groups together, in count and in bytes, the oldest
// going first, however many a server makes up.
func TestStrangerEnvelopesBounded(t *testing.T) {
	st, err := store.Create(filepath.Join(t.TempDir(), "s"), []byte("pw"), store.Options{KDF: keyfile.Params{Time: 1, MemoryKiB: 64, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	g := &Groups{}
	var ids []content.GroupID
	for i := range 10 {
		ids = append(ids, content.GroupID{byte(i + 1)})
	}
	err = st.Update(func(tx *store.Tx) error {
		for i := range 100 {
			size := 100
			if i%3 == 0 {
				size = 100 << 10
			}
			env := make([]byte, size)
			env[0], env[1] = byte(i), byte(i>>8)
			if err := g.HoldEnvelope(tx, ids[i%len(ids)], env); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	n, size, newest := 0, 0, false
	err = st.Update(func(tx *store.Tx) error {
		for _, id := range ids {
			envs, err := g.TakeEnvelopes(tx, id)
			if err != nil {
				return err
			}
			for _, e := range envs {
				n, size = n+1, size+len(e)
				newest = newest || int(e[0])|int(e[1])<<8 == 99
			}
		}
		left, err := core.StringList(tx, setHeldEnvIDs)
		if len(left) != 0 {
			t.Errorf("%d groups still listed after taking all", len(left))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 || n > MaxStrangerEnvelopes || size > MaxStrangerEnvelopeBytes || !newest {
		t.Fatalf("%d envelopes of %d bytes held (newest kept: %v)", n, size, newest)
	}
}
