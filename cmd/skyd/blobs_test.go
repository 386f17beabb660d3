package main

import (
	"flag"
	"testing"
	"time"

	"github.com/skymsg/sky/server"
)

// TestBlobFlags: the attachment flags become the server's configuration,
// and sizes that cannot work are refused with the flag's name.
func TestBlobFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		ok   bool
		rate float64
	}{
		{nil, true, 1 << 30},
		{[]string{"--attachment-rate", "8MiB"}, true, 8 << 20},
		{[]string{"--attachment-rate", "100KiB"}, false, 0},
		{[]string{"--attachment-quota", "1MiB"}, false, 0},
	} {
		var f blobFlags
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		f.register(fs)
		if err := fs.Parse(c.args); err != nil {
			t.Fatal(err)
		}
		cfg, st, err := f.open(t.Context(), t.TempDir(), clusterFlags{}, 48*time.Hour)
		if st != nil {
			st.Close()
		}
		if (err == nil) != c.ok {
			t.Fatalf("%q: %v", c.args, err)
		}
		if c.ok && (cfg.TransferRate.Per != c.rate || cfg.TransferRate.Burst > server.DefaultTransferBurst || cfg.TransferRate.Burst < 256<<10) {
			t.Fatalf("%q: transfer rate %+v", c.args, cfg.TransferRate)
		}
	}
}
