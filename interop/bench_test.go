package interop

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// BenchmarkLibsignal measures libsignal's own 1:1 calls from Node on this
// machine (interop/node/bench.js), so that Sky's figures can be compared with
// the reference on the same hardware: SPEC section 5 asks for encrypt+decrypt
// at least twice as fast as libsignal and PQXDH setup no slower. The Go
// counterparts are BenchmarkEncryptDecrypt100B, BenchmarkEncryptDecrypt10KiB,
// BenchmarkDHRatchetTurn and BenchmarkSessionSetup in package protocol.
//
// Node measures its own loop (after a warm-up), so process start-up is not
// counted; the reported ns/op replaces Go's own.
func BenchmarkLibsignal(b *testing.B) {
	node := requireNode(b)
	for _, c := range []string{"steady100", "steady10k", "turn", "initiator", "recipient"} {
		b.Run(c, func(b *testing.B) {
			out, err := exec.Command(node, filepath.Join("node", "bench.js"), c, strconv.Itoa(max(b.N, 20))).Output()
			if err != nil {
				b.Fatalf("node bench.js %s: %v", c, err)
			}
			var r struct {
				NsPerOp float64 `json:"ns_per_op"`
			}
			if err := json.Unmarshal(out, &r); err != nil || r.NsPerOp <= 0 {
				b.Fatalf("node bench.js %s printed %q: %v", c, out, err)
			}
			b.ReportMetric(r.NsPerOp, "ns/op")
		})
	}
}
