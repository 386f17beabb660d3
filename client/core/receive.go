package core

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/skymsg/sky/client/conn"
	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/client/protostore"
	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/protocol"
	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/message"
	"github.com/skymsg/sky/protocol/sealed"
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
	// EnvSenderKey is the type byte of a sender-key message (the
	// sealed-sender content type of libsignal's SenderKeyMessage).
	EnvSenderKey = byte(sealed.TypeSenderKey)
)

// Receiver takes one envelope of a push, in the push's transaction, and
// hands it to the part of the client that owns its kind (the client
// package's receive.go is the one); it returns an error only when the store
// fails. ps holds the sessions, written when the receiver commits them.
type Receiver func(ctx context.Context, tx *store.Tx, ps *protostore.Stores, env *wire.Envelope, b *Batch) error

// batch collects what handling one push produced.
type Batch struct {
	Now       time.Time
	Events    []Event
	in        map[string]*SeqState    // loaded incoming sequence states, written back at the end
	release   map[string][]int64      // messages to announce, per peer, in order
	delivered map[string][]content.ID // delivery receipts to queue
	// groupDelivered are delivery receipts for group texts, by author
	// and group (groupreceipts.go).
	groupDelivered map[groupRcpt][]content.ID
	Added          map[int64]store.Message // messages this batch stored, by ID
	Queued         bool                    // the outbox grew
	prekeys        bool                    // a first message used prekeys
	refreshed      []string                // peers whose refused access key was replaced by a new one
	// Device is the sending device of the envelope being handled: each
	// device of an account has its own sequence numbers (SeqKey).
	Device    uint32
	final     bool             // a second pass: no more rechecks
	recheck   []*wire.Envelope // envelopes from devices not on their sender's accepted list
	recheckOf []string         // whose lists to fetch again before the second pass
	// claims are device list versions senders use that are newer than
	// the accepted ones (followClaims).
	claims map[string]uint64
}

// Recheck holds env back for a second pass after peer's device list was
// fetched again (it came from a device not on the accepted list); false
// on the second pass, when such an envelope is refused.
func (b *Batch) Recheck(peer string, env *wire.Envelope) bool {
	if b.final {
		return false
	}
	b.recheck = append(b.recheck, env)
	if !slices.Contains(b.recheckOf, peer) {
		b.recheckOf = append(b.recheckOf, peer)
	}
	return true
}

func NewBatch(now time.Time) *Batch {
	return &Batch{Now: now, in: map[string]*SeqState{}, release: map[string][]int64{}, delivered: map[string][]content.ID{}, Added: map[int64]store.Message{}}
}

func (b *Batch) Drop(from, reason string) {
	b.Events = append(b.Events, &DroppedEvent{From: from, Reason: reason})
}

// handleBatch stores a push's envelopes and then acknowledges them.
func (c *Core) handleBatch(ctx context.Context, cn *conn.Conn, envs []*wire.Envelope) error {
	b, err := c.Receive(ctx, envs)
	if err != nil {
		return err
	}
	if len(b.recheck) > 0 {
		// Envelopes from devices not on their sender's accepted list: the
		// list is fetched again (checked as always), then they are
		// handled once more, and refused if the device is still not on it.
		for _, p := range b.recheckOf {
			if err := c.RefreshDeviceList(ctx, cn, p); err != nil {
				c.Opts.Logger.Warn("fetching a device list failed", "err", err)
			}
		}
		again, err := c.receive(ctx, b.recheck, true)
		if err != nil {
			return err
		}
		c.AfterBatch(again)
		defer c.followClaims(ctx, cn, again)
	}
	defer c.followClaims(ctx, cn, b) // after the batch's own events
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
	c.AfterBatch(b)
	return nil
}

// AfterBatch runs once a batch committed: peers whose fresh access key
// arrived are unblocked before the events go out, so whoever reacts to an
// event (a Flush after a message) never sees the outbox still held back
// by the refused key.
func (c *Core) AfterBatch(b *Batch) {
	for _, p := range b.refreshed {
		c.Unblock(p)
	}
	c.Emit(b.Events...)
	if b.prekeys {
		poke(c.prekeyKick)
	}
	if b.Queued || len(b.refreshed) > 0 {
		c.KickOutbox()
	}
	c.KickExpiry()
}

