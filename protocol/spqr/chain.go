package spqr

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/skymsg/sky/protocol/internal/errs"
	"github.com/skymsg/sky/protocol/internal/kdf"
	"github.com/skymsg/sky/protocol/internal/redact"
)

// The symmetric chain of SPQR: for every epoch, one chain of message keys per
// direction, seeded from the epoch secret. Both SPQR-lite and the full ML-KEM
// Braid use it; only the full form ever adds epochs.
//
//	Start:     g = HKDF(salt 0^32, ikm auth key, "Signal PQ Ratchet V1 Chain  Start", 96)
//	Add epoch: g = HKDF(salt next_root, ikm epoch secret, "Signal PQ Ratchet V1 Chain Add Epoch", 96)
//	           next_root = g[0:32], A2B seed = g[32:64], B2A seed = g[64:96]
//	Next key:  ctr += 1; o = HKDF(salt 0^32, ikm seed, BE32(ctr) || "Signal PQ Ratchet V1 Chain Next", 64)
//	           seed = o[0:32], key(ctr) = o[32:64]
//
// (The start label has two spaces before "Start", as libsignal's has.)
const (
	labelStart    = "Signal PQ Ratchet V1 Chain  Start"
	labelAddEpoch = "Signal PQ Ratchet V1 Chain Add Epoch"
	labelNext     = "Signal PQ Ratchet V1 Chain Next"
)

var labelNextBytes = []byte(labelNext)

// Direction says which way a chain runs. The session initiator (Alice)
// sends on A2B and receives on B2A; the recipient the other way round.
type Direction uint8

// The two directions, numbered as in libsignal's SPQR.
const (
	A2B Direction = 0
	B2A Direction = 1
)

func (d Direction) other() Direction { return 1 - d }

// Params bounds how far a receiver follows a chain. Zero fields take
// libsignal's defaults: MaxJump 25,000 (self-sessions use math.MaxUint32,
// that is no limit) and MaxOutOfOrder 2,000.
type Params struct {
	MaxJump       uint32 // largest accepted step ahead of the newest key
	MaxOutOfOrder uint32 // how far behind the newest key old keys are kept
}

// Defaults as libsignal sets them.
const (
	DefaultMaxJump       = 25_000
	DefaultMaxOutOfOrder = 2_000
)

func (p Params) withDefaults() Params {
	if p.MaxJump == 0 {
		p.MaxJump = DefaultMaxJump
	}
	if p.MaxOutOfOrder == 0 {
		p.MaxOutOfOrder = DefaultMaxOutOfOrder
	}
	return p
}

// keepEpochsBeforeSend is how many epochs before the current sending epoch
// keep their keys.
const keepEpochsBeforeSend = 1

// Chain holds the key chains of every live epoch.
type Chain struct {
	dir          Direction
	currentEpoch uint64
	sendEpoch    uint64
	links        []link // epochs currentEpoch-len(links)+1 .. currentEpoch
	nextRoot     [32]byte
	params       Params
}

type link struct {
	send, recv half
}

// half is one direction of one epoch: the next seed, how many keys were
// derived, and the not yet used keys still inside the out-of-order window
// (ascending by index).
type half struct {
	info    [4]byte // scratch: BE32(ctr) for the next-key label, kept here so it need not be allocated
	ctr     uint32
	seed    [32]byte
	hasSeed bool // false once a sending seed is retired
	kept    []keptKey
}

type keptKey struct {
	index uint32
	key   [32]byte
}

// NewChain starts a chain from SPQR's authentication key (PQXDH's third output).
func NewChain(authKey []byte, dir Direction, p Params) *Chain {
	var g [96]byte
	kdf.HKDF(g[:], nil, authKey, labelStart)
	c := &Chain{dir: dir, params: p.withDefaults()}
	c.addLink(g)
	return c
}

func (c *Chain) addLink(g [96]byte) {
	seeds := [2][32]byte{[32]byte(g[32:64]), [32]byte(g[64:96])}
	copy(c.nextRoot[:], g[:32])
	c.links = append(c.links, link{
		send: half{seed: seeds[c.dir], hasSeed: true},
		recv: half{seed: seeds[c.dir.other()], hasSeed: true},
	})
	clear(g[:])
}

// Epoch returns the newest epoch.
func (c *Chain) Epoch() uint64 { return c.currentEpoch }

// AddEpoch starts epoch c.Epoch()+1 from its epoch secret.
func (c *Chain) AddEpoch(epoch uint64, secret []byte) error {
	if epoch != c.currentEpoch+1 {
		return errs.Newf(errs.InvalidState, "spqr: adding epoch %d after epoch %d", epoch, c.currentEpoch)
	}
	var g [96]byte
	kdf.HKDF(g[:], c.nextRoot[:], secret, labelAddEpoch)
	c.currentEpoch = epoch
	c.addLink(g)
	return nil
}

func (c *Chain) linkIndex(epoch uint64) (int, error) {
	if epoch > c.currentEpoch {
		return 0, errs.Newf(errs.InvalidMessage, "spqr: epoch %d is in the future", epoch)
	}
	back := c.currentEpoch - epoch
	if back >= uint64(len(c.links)) {
		return 0, errs.Newf(errs.InvalidMessage, "spqr: epoch %d is no longer kept", epoch)
	}
	return len(c.links) - 1 - int(back), nil
}

