package keytrans

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/skymsg/sky/keytrans/logtree"
	"github.com/skymsg/sky/keytrans/prefix"
)

// The cost figures in the README come from these benchmarks:
//
//	go test -run XXX -bench . -benchtime 1x ./keytrans/   (build: one run)
//
// Building the million-account tree takes a while and a few hundred MB,
// which is why it is a benchmark and never part of the default test run.

const (
	millionAccounts = 1_000_000
	benchEpochSize  = 10_000
)

var (
	bigOnce sync.Once
	big     *fixture
	bigKeys []string
)

// benchLeaf is account i's leaf. The keys are hashes, not VRF outputs, so
// building does not spend minutes on VRF evaluations (BenchmarkVRF
// measures those: one per update on the server).
func benchLeaf(i int, version uint32) prefix.Leaf {
	k := sha256.Sum256(binary.BigEndian.AppendUint64(nil, uint64(i)))
	c, _ := Commit(k[:], identityKey(i))
	return prefix.Leaf{Key: k, Version: version, Commitment: c}
}

// buildBig publishes a million accounts in epochs of benchEpochSize and
// returns the time it took.
func buildBig(b *testing.B) time.Duration {
	f := newFixture(b)
	start := time.Now()
	for e := 0; e < millionAccounts/benchEpochSize; e++ {
		leaves := make([]prefix.Leaf, benchEpochSize)
		for i := range leaves {
			leaves[i] = benchLeaf(e*benchEpochSize+i, 1)
		}
		ep, h := f.dir.Publish(uint64(e), leaves)
		f.epochs = append(f.epochs, ep)
		f.heads = append(f.heads, SignHead(h, f.cert.KeyID, f.signing.Private))
	}
	big = f
	return time.Since(start)
}

func getBig(b *testing.B) *fixture {
	bigOnce.Do(func() { buildBig(b) })
	return big
}

// BenchmarkBuildMillion builds a directory of a million accounts from
// scratch and reports updates per second (tree work, audit proofs
// included; VRF excluded).
func BenchmarkBuildMillion(b *testing.B) {
	for b.Loop() {
		d := buildBig(b)
		b.ReportMetric(float64(millionAccounts)/d.Seconds(), "updates/s")
	}
}

// BenchmarkMillion reports, at a million accounts, proof sizes and the
// time a client takes to check a lookup.
func BenchmarkMillion(b *testing.B) {
	f := getBig(b)
	h := f.dir.Head()
	b.Run("epoch-update", func(b *testing.B) {
		// A further epoch of 1,000 key changes on the full tree.
		var n, size int
		for b.Loop() {
			leaves := make([]prefix.Leaf, 1000)
			for i := range leaves {
				leaves[i] = benchLeaf(n*1000+i, 2)
			}
			n++
			e, _ := f.dir.Publish(uint64(1e9+n), leaves)
			size = len(e.Encode())
		}
		b.ReportMetric(float64(size)/1000, "audit-bytes/update")
		b.ReportMetric(1000/(b.Elapsed().Seconds()/float64(b.N)), "updates/s")
		h = f.dir.Head()
	})
	b.Run("lookup-verify", func(b *testing.B) {
		l := f.lookup("some account") // absent: a typical proof depth
		key := benchLeaf(12345, 1).Key
		l2 := &Lookup{VRFProof: l.VRFProof, Proof: f.dir.Get(key)}
		for b.Loop() {
			if _, err := VerifyLookup(f.cert, &h, "some account", l); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(l.Encode())), "absent-lookup-bytes")
		b.ReportMetric(float64(len(l2.Encode())+OpeningSize+2+33), "present-lookup-bytes")
	})
	b.Run("consistency", func(b *testing.B) {
		n := h.Size
		p, _ := f.dir.Consistency(n/3, n)
		older := Head{Size: n / 3, LogRoot: f.dir.LogRoot(n / 3)}
		for b.Loop() {
			if err := VerifyConsistency(&older, &h, p); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(logtree.EncodeProof(p))), "proof-bytes")
	})
	b.Run("audit-epoch", func(b *testing.B) {
		// An auditor checking one epoch of 10,000 new accounts.
		last := len(f.epochs) - 1
		a := &Auditor{}
		for _, e := range f.epochs[:last] {
			if err := a.Apply(e); err != nil {
				b.Fatal(err)
			}
		}
		st := a.State()
		for b.Loop() {
			a2, _ := RestoreAuditor(st)
			if err := a2.Apply(f.epochs[last]); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(f.epochs[last].Updates)), "updates/op")
	})
}

func BenchmarkVRF(b *testing.B) {
	f := newFixture(b)
	for i := 0; b.Loop(); i++ {
		Index(f.vrfKey, fmt.Sprint(i))
	}
}
