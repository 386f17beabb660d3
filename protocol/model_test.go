package protocol_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/cryptotest"

	"github.com/skymsg/sky/protocol"
	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/message"
)

// The model-based session test (acceptance test 2). A byte string drives two
// devices through sends, deliveries, drops, shuffles, duplicates, session
// resets, and snapshots and restores of the whole world. A model predicts
// the outcome of every delivery from what is visible on the wire:
//
//   - a message decrypts exactly once, to its plaintext, unless the chain it
//     was sent on fell out of the receiver's five receiving chains;
//   - a message delivered again is refused (ErrDuplicateMessage while its chain
//     is kept) and changes no store;
//   - every refused message leaves the receiver's stores byte-identical;
//   - records stay bounded (at most 40 archived states);
//   - after the queues are drained, at most 10 round trips make both sides
//     use one session.

// wireMsg is a message in flight.
type wireMsg struct {
	id      int
	from    int // 0 Alice, 1 Bob
	ct      protocol.Ciphertext
	pt      string
	session curve.PublicKey // the session's Alice base key
	ratchet curve.PublicKey // the sender's ratchet key
}

// party is one device and what the model knows of it.
type party struct {
	dev       *device
	inbox     []wireMsg                                    // messages in flight to it
	decrypted map[int]bool                                 // message IDs it decrypted
	knows     map[curve.PublicKey]bool                     // sessions it has a state for
	chains    map[curve.PublicKey][]curve.PublicKey        // per session: the other side's ratchet keys it keeps
	evicted   map[curve.PublicKey]map[curve.PublicKey]bool // per session: ratchet keys that fell out
}

func (p *party) clone() *party {
	c := &party{dev: &device{addr: p.dev.addr, store: p.dev.store.Clone(), nextID: p.dev.nextID}}
	c.inbox = append([]wireMsg(nil), p.inbox...)
	c.decrypted = map[int]bool{}
	for k, v := range p.decrypted {
		c.decrypted[k] = v
	}
	c.knows = map[curve.PublicKey]bool{}
	for k, v := range p.knows {
		c.knows[k] = v
	}
	c.chains = map[curve.PublicKey][]curve.PublicKey{}
	for k, v := range p.chains {
		c.chains[k] = append([]curve.PublicKey(nil), v...)
	}
	c.evicted = map[curve.PublicKey]map[curve.PublicKey]bool{}
	for k, v := range p.evicted {
		m := map[curve.PublicKey]bool{}
		for kk, vv := range v {
			m[kk] = vv
		}
		c.evicted[k] = m
	}
	return c
}

// events counts what a run exercised, so the replay can check that the
// interesting cases happen at all.
type events struct {
	delivered, duplicates, evicted, resets, restores, simultaneous, promotions int
}

type world struct {
	t        testing.TB
	ev       *events
	p        [2]*party
	nextID   int
	sent     int
	resets   int
	history  []wireMsg // decrypted messages, for duplicates
	saved    *world
	log      []string
	maxSends int
}

func newWorld(t testing.TB, oneTime bool, ev *events) *world {
	w := &world{t: t, maxSends: 1500, ev: ev}
	for i, name := range []string{aliceName, bobName} {
		w.p[i] = &party{
			dev:       newDevice(t, name),
			decrypted: map[int]bool{},
			knows:     map[curve.PublicKey]bool{},
			chains:    map[curve.PublicKey][]curve.PublicKey{},
			evicted:   map[curve.PublicKey]map[curve.PublicKey]bool{},
		}
	}
	w.startSession(0, oneTime)
	return w
}

func (w *world) fail(format string, args ...any) {
	w.t.Helper()
	tail := w.log
	if len(tail) > 30 {
		tail = tail[len(tail)-30:]
	}
	w.t.Fatalf("%s\nlast actions:\n  %s", fmt.Sprintf(format, args...), strings.Join(tail, "\n  "))
}

// current returns the Alice base key of side i's current session.
func (w *world) current(i int) (curve.PublicKey, bool) {
	rec, err := w.p[i].dev.store.LoadSession(ctx, w.p[1-i].dev.addr)
	if err != nil {
		w.fail("load session: %v", err)
	}
	if rec == nil || rec.Current() == nil {
		return curve.PublicKey{}, false
	}
	return rec.Current().AliceBaseKey, true
}

// startSession makes side i process a fresh bundle of the other side.
func (w *world) startSession(i int, oneTime bool) {
	me, them := w.p[i], w.p[1-i]
	b := them.dev.bundle(w.t, oneTime)
	if err := protocol.ProcessPreKeyBundle(ctx, me.dev.store.Stores(), me.dev.addr, them.dev.addr, b, t0); err != nil {
		w.fail("process bundle: %v", err)
	}
	s, _ := w.current(i)
	me.knows[s] = true
	me.chains[s] = []curve.PublicKey{b.SignedPreKey} // the other side's first ratchet key
	w.log = append(w.log, fmt.Sprintf("%d starts session %x", i, s.U()))
}

