package client

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/skymsg/sky/client/conn"
	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/client/protostore"
	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/protocol"
	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/message"
	"github.com/skymsg/sky/wire"
)

// Receiving. Each Push is handled in one store transaction: for every
// envelope the session is advanced, the content is checked (the sender named
// inside must be the one outside, the recipient must be us), the dedupe
// record is marked and the message stored — and only after the transaction
// committed are the envelopes acknowledged, so a crash at any point means
// the server delivers again and the dedupe record drops the copy.
//
// Nothing in an envelope is trusted before it decrypts: the server's sender
// field only chooses which session to try, the server's time is ignored, and
// what a decrypted message may change is limited to its own conversation.

// Envelope content on the wire: one type byte, then the ciphertext.
const (
	envWhisper = byte(protocol.TypeWhisper)
	envPreKey  = byte(protocol.TypePreKey)
)

// maxHeldEnvelopes and maxHeldEnvelopeBytes bound the envelopes kept per
// peer while a key change waits for the user's decision. A server can make
// such envelopes at will (a first message under a key of its own), so the
// byte bound keeps what it can take small, and each rewrite cheap.
const (
	maxHeldEnvelopes     = 100
	maxHeldEnvelopeBytes = 4 << 20
)

// keepHeldEnvelope adds an envelope to the ones held, dropping the oldest
// beyond the bounds.
func keepHeldEnvelope(envs [][]byte, kept []byte) [][]byte {
	envs = append(envs, kept)
	size := 0
	for _, e := range envs {
		size += len(e)
	}
	for len(envs) > 0 && (len(envs) > maxHeldEnvelopes || size > maxHeldEnvelopeBytes) {
		size -= len(envs[0])
		envs = envs[1:]
	}
	return envs
}

// batch collects what handling one push produced.
type batch struct {
	now       time.Time
	events    []Event
	in        map[string]*inState     // loaded incoming sequence states, written back at the end
	release   map[string][]int64      // messages to announce, per peer, in order
	delivered map[string][]content.ID // delivery receipts to queue
	added     map[int64]store.Message // messages this batch stored, by ID
	queued    bool                    // the outbox grew
	prekeys   bool                    // a first message used prekeys
}

func newBatch(now time.Time) *batch {
	return &batch{now: now, in: map[string]*inState{}, release: map[string][]int64{}, delivered: map[string][]content.ID{}, added: map[int64]store.Message{}}
}

func (b *batch) drop(from, reason string) {
	b.events = append(b.events, &DroppedEvent{From: from, Reason: reason})
}

// handleBatch stores a push's envelopes and then acknowledges them.
func (c *Client) handleBatch(ctx context.Context, cn *conn.Conn, envs []*wire.Envelope) error {
	b, err := c.receive(ctx, envs)
	if err != nil {
		return err
	}
	var ids [][]byte
	for _, e := range envs {
		if id := e.GetId(); len(id) == wire.MessageIDBytes {
			ids = append(ids, id)
		}
	}
	for len(ids) > 0 {
		n := min(len(ids), wire.MaxAcksPerRequest)
		// The answer carries nothing; a lost ack only means a redelivery.
		if _, err := cn.Start(ctx, &wire.Request{Op: &wire.Request_Ack{Ack: &wire.Ack{Ids: ids[:n]}}}); err != nil {
			return err
		}
		ids = ids[n:]
	}
	c.afterBatch(b)
	return nil
}

func (c *Client) afterBatch(b *batch) {
	c.emit(b.events...)
	if b.prekeys {
		poke(c.prekeyKick)
	}
	if b.queued {
		poke(c.kick)
	}
	poke(c.expiryKick)
}

// receive handles envelopes in one transaction.
func (c *Client) receive(ctx context.Context, envs []*wire.Envelope) (*batch, error) {
	var b *batch
	err := c.update(func(tx *store.Tx) error {
		b = newBatch(c.now())
		ps := protostore.New(tx, c.local, b.now)
		for _, env := range envs {
			if err := c.receiveOne(ctx, tx, ps, env, b); err != nil {
				return err
			}
		}
		return c.finishBatch(tx, b)
	})
	return b, err
}