// SendKey returns the next sending key of epoch and its index (1, 2, ...).
// Moving to a newer sending epoch retires older epochs' sending seeds and
// forgets epochs more than one before it.
func (c *Chain) SendKey(epoch uint64) (uint32, [32]byte, error) {
	if epoch < c.sendEpoch {
		return 0, [32]byte{}, errs.Newf(errs.InvalidState, "spqr: sending epoch went back from %d to %d", c.sendEpoch, epoch)
	}
	i, err := c.linkIndex(epoch)
	if err != nil {
		return 0, [32]byte{}, err
	}
	if epoch != c.sendEpoch {
		c.sendEpoch = epoch
		if drop := i - keepEpochsBeforeSend; drop > 0 {
			c.links = append(c.links[:0], c.links[drop:]...)
			i -= drop
		}
		for j := 0; j < i; j++ {
			c.links[j].send.hasSeed = false
			c.links[j].send.seed = [32]byte{}
		}
	}
	h := &c.links[i].send
	if !h.hasSeed || h.ctr == math.MaxUint32 {
		return 0, [32]byte{}, errs.New(errs.InvalidState, "spqr: sending chain exhausted")
	}
	key := h.step()
	return h.ctr, key, nil
}

// RecvKey returns the receiving key of epoch at index, once. Keys up to
// MaxJump ahead are derived (keeping the skipped ones); older keys are
// available while within MaxOutOfOrder of the newest; a key already
// returned, or fallen out of the window, is refused.
func (c *Chain) RecvKey(epoch uint64, index uint32) ([32]byte, error) {
	i, err := c.linkIndex(epoch)
	if err != nil {
		return [32]byte{}, err
	}
	return c.links[i].recv.key(index, c.params)
}

// step derives the next key of h.
func (h *half) step() [32]byte {
	h.ctr++
	binary.BigEndian.PutUint32(h.info[:], h.ctr)
	var o [64]byte
	kdf.HKDFParts(o[:], nil, h.seed[:], h.info[:], labelNextBytes)
	copy(h.seed[:], o[:32])
	key := [32]byte(o[32:])
	clear(o[:])
	return key
}

func (h *half) key(at uint32, p Params) ([32]byte, error) {
	switch {
	case at == 0:
		return [32]byte{}, errs.New(errs.InvalidMessage, "spqr: key index 0 does not exist")
	case at < h.ctr:
		return h.takeKept(at, p)
	case at == h.ctr:
		return [32]byte{}, errs.Newf(errs.InvalidMessage, "spqr: key %d already used", at)
	case at-h.ctr > p.MaxJump:
		return [32]byte{}, errs.Newf(errs.InvalidMessage, "spqr: key %d is more than %d ahead of %d", at, p.MaxJump, h.ctr)
	}
	if !h.hasSeed {
		return [32]byte{}, errs.New(errs.InvalidState, "spqr: receiving chain has no seed")
	}
	for h.ctr+1 < at {
		k := h.step()
		// Keep only keys that will still be inside the window once at is reached.
		if uint64(h.ctr)+uint64(p.MaxOutOfOrder) >= uint64(at) {
			h.kept = append(h.kept, keptKey{index: h.ctr, key: k})
		}
	}
	key := h.step()
	h.trim(p)
	return key, nil
}

// trim forgets kept keys that fell out of the out-of-order window.
func (h *half) trim(p Params) {
	n := 0
	for n < len(h.kept) && uint64(h.kept[n].index)+uint64(p.MaxOutOfOrder) < uint64(h.ctr) {
		n++
	}
	if n > 0 {
		clear(h.kept[:n])
		h.kept = append(h.kept[:0], h.kept[n:]...)
	}
}

func (h *half) takeKept(at uint32, p Params) ([32]byte, error) {
	if uint64(at)+uint64(p.MaxOutOfOrder) < uint64(h.ctr) {
		return [32]byte{}, errs.Newf(errs.InvalidMessage, "spqr: key %d is too old (newest %d)", at, h.ctr)
	}
	for j := range h.kept {
		if h.kept[j].index == at {
			key := h.kept[j].key
			copy(h.kept[j:], h.kept[j+1:])
			h.kept[len(h.kept)-1] = keptKey{}
			h.kept = h.kept[:len(h.kept)-1]
			return key, nil
		}
	}
	return [32]byte{}, errs.Newf(errs.InvalidMessage, "spqr: key %d already used", at)
}

// Clone returns a deep copy of c.
func (c *Chain) Clone() *Chain {
	d := new(chainAlloc)
	c.cloneInto(d)
	return &d.c
}

// chainAlloc is a chain with room for its usual one or two epochs, so that
// both come in one allocation.
type chainAlloc struct {
	c Chain
	l [2]link
}

// cloneInto makes d.c a deep copy of c, its epochs in d.l if they fit.
func (c *Chain) cloneInto(d *chainAlloc) {
	d.c = *c
	if len(c.links) <= len(d.l) {
		d.c.links = d.l[:len(c.links)]
	} else {
		d.c.links = make([]link, len(c.links))
	}
	copy(d.c.links, c.links)
	for i := range d.c.links {
		d.c.links[i].send.kept = cloneKept(c.links[i].send.kept)
		d.c.links[i].recv.kept = cloneKept(c.links[i].recv.kept)
	}
}

func cloneKept(k []keptKey) []keptKey {
	if len(k) == 0 {
		return nil
	}
	return append([]keptKey(nil), k...)
}

// Format redacts the chain's keys under every fmt verb.
func (c Chain) Format(f fmt.State, _ rune) { redact.Format(f, "spqr.Chain") }
