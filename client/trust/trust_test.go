package trust

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/skymsg/sky/client/core"
	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/client/store/keyfile"
)

func TestHeldEnvelopesBounded(t *testing.T) {
	var envs [][]byte
	for n := range 3 * maxHeldEnvelopes {
		size := 100
		if n%2 == 0 {
			size = 256 << 10 // the largest sealed envelope
		}
		e := make([]byte, size)
		e[0], e[1] = byte(n), byte(n>>8)
		envs = keepHeldEnvelope(envs, e)
	}
	total := 0
	for _, e := range envs {
		total += len(e)
	}
	if len(envs) == 0 || len(envs) > maxHeldEnvelopes || total > maxHeldEnvelopeBytes || int(envs[len(envs)-1][0])|int(envs[len(envs)-1][1])<<8 != 3*maxHeldEnvelopes-1 {
		t.Fatalf("%d envelopes of %d bytes held", len(envs), total)
	}
}

// TestHeldPeersBounded: envelopes are held for at most maxHeldPeers peers
// at once, the oldest peer's going first, whatever number of peers present
// new keys.
func TestHeldPeersBounded(t *testing.T) {
	st, err := store.Create(filepath.Join(t.TempDir(), "s"), []byte("pw"), store.Options{KDF: keyfile.Params{Time: 1, MemoryKiB: 64, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tr := &Trust{}
	b := core.NewBatch(time.Now())
	var peers []string
	err = st.Update(func(tx *store.Tx) error {
		for i := range 3 * maxHeldPeers {
			p := fmt.Sprintf("peer%06d", i)
			peers = append(peers, p)
			if err := tx.SetSetting(setHeldEnv+p, core.PutBytes(nil, 1, []byte{byte(i)})); err != nil {
				return err
			}
			if err := tr.listHeld(tx, p, b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	held := 0
	err = st.View(func(tx *store.Tx) error {
		for _, p := range peers {
			v, err := core.Setting(tx, setHeldEnv+p)
			if err != nil {
				return err
			}
			if v != nil {
				held++
			}
		}
		return nil
	})
	if err != nil || held != maxHeldPeers || len(b.Events) != 2*maxHeldPeers {
		t.Fatalf("%d peers with held envelopes, %d drops (%v); want %d and %d", held, len(b.Events), err, maxHeldPeers, 2*maxHeldPeers)
	}
}
