package keyfile

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"

	"golang.org/x/crypto/argon2"

	"github.com/skymsg/sky/client/store/envelope"
)

// Params are the Argon2id parameters of a key file. They are chosen when the
// store is created and kept in the file.
type Params struct {
	Time      uint32 // passes over memory
	MemoryKiB uint32 // memory in KiB
	Threads   uint8  // lanes, and the threads used
}

// Default is what a new store uses: 256 MiB, 7 passes, 2 lanes. On the
// project's idle 2-core reference machine one derivation takes about 0.5 s
// of wall time and 1.2 s of CPU time (BenchmarkDeriveDefault); the store's
// package doc gives the measurements.
var Default = Params{Time: 7, MemoryKiB: 256 << 10, Threads: 2}

// Bounds accepted by Validate. The upper bounds keep a damaged or hostile key
// file from asking for more than 2 GiB or minutes of work.
const (
	MaxTime      = 64
	MaxMemoryKiB = 2 << 20
	MaxThreads   = 16
)

// Validate checks the parameters against the bounds Argon2id and this package
// accept. Parameters below Default are accepted (tests use tiny ones) but give
// a store that is cheap to attack offline; production code uses Default.
func (p Params) Validate() error {
	switch {
	case p.Time < 1 || p.Time > MaxTime:
		return fmt.Errorf("%w: Argon2id time %d is outside 1..%d", ErrCorrupt, p.Time, MaxTime)
	case p.Threads < 1 || p.Threads > MaxThreads:
		return fmt.Errorf("%w: Argon2id threads %d is outside 1..%d", ErrCorrupt, p.Threads, MaxThreads)
	case p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > MaxMemoryKiB:
		return fmt.Errorf("%w: Argon2id memory %d KiB is outside %d..%d", ErrCorrupt, p.MemoryKiB, 8*uint32(p.Threads), MaxMemoryKiB)
	}
	return nil
}

func (p Params) String() string {
	return fmt.Sprintf("Argon2id(t=%d, m=%d KiB, p=%d)", p.Time, p.MemoryKiB, p.Threads)
}

func (p Params) put(b []byte) {
	binary.BigEndian.PutUint32(b[0:], p.Time)
	binary.BigEndian.PutUint32(b[4:], p.MemoryKiB)
	b[8] = p.Threads
}

func (p Params) append(b []byte) []byte {
	var enc [12]byte
	p.put(enc[:])
	return append(b, enc[:]...)
}

func getParams(b []byte) Params {
	return Params{
		Time:      binary.BigEndian.Uint32(b[0:]),
		MemoryKiB: binary.BigEndian.Uint32(b[4:]),
		Threads:   b[8],
	}
}

// Counters of the expensive and the secret-dependent steps of an unlock.
var derivations, slotOpens atomic.Int64

// Work returns how many Argon2id derivations and slot trials this process
// has done. Tests read it to show that every unlock, whichever passphrase is
// typed, does the same work.
func Work() (derivationCount, slotTrials int64) {
	return derivations.Load(), slotOpens.Load()
}

// Derive runs Argon2id over passphrase and salt and returns a 32-byte key.
func Derive(p Params, salt, passphrase []byte) envelope.Key {
	derivations.Add(1)
	b := argon2.IDKey(passphrase, salt, p.Time, p.MemoryKiB, p.Threads, envelope.KeySize)
	k, _ := envelope.KeyFrom(b)
	clear(b)
	return k
}