func (w *world) send(i, n int) {
	me, them := w.p[i], w.p[1-i]
	for k := 0; k < n && w.sent < w.maxSends; k++ {
		id := w.nextID
		w.nextID++
		w.sent++
		pt := fmt.Sprintf("message %d from %d", id, i) + strings.Repeat("!", id%37)
		c, err := protocol.Encrypt(ctx, me.dev.store.Stores(), me.dev.addr, them.dev.addr, []byte(pt), t0)
		if errors.Is(err, protocol.ErrNoSession) {
			w.ev.simultaneous++
			w.startSession(i, id%2 == 0)
			c, err = protocol.Encrypt(ctx, me.dev.store.Stores(), me.dev.addr, them.dev.addr, []byte(pt), t0)
		}
		if err != nil {
			w.fail("%d encrypts: %v", i, err)
		}
		m := wireMsg{id: id, from: i, ct: c, pt: pt}
		m.session, _ = w.current(i)
		inner := c.Bytes
		if c.Type == protocol.TypePreKey {
			pm, err := message.ParsePreKeySignalMessage(c.Bytes)
			if err != nil {
				w.fail("own PreKey message does not parse: %v", err)
			}
			if pm.BaseKey != m.session {
				w.fail("PreKey message names base key %x, session is %x", pm.BaseKey.U(), m.session.U())
			}
			inner = pm.Message.Bytes()
		}
		sm, err := message.ParseSignalMessage(inner)
		if err != nil {
			w.fail("own message does not parse: %v", err)
		}
		m.ratchet = sm.RatchetKey
		them.inbox = append(them.inbox, m)
		w.log = append(w.log, fmt.Sprintf("%d sends #%d (type %d, session %x, ratchet %x, counter %d)", i, id, c.Type, m.session.U(), m.ratchet.U(), sm.Counter))
	}
}

// deliver hands m to side i and checks the outcome against the model.
func (w *world) deliver(i int, m wireMsg) {
	me := w.p[i]
	from := w.p[1-i].dev
	before := me.dev.store.Snapshot()
	cur, _ := w.current(i)
	got, err := me.dev.decrypt(from, m.ct)
	kept := containsKey(me.chains[m.session], m.ratchet)
	w.log = append(w.log, fmt.Sprintf("%d receives #%d: %v", i, m.id, err))
	switch {
	case me.decrypted[m.id]:
		w.ev.duplicates++
		want := protocol.ErrInvalidMessage
		if kept {
			want = protocol.ErrDuplicateMessage
		}
		if !errors.Is(err, want) {
			w.fail("#%d delivered again to %d: %v, want %v", m.id, i, err, want)
		}
	case me.evicted[m.session][m.ratchet]:
		w.ev.evicted++
		if !errors.Is(err, protocol.ErrInvalidMessage) {
			w.fail("#%d from an evicted chain: %v, want ErrInvalidMessage", m.id, err)
		}
	default:
		if err != nil || got != m.pt {
			w.fail("#%d to %d: %q, %v; want %q", m.id, i, got, err, m.pt)
		}
		w.ev.delivered++
		if cur != m.session {
			w.ev.promotions++
		}
		me.decrypted[m.id] = true
		me.knows[m.session] = true
		if !kept {
			c := append(me.chains[m.session], m.ratchet)
			if len(c) > 5 {
				if me.evicted[m.session] == nil {
					me.evicted[m.session] = map[curve.PublicKey]bool{}
				}
				me.evicted[m.session][c[0]] = true
				c = c[1:]
			}
			me.chains[m.session] = c
		}
		w.history = append(w.history, m)
		w.checkBounds(i)
		return
	}
	if after := me.dev.store.Snapshot(); !bytes.Equal(before, after) {
		w.fail("refused message #%d changed %d's stores", m.id, i)
	}
}

func containsKey(l []curve.PublicKey, k curve.PublicKey) bool {
	for _, x := range l {
		if x == k {
			return true
		}
	}
	return false
}

func (w *world) checkBounds(i int) {
	rec, _ := w.p[i].dev.store.LoadSession(ctx, w.p[1-i].dev.addr)
	if rec.ArchivedStates() > protocol.MaxArchivedStates {
		w.fail("%d keeps %d archived states", i, rec.ArchivedStates())
	}
	if c := rec.Current(); c != nil && (c.ReceiverChains() > 5 || c.SkippedKeys() > 5*2000) {
		w.fail("%d keeps %d chains, %d skipped keys", i, c.ReceiverChains(), c.SkippedKeys())
	}
}

func (w *world) deliverAll(i int) {
	in := w.p[i].inbox
	w.p[i].inbox = nil
	for _, m := range in {
		w.deliver(i, m)
	}
}

func (w *world) take(i, n int) (wireMsg, bool) {
	in := w.p[i].inbox
	if len(in) == 0 {
		return wireMsg{}, false
	}
	k := n % len(in)
	m := in[k]
	w.p[i].inbox = append(in[:k:k], in[k+1:]...)
	return m, true
}

func (w *world) snapshot() *world {
	c := *w
	c.p = [2]*party{w.p[0].clone(), w.p[1].clone()}
	c.history = append([]wireMsg(nil), w.history...)
	c.saved = nil
	return &c
}