// receive handles envelopes in one transaction.
func (c *Core) Receive(ctx context.Context, envs []*wire.Envelope) (*Batch, error) {
	return c.receive(ctx, envs, false)
}

func (c *Core) receive(ctx context.Context, envs []*wire.Envelope, final bool) (*Batch, error) {
	var b *Batch
	err := c.Update(func(tx *store.Tx) error {
		b = NewBatch(c.Now())
		b.final = final
		ps := protostore.New(tx, c.Local, b.Now)
		for _, env := range envs {
			if err := c.recv(ctx, tx, ps, env, b); err != nil {
				return err
			}
		}
		return c.finishBatch(tx, b)
	})
	return b, err
}

// isProtocolError reports whether err comes from the message rather than
// from the store: such an envelope is dropped, a store failure aborts.
func IsProtocolError(err error) bool {
	for _, e := range []error{protocol.ErrInvalidMessage, protocol.ErrInvalidKey, protocol.ErrInvalidSignature,
		protocol.ErrNoSession, protocol.ErrDuplicateMessage, protocol.ErrUntrustedIdentity, protocol.ErrInvalidState} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
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
func (c *Core) open(ctx context.Context, ps *protostore.Stores, local, addr protocol.Address, raw []byte) (ct *content.Content, plain []byte, drop string, err error) {
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
	case !IsProtocolError(err):
		return nil, nil, "", err
	case errors.Is(err, protocol.ErrDuplicateMessage):
		return nil, nil, "a message delivered twice", nil
	default:
		return nil, nil, "a message that does not decrypt", nil
	}
	plain, ct, err = content.Open(padded)
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

// Incoming is an envelope unwrapped: who sent it (by the certificate inside
// the sealed envelope), and the inner ciphertext, its type byte first.
type Incoming struct {
	Env  *wire.Envelope
	Peer string
	Dev  uint32
	Raw  []byte
	// CertKey is the identity key the sealed envelope's certificate vouches
	// for (nil only in an Incoming not made by Unwrap).
	CertKey *curve.PublicKey
}

// IsGroupMessage reports whether the envelope holds a sender-key message.
func (in *Incoming) IsGroupMessage() bool { return len(in.Raw) >= 2 && in.Raw[0] == EnvSenderKey }

// IsSession reports whether the envelope holds a 1:1 session message.
func (in *Incoming) IsSession() bool {
	return len(in.Raw) >= 2 && (in.Raw[0] == envWhisper || in.Raw[0] == envPreKey)
}

// Unwrap opens a sealed envelope; it returns a reason to drop the envelope
// when that fails.
//
// Every envelope is sealed: it names its sender only inside, in a
// certificate under the pinned trust root, which vouches for the identity
// key the sender sealed it with; that key must be the one pinned for the
// sender's session. An envelope whose content is not sealed (what an
// identified envelope, the sender named by the server, held before they
// were removed) is of an unknown kind and dropped, whatever the server
// claims around it.
func (c *Core) Unwrap(env *wire.Envelope, now time.Time) (in Incoming, drop string) {
	in.Env = env
	if !isSealed(env) {
		return in, "an envelope of an unknown kind (not sealed)"
	}
	p, d, inner, key, drop := c.unseal(env, now)
	if drop != "" {
		in.Peer = p
		return in, drop
	}
	in.Peer, in.Dev, in.Raw, in.CertKey = p, d, inner, &key
	return in, ""
}

// Decrypt advances the session with a 1:1 message and checks what it says
// (see open), and that a sealed envelope's certificate vouches for the
// session's key. It returns the content and its unpadded encoding; or
// drop; or, for a first message made with a changed identity key that names
// its sender truthfully, changed (nothing kept, for the user to decide on).
// On a drop or a change the session is left as it was.
func (c *Core) Decrypt(ctx context.Context, ps *protostore.Stores, in *Incoming, b *Batch) (ct *content.Content, plain []byte, changed bool, drop string, err error) {
	addr := protocol.Address{Name: in.Peer, DeviceID: in.Dev}
	local := protocol.Address{Name: c.acct.ID, DeviceID: c.acct.DeviceID}
	ct, plain, drop, err = c.open(ctx, ps, local, addr, in.Raw)
	if err == nil && drop == "" && in.CertKey != nil {
		drop, err = certMatches(ps, addr, in.Raw, ct == nil, *in.CertKey)
	}
	if err != nil || drop != "" {
		ps.Discard()
		return nil, nil, false, drop, err
	}
	if in.Raw[0] == envPreKey {
		b.prekeys = true
	}
	if ct == nil {
		ps.Discard()
		return nil, nil, true, "", nil
	}
	return ct, plain, false, "", nil
}

// Keep commits the session a message advanced and marks the message seen;
// fresh is false (and the message dropped) for one seen before. The access
// key the sender shared is kept for sealed sending to them.
func (c *Core) Keep(tx *store.Tx, ps *protostore.Stores, peer string, ct *content.Content, b *Batch) (fresh bool, err error) {
	fresh, err = tx.MarkSeen("msg/"+peer+"/"+ct.ID.String(), b.Now)
	if err != nil {
		return false, err
	}
	if err := ps.Commit(); err != nil {
		return false, err
	}
	if !fresh {
		b.Drop(peer, "a message delivered twice")
		return false, nil
	}
	c.gossip(peer, ct.DirectoryHead)
	if err := b.claimList(tx, peer, ct.DeviceList); err != nil {
		return false, err
	}
	refresh, err := KeepPeerAccess(tx, peer, ct.AccessKey)
	if refresh {
		b.refreshed = append(b.refreshed, peer)
	}
	return true, err
}

// Conversation1to1 returns the conversation with peer, creating it (with
// timer) for a first message.
func (c *Core) ConversationFor(tx *store.Tx, peer string, timer time.Duration, now time.Time) (store.Conversation, error) {
	conv, err := tx.Conversation(peer)
	if errors.Is(err, store.ErrNotFound) {
		conv = store.Conversation{ID: peer, Timer: timer, UpdatedAt: now}
		err = tx.PutConversation(conv)
	}
	return conv, err
}

// Deliver queues a delivery receipt for a message of peer's (only contacts
// get receipts).
func (b *Batch) Deliver(peer string, id content.ID) {
	b.delivered[peer] = append(b.delivered[peer], id)
}

// AddIncoming stores a received 1:1 message.
func (c *Core) AddIncoming(tx *store.Tx, peer string, ct *content.Content, plain []byte, timer time.Duration, b *Batch) (int64, error) {
	m := store.Message{Conversation: peer, Sender: peer, MessageID: ct.ID.String(), State: store.Received,
		Body: plain, SentAt: ct.SentAt, ReceivedAt: b.Now, Timer: timer}
	if err := tx.AddMessage(&m); err != nil {
		return 0, err
	}
	b.Added[m.ID] = m
	return m.ID, nil
}

// ApplyReceipt moves the messages a receipt names forward.
func (c *Core) ApplyReceipt(tx *store.Tx, peer string, ct *content.Content, b *Batch) error {
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
		b.Events = append(b.Events, &ReceiptEvent{Conversation: peer, MessageIDs: ids, State: State(state)})
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

// SeqState returns the batch's copy of peer's incoming sequence state.
func (b *Batch) InState(tx *store.Tx, peer string) (*SeqState, error) {
	if s, ok := b.in[peer]; ok {
		return s, nil
	}
	s, err := LoadSeq(tx, peer)
	if err != nil {
		return nil, err
	}
	b.in[peer] = &s
	return &s, nil
}

// track records an arrived sequence number and releases what it allows:
// the message itself if it is next (or late), then any held ones that
// follow it. msgID 0 stands for a message with nothing to show.
func (c *Core) Track(tx *store.Tx, peer string, seq uint64, msgID int64, b *Batch) error {
	peer = SeqKey(peer, b.Device) // each of a sender's devices counts on its own
	in, err := b.InState(tx, peer)
	if err != nil {
		return err
	}
	switch {
	case seq <= in.Upto:
		b.announce(peer, msgID)
	case seq == in.Upto+1:
		in.Upto = seq
		b.announce(peer, msgID)
		Absorb(in, peer, b)
	default:
		in.Held = append(in.Held, HeldMsg{Seq: seq, ID: msgID, At: b.Now})
		c.mu.Lock()
		c.heldPeers[peer] = true
		c.mu.Unlock()
		return AddToList(tx, setHeldPeers, peer)
	}
	return nil
}

// absorb releases held messages that now follow without a gap.
func Absorb(in *SeqState, peer string, b *Batch) {
	slices.SortFunc(in.Held, func(x, y HeldMsg) int { return compareU64(x.Seq, y.Seq) })
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
func (c *Core) releaseGaps(tx *store.Tx, peer string, b *Batch) error {
	in, err := b.InState(tx, peer)
	if err != nil {
		return err
	}
	slices.SortFunc(in.Held, func(x, y HeldMsg) int { return compareU64(x.Seq, y.Seq) })
	for len(in.Held) > 0 && !in.Held[0].At.Add(c.Opts.GapTimeout).After(b.Now) {
		missing := in.Held[0].Seq - in.Upto - 1
		in.Upto = in.Held[0].Seq - 1
		gap := &GapEvent{Peer: seqBase(peer), Missing: int(missing)}
		if g, member, ok := strings.Cut(seqBase(peer), "/"); ok { // a member's texts to a group (trackKey)
			gap.Peer, gap.Group = member, g
		}
		b.Events = append(b.Events, gap)
		Absorb(in, peer, b)
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

func (b *Batch) announce(peer string, msgID int64) {
	if msgID != 0 {
		b.release[peer] = append(b.release[peer], msgID)
	}
}

// finishBatch releases timed-out gaps, writes back sequence states, queues
// delivery receipts and turns released messages into events.
func (c *Core) finishBatch(tx *store.Tx, b *Batch) error {
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
		if err := SaveSeq(tx, p, *in); err != nil {
			return err
		}
		if len(in.Held) == 0 {
			if err := RemoveFromList(tx, setHeldPeers, p); err != nil {
				return err
			}
			c.mu.Lock()
			delete(c.heldPeers, p)
			c.mu.Unlock()
		}
	}
	for p, ids := range b.delivered {
		if err := c.enqueueReceipt(tx, p, content.Delivered, ids, b.Now); err != nil {
			return err
		}
		b.Queued = true
	}
	if err := c.queueGroupDelivered(tx, b); err != nil {
		return err
	}
	for _, p := range peers {
		req, err := IsRequest(tx, seqBase(p))
		if err != nil {
			return err
		}
		for _, id := range b.release[p] {
			m, ok := b.Added[id]
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
			msg, err := FromStore(m, req)
			if err != nil {
				return err
			}
			if msg.Group != "" || msg.Quote != nil {
				one := []Message{msg}
				if err := c.nameGroups(tx, one); err != nil {
					return err
				}
				msg = one[0]
			}
			b.Events = append(b.Events, &MessageEvent{Message: msg})
		}
	}
	return nil
}

// releaseHeldNow runs the gap timeout outside a push (from Run's ticker).
func (c *Core) releaseHeldNow() error {
	c.mu.Lock()
	n := len(c.heldPeers)
	c.mu.Unlock()
	if n == 0 {
		return nil
	}
	var b *Batch
	err := c.Update(func(tx *store.Tx) error {
		b = NewBatch(c.Now())
		return c.finishBatch(tx, b)
	})
	if err == nil {
		c.AfterBatch(b)
	}
	return err
}

// TrackKey names the sequence of one member's texts in one group, which
// Track orders like a peer's 1:1 messages.
func TrackKey(id content.GroupID, member string) string { return id.String() + "/" + member }

// SeqKey is the key of one sending device's incoming sequence numbers:
// key itself for device 1 (and for 0, unknown), key#N for device N, since
// every device of an account numbers its messages on its own.
func SeqKey(key string, dev uint32) string {
	if dev <= AnnouncedDevice {
		return key
	}
	return key + "#" + strconv.FormatUint(uint64(dev), 10)
}

// seqBase is the peer (or group track key) of a sequence key.
func seqBase(key string) string {
	base, _, _ := strings.Cut(key, "#")
	return base
}