// isProtocolError reports whether err comes from the message rather than
// from the store: such an envelope is dropped, a store failure aborts.
func isProtocolError(err error) bool {
	for _, e := range []error{protocol.ErrInvalidMessage, protocol.ErrInvalidKey, protocol.ErrInvalidSignature,
		protocol.ErrNoSession, protocol.ErrDuplicateMessage, protocol.ErrUntrustedIdentity, protocol.ErrInvalidState} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// receiveOne handles one envelope. It returns an error only when the store
// fails; anything wrong with the envelope drops it.
//
// A sealed envelope (the usual kind) names its sender only inside, in a
// certificate under the pinned trust root, which vouches for the identity
// key the sender sealed it with; that key must be the one pinned for the
// sender's session. An identified envelope (from clients without sealed
// sender) names its sender outside, which only chooses the session to try.
func (c *Client) receiveOne(ctx context.Context, tx *store.Tx, ps *protostore.Stores, env *wire.Envelope, b *batch) error {
	var (
		peer    string
		dev     uint32
		raw     []byte
		certKey *curve.PublicKey // the identity key a sealed envelope's certificate vouches for
	)
	if isSealed(env) {
		p, d, inner, key, drop := c.unseal(env, b.now)
		if drop != "" {
			b.drop(p, drop)
			return nil
		}
		peer, dev, raw, certKey = p, d, inner, &key
	} else {
		from := env.GetSender()
		peer, dev, raw = from.GetAccount(), from.GetDevice(), env.GetContent()
		if !ValidID(peer) || dev == 0 || dev > 127 || peer == c.acct.ID {
			b.drop("", "an envelope with an impossible sender")
			return nil
		}
	}
	if !announced(peer, dev) {
		b.events = append(b.events, &UnannouncedDeviceEvent{Peer: peer, Device: dev})
		return nil
	}
	if blocked, err := isBlocked(tx, peer); err != nil || blocked {
		return err // rejected by the user: dropped without a trace
	}
	if len(raw) >= 2 && raw[0] == envSenderKey {
		if certKey == nil {
			b.drop(peer, "a group message outside a sealed envelope")
			return nil
		}
		return c.receiveGroupMessage(ctx, tx, ps, peer, dev, raw[1:], *certKey, b)
	}
	if len(raw) < 2 || (raw[0] != envWhisper && raw[0] != envPreKey) {
		b.drop(peer, "an envelope of unknown type")
		return nil
	}
	addr := protocol.Address{Name: peer, DeviceID: dev}
	local := protocol.Address{Name: c.acct.ID, DeviceID: c.acct.DeviceID}
	ct, plain, drop, err := c.open(ctx, ps, local, addr, raw)
	if err == nil && drop == "" && certKey != nil {
		drop, err = certMatches(ps, addr, raw, ct == nil, *certKey)
	}
	if err != nil || drop != "" {
		ps.Discard()
		if err == nil {
			b.drop(peer, drop)
		}
		return err
	}
	if raw[0] == envPreKey {
		b.prekeys = true
	}
	if ct == nil {
		// A first message made with a key that is not the pinned one, and
		// that names its sender truthfully: a key change to decide on.
		ps.Discard()
		return c.identityChangedOnReceive(tx, peer, dev, env, raw, b)
	}
	if drop, err := c.requestRoom(tx, peer, ct); err != nil || drop != "" {
		ps.Discard() // no session with a stranger the user has no room for
		if err == nil {
			b.drop(peer, drop)
		}
		return err
	}
	fresh, err := tx.MarkSeen("msg/"+peer+"/"+ct.ID.String(), b.now)
	if err != nil {
		return err
	}
	if err := ps.Commit(); err != nil {
		return err
	}
	if !fresh {
		b.drop(peer, "a message delivered twice")
		return nil
	}
	if err := keepPeerAccess(tx, peer, ct.AccessKey); err != nil {
		return err
	}
	return c.apply(tx, peer, ct, plain, b)
}

// certMatches checks that the identity key a sealed envelope's certificate
// vouches for is the sender's: the key pinned for the session that
// decrypted it, or, for a first message made with a changed key (trial),
// the key that message carries. A server minting a certificate for one
// person around another's message is caught here.
func certMatches(ps *protostore.Stores, addr protocol.Address, raw []byte, trial bool, certKey curve.PublicKey) (drop string, err error) {
	var key curve.PublicKey
	if trial {
		m, perr := message.ParsePreKeySignalMessage(raw[1:])
		if perr != nil {
			return "a malformed first message", nil
		}
		key = m.IdentityKey
	} else {
		k, ok, err := ps.PinnedIdentity(addr)
		if err != nil {
			return "", err
		}
		if !ok {
			return "a sealed message from a sender with no pinned key", nil
		}
		key = k
	}
	if key != certKey {
		return "a sealed message whose certificate vouches for another identity key than its session's", nil
	}
	return "", nil
}

// open decrypts raw from addr and checks what it says. It returns the
// content and its unpadded encoding; or drop, a reason to drop the
// envelope; or nothing at all for a first message made with a changed
// identity key that names its sender truthfully (which only the user can
// accept). A first message with a changed key is decrypted as a trial that
// keeps nothing, so that a server relabelling someone else's message as
// peer's does not raise a false key change. err is a store failure.
func (c *Client) open(ctx context.Context, ps *protostore.Stores, local, addr protocol.Address, raw []byte) (ct *content.Content, plain []byte, drop string, err error) {
	msg := protocol.Ciphertext{Type: protocol.MessageType(raw[0]), Bytes: raw[1:]}
	padded, err := protocol.Decrypt(ctx, ps.Protocol(), local, addr, msg)
	trial := false
	if errors.Is(err, protocol.ErrUntrustedIdentity) && raw[0] == envPreKey {
		ps.Discard()
		if m, perr := message.ParsePreKeySignalMessage(raw[1:]); perr == nil {
			ps.Trial(addr, m.IdentityKey)
			trial = true
			padded, err = protocol.Decrypt(ctx, ps.Protocol(), local, addr, msg)
		}
	}
	switch {
	case err == nil:
	case !isProtocolError(err):
		return nil, nil, "", err
	case errors.Is(err, protocol.ErrDuplicateMessage):
		return nil, nil, "a message delivered twice", nil
	default:
		return nil, nil, "a message that does not decrypt", nil
	}
	plain, err = content.Unpad(padded)
	if err == nil {
		ct, err = content.Decode(plain)
	}
	switch {
	case errors.Is(err, content.ErrUnsupported):
		return nil, nil, "a message in a newer format; upgrade Sky", nil
	case err != nil:
		return nil, nil, "a message with malformed content", nil
	case ct.Sender != addr.Name || ct.SenderDevice != addr.DeviceID || ct.Recipient != local.Name:
		return nil, nil, "a message whose sender or recipient inside differs from the envelope", nil
	case trial:
		return nil, nil, "", nil
	}
	return ct, plain, "", nil
}

// apply makes a decrypted, checked content take effect.
func (c *Client) apply(tx *store.Tx, peer string, ct *content.Content, plain []byte, b *batch) error {
	if ct.Kind == content.KindReceipt {
		return c.applyReceipt(tx, peer, ct, b)
	}
	if content.IsGroup(ct.Kind) {
		return c.applyGroupControl(tx, peer, ct, b) // groupreceive.go
	}
	contact, err := isContact(tx, peer)
	if err != nil {
		return err
	}
	if !contact {
		if req, err := isRequest(tx, peer); err != nil {
			return err
		} else if !req {
			if err := tx.PutRequest(store.Request{ID: peer, FirstAt: b.now}); err != nil {
				return err
			}
		} else if full, err := c.requestFull(tx, peer); err != nil {
			return err
		} else if full {
			b.drop(peer, fmt.Sprintf("a message beyond the %d a message request keeps; accept the request to see more", c.opts.MaxRequestMessages))
			return c.track(tx, peer, ct.Seq, 0, b)
		}
	}
	conv, err := tx.Conversation(peer)
	if errors.Is(err, store.ErrNotFound) {
		// A new conversation takes the timer the sender uses.
		conv = store.Conversation{ID: peer, Timer: ct.Timer, UpdatedAt: b.now}
		if ct.Kind == content.KindTimerChange {
			if conv.Timer, err = defaultTimer(tx); err != nil {
				return err
			}
		}
		err = tx.PutConversation(conv)
	}
	if err != nil {
		return err
	}
	var msgID int64
	switch ct.Kind {
	case content.KindTimerChange:
		cur, err := loadTimerVersion(tx, peer)
		if err != nil {
			return err
		}
		nv := timerVersion{V: ct.TimerV, By: peer}
		if !cur.less(nv) {
			break // an older change lost to a newer one: nothing to show
		}
		conv.Timer, conv.UpdatedAt = ct.Timer, b.now
		if err := tx.PutConversation(conv); err != nil {
			return err
		}
		if err := saveTimerVersion(tx, peer, nv); err != nil {
			return err
		}
		b.events = append(b.events, &TimerEvent{Conversation: peer, Timer: ct.Timer, By: peer})
		if msgID, err = c.addIncoming(tx, peer, ct, plain, ct.Timer, b); err != nil {
			return err
		}
	case content.KindText:
		if msgID, err = c.addIncoming(tx, peer, ct, plain, ct.Timer, b); err != nil {
			return err
		}
	}
	if contact {
		b.delivered[peer] = append(b.delivered[peer], ct.ID)
	}
	return c.track(tx, peer, ct.Seq, msgID, b)
}

func (c *Client) addIncoming(tx *store.Tx, peer string, ct *content.Content, plain []byte, timer time.Duration, b *batch) (int64, error) {
	m := store.Message{Conversation: peer, Sender: peer, MessageID: ct.ID.String(), State: store.Received,
		Body: plain, SentAt: ct.SentAt, ReceivedAt: b.now, Timer: timer}
	if err := tx.AddMessage(&m); err != nil {
		return 0, err
	}
	b.added[m.ID] = m
	return m.ID, nil
}

func (c *Client) applyReceipt(tx *store.Tx, peer string, ct *content.Content, b *batch) error {
	state := store.Delivered
	if ct.Receipt == content.Read {
		state = store.Read
	}
	var ids []string
	for _, id := range ct.IDs {
		m, err := tx.FindMessage(peer, id.String())
		if errors.Is(err, store.ErrNotFound) {
			continue // expired, or never ours
		}
		if err != nil {
			return err
		}
		if !m.Outgoing || rank(m.State) >= rank(state) {
			continue
		}
		m.State = state
		if err := tx.UpdateMessage(m); err != nil {
			return err
		}
		ids = append(ids, m.MessageID)
	}
	if len(ids) > 0 {
		b.events = append(b.events, &ReceiptEvent{Conversation: peer, MessageIDs: ids, State: State(state)})
	}
	return nil
}

// rank orders outgoing states; a receipt never moves a message backwards.
func rank(s store.State) int {
	switch s {
	case store.Pending:
		return 0
	case store.Sent:
		return 1
	case store.Delivered:
		return 2
	case store.Read:
		return 3
	}
	return -1
}

// inState returns the batch's copy of peer's incoming sequence state.
func (b *batch) inState(tx *store.Tx, peer string) (*inState, error) {
	if s, ok := b.in[peer]; ok {
		return s, nil
	}
	s, err := loadIn(tx, peer)
	if err != nil {
		return nil, err
	}
	b.in[peer] = &s
	return &s, nil
}

// track records an arrived sequence number and releases what it allows:
// the message itself if it is next (or late), then any held ones that
// follow it. msgID 0 stands for a message with nothing to show.
func (c *Client) track(tx *store.Tx, peer string, seq uint64, msgID int64, b *batch) error {
	in, err := b.inState(tx, peer)
	if err != nil {
		return err
	}
	switch {
	case seq <= in.Upto:
		b.announce(peer, msgID)
	case seq == in.Upto+1:
		in.Upto = seq
		b.announce(peer, msgID)
		absorb(in, peer, b)
	default:
		in.Held = append(in.Held, heldMsg{Seq: seq, ID: msgID, At: b.now})
		c.mu.Lock()
		c.heldPeers[peer] = true
		c.mu.Unlock()
		return addToList(tx, setHeldPeers, peer)
	}
	return nil
}

// absorb releases held messages that now follow without a gap.
func absorb(in *inState, peer string, b *batch) {
	slices.SortFunc(in.Held, func(x, y heldMsg) int { return compareU64(x.Seq, y.Seq) })
	for len(in.Held) > 0 && in.Held[0].Seq <= in.Upto+1 {
		h := in.Held[0]
		in.Held = in.Held[1:]
		if h.Seq == in.Upto+1 {
			in.Upto = h.Seq
		}
		b.announce(peer, h.ID)
	}
}

// releaseGaps gives up waiting for missing messages held longer than the
// gap timeout.
func (c *Client) releaseGaps(tx *store.Tx, peer string, b *batch) error {
	in, err := b.inState(tx, peer)
	if err != nil {
		return err
	}
	slices.SortFunc(in.Held, func(x, y heldMsg) int { return compareU64(x.Seq, y.Seq) })
	for len(in.Held) > 0 && !in.Held[0].At.Add(c.opts.GapTimeout).After(b.now) {
		missing := in.Held[0].Seq - in.Upto - 1
		in.Upto = in.Held[0].Seq - 1
		gap := &GapEvent{Peer: peer, Missing: int(missing)}
		if g, member, ok := strings.Cut(peer, "/"); ok { // a member's texts to a group (trackKey)
			gap.Peer, gap.Group = member, g
		}
		b.events = append(b.events, gap)
		absorb(in, peer, b)
	}
	return nil
}

func compareU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (b *batch) announce(peer string, msgID int64) {
	if msgID != 0 {
		b.release[peer] = append(b.release[peer], msgID)
	}
}

// finishBatch releases timed-out gaps, writes back sequence states, queues
// delivery receipts and turns released messages into events.
func (c *Client) finishBatch(tx *store.Tx, b *batch) error {
	c.mu.Lock()
	var held []string
	for p := range c.heldPeers {
		held = append(held, p)
	}
	c.mu.Unlock()
	slices.Sort(held)
	for _, p := range held {
		if err := c.releaseGaps(tx, p, b); err != nil {
			return err
		}
	}
	peers := make([]string, 0, len(b.in))
	for p := range b.in {
		peers = append(peers, p)
	}
	slices.Sort(peers)
	for _, p := range peers {
		in := b.in[p]
		if err := saveIn(tx, p, *in); err != nil {
			return err
		}
		if len(in.Held) == 0 {
			if err := removeFromList(tx, setHeldPeers, p); err != nil {
				return err
			}
			c.mu.Lock()
			delete(c.heldPeers, p)
			c.mu.Unlock()
		}
	}
	for p, ids := range b.delivered {
		if err := c.enqueueReceipt(tx, p, content.Delivered, ids, b.now); err != nil {
			return err
		}
		b.queued = true
	}
	for _, p := range peers {
		req, err := isRequest(tx, p)
		if err != nil {
			return err
		}
		for _, id := range b.release[p] {
			m, ok := b.added[id]
			if !ok { // held from an earlier batch
				var err error
				m, err = tx.Message(id)
				if errors.Is(err, store.ErrNotFound) {
					continue
				}
				if err != nil {
					return err
				}
			}
			msg, err := fromStore(m, req)
			if err != nil {
				return err
			}
			if msg.Group != "" {
				one := []Message{msg}
				if err := nameGroups(tx, one); err != nil {
					return err
				}
				msg = one[0]
			}
			b.events = append(b.events, &MessageEvent{Message: msg})
		}
	}
	return nil
}

// releaseHeldNow runs the gap timeout outside a push (from Run's ticker).
func (c *Client) releaseHeldNow() error {
	c.mu.Lock()
	n := len(c.heldPeers)
	c.mu.Unlock()
	if n == 0 {
		return nil
	}
	var b *batch
	err := c.update(func(tx *store.Tx) error {
		b = newBatch(c.now())
		return c.finishBatch(tx, b)
	})
	if err == nil {
		c.afterBatch(b)
	}
	return err
}

// identityChangedOnReceive records that peer's device presented a new
// identity key in a first message (raw: its type byte and bytes), and keeps
// the envelope until the user decides.
func (c *Client) identityChangedOnReceive(tx *store.Tx, peer string, dev uint32, env *wire.Envelope, raw []byte, b *batch) error {
	m, err := message.ParsePreKeySignalMessage(raw[1:])
	if err != nil {
		b.drop(peer, "a malformed first message")
		return nil
	}
	ev, err := c.recordChanged(tx, peer, dev, m.IdentityKey.Bytes(), b.now)
	if err != nil {
		return err
	}
	if ev != nil {
		b.events = append(b.events, ev)
	}
	kept, err := proto.Marshal(env)
	if err != nil {
		return fmt.Errorf("keeping an envelope: %w", err)
	}
	list, err := settingFields(tx, setHeldEnv+peer)
	if err != nil {
		return err
	}
	var out []byte
	for _, e := range keepHeldEnvelope(list.bytes[1], kept) {
		out = putBytes(out, 1, e)
	}
	if out == nil {
		return tx.DeleteSetting(setHeldEnv + peer)
	}
	return tx.SetSetting(setHeldEnv+peer, out)
}