// step runs one action.
func (w *world) step(b byte) {
	op, side, n := b&7, int(b>>3&1), int(b>>4)
	switch op {
	case 0, 1:
		w.send(side, 1+n%4)
	case 2:
		w.deliverAll(side)
	case 3:
		if m, ok := w.take(side, n); ok {
			w.deliver(side, m)
		}
	case 4:
		if m, ok := w.take(side, n); ok {
			w.log = append(w.log, fmt.Sprintf("drop #%d", m.id))
		}
	case 5:
		in := w.p[side].inbox
		r := rand.New(rand.NewPCG(uint64(n), uint64(len(in))))
		r.Shuffle(len(in), func(a, b int) { in[a], in[b] = in[b], in[a] })
		w.log = append(w.log, fmt.Sprintf("shuffle %d's inbox", side))
	case 6:
		if len(w.history) > 0 {
			m := w.history[(n*7919)%len(w.history)]
			w.deliver(1-m.from, m)
		}
	case 7:
		switch n % 4 {
		case 0:
			w.saved = w.snapshot()
			w.log = append(w.log, "snapshot")
		case 1:
			if w.saved != nil {
				s := w.saved
				w.ev.restores++
				log := append(w.log, "restore")
				*w = *s.snapshot()
				w.saved, w.log = s, log
			}
		case 2:
			if w.resets < 15 {
				w.resets++
				w.ev.resets++
				if err := protocol.ArchiveSession(ctx, w.p[side].dev.store, w.p[1-side].dev.addr); err != nil {
					w.fail("archive: %v", err)
				}
				w.startSession(side, n%8 < 4)
			}
		case 3:
			w.deliverAll(0)
			w.deliverAll(1)
		}
	}
}

// settle drains the queues and checks that round trips bring both sides to
// one session.
func (w *world) settle() {
	w.deliverAll(0)
	w.deliverAll(1)
	w.deliverAll(0)
	for r := 0; r < 10; r++ {
		w.send(0, 1)
		w.deliverAll(1)
		w.send(1, 1)
		w.deliverAll(0)
		a, okA := w.current(0)
		b, okB := w.current(1)
		if okA && okB && a == b {
			return
		}
	}
	w.fail("after 10 round trips the sides still use different sessions")
}

func runModel(t testing.TB, seed uint64, actions []byte, ev *events) {
	w := newWorld(t, seed%2 == 0, ev)
	w.maxSends = 1500
	for _, b := range actions {
		w.step(b)
	}
	w.settle()
}

// TestSessionModelReplay replays 1,000 seeded random action sequences.
func TestSessionModelReplay(t *testing.T) {
	n := 1000
	if testing.Short() {
		n = 100
	}
	var ev events
	for seed := 0; seed < n; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			cryptotest.SetGlobalRandom(t, uint64(seed))
			r := rand.New(rand.NewPCG(uint64(seed), 1))
			actions := make([]byte, 20+r.IntN(60))
			for i := range actions {
				actions[i] = byte(r.UintN(256))
			}
			if seed%20 == 0 {
				actions = append(holdBack(6+seed%3), actions...)
			}
			runModel(t, uint64(seed), actions, &ev)
		})
	}
	t.Logf("%+v", ev)
	if ev.delivered == 0 || ev.duplicates == 0 || ev.evicted == 0 || ev.resets == 0 || ev.restores == 0 || ev.simultaneous == 0 || ev.promotions == 0 {
		t.Errorf("the replay missed a kind of event: %+v", ev)
	}
}

// holdBack returns actions in which Bob keeps Alice's first message back
// while the two sides ping-pong through n DH ratchet steps, then receives
// it: from n = 6 on, its chain has fallen out of Bob's five.
func holdBack(n int) []byte {
	const (
		aliceSends2    = 0x10 // op 0, side 0, n 1: send 2
		bobTakesNewest = 0x1B // op 3, side 1, n 1: deliver inbox[1]
		bobSends1      = 0x08 // op 0, side 1, n 0
		aliceGetsAll   = 0x02 // op 2, side 0
		aliceSends1    = 0x00 // op 0, side 0, n 0
		bobGetsAll     = 0x0A // op 2, side 1
	)
	a := []byte{aliceSends2}
	for i := 0; i < n; i++ {
		a = append(a, bobTakesNewest, bobSends1, aliceGetsAll, aliceSends1)
	}
	return append(a, bobGetsAll)
}

func FuzzSession(f *testing.F) {
	f.Add(uint64(4), holdBack(7))
	f.Add(uint64(1), []byte{0, 2, 8, 10, 0, 0, 3, 19, 6, 7})
	f.Add(uint64(2), []byte{0, 0, 0, 8, 13, 5, 10, 2, 15, 23, 39, 0, 10, 2})
	f.Add(uint64(3), []byte{7 | 2<<4, 0, 10, 7 | 0<<4, 0, 0, 2, 7 | 1<<4, 10, 2, 6})
	f.Fuzz(func(t *testing.T, seed uint64, actions []byte) {
		if len(actions) > 200 {
			actions = actions[:200]
		}
		cryptotest.SetGlobalRandom(t, seed)
		runModel(t, seed, actions, &events{})
	})
}
