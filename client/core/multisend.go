package core

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/skymsg/sky/client/conn"
	"github.com/skymsg/sky/client/protostore"
	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/protocol"
	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/sealed"
	"github.com/skymsg/sky/wire"
)

// Multi-recipient sending (sealed sender v2). A group text is one
// sender-key message queued for every member (group.SendGroup). Where that
// item is next in line for several members whose delivery tokens the client
// knows, the outbox sends it to all of them as one v2 message on one
// anonymous connection (wire.MultiSend): the content is encrypted once and
// each member gets a 48-byte key wrap, so the upload is a few dozen bytes
// per member instead of a 1 KiB envelope each. Members without a known
// token, with a key change waiting, or refused by the server (a rotated
// token, a full queue) stay in the outbox and go one by one, as before.
// The server learns which members received one message together (it
// queues copies of one ciphertext); docs/protocol.md says what that means.

// minMulti is the fewest members for which one v2 message is sent.
const minMulti = 2

// multiOverhead bounds what one recipient adds to a MultiSend: its service
// ID, one device, its key wrap, and its token in the request.
const multiOverhead = 17 + 3 + sealed.V2KeyMaterialSize + 2 + wire.DeliveryTokenBytes

// uploaded counts the bytes of sealed messages this process handed to the
// server (envelopes, and v2 messages with their tokens), for benchmarks.
var uploaded atomic.Int64

// UploadedBytes returns how many bytes of sealed messages this process
// has sent to servers.
func UploadedBytes() int64 { return uploaded.Load() }

// multiCandidate is a group text at the head of one member's queue.
type multiCandidate struct {
	it    store.Outgoing
	inner []byte // type byte and sender-key message
}

// multiInner returns the one sender-key message of an outbox item that may
// go in a v2 message (a group text or update, or a broadcast list's text),
// or nil (1:1 content, which differs per recipient).
func multiInner(it store.Outgoing) []byte {
	item, err := DecodeOutItem(it.Payload)
	if err != nil || item.Group == nil || len(item.Sealed) != 1 || !item.NotBefore.IsZero() {
		return nil
	}
	d := item.Sealed[0]
	if d.Device != AnnouncedDevice || len(d.Bytes) < 2 || d.Bytes[0] != EnvSenderKey {
		return nil
	}
	return d.Bytes
}

// multiPass is what one pass of the outbox remembers of multi-recipient
// sends: the batches tried (by ciphertext) and each item's sender-key
// message (nil: none), decoded once.
type multiPass struct {
	tried  map[string]bool
	inners map[int64][]byte
}

func newMultiPass() *multiPass {
	return &multiPass{tried: map[string]bool{}, inners: map[int64][]byte{}}
}

func (mp *multiPass) inner(it store.Outgoing) []byte {
	b, ok := mp.inners[it.ID]
	if !ok {
		b = multiInner(it)
		mp.inners[it.ID] = b
	}
	return b
}

// sendMulti sends, as v2 messages, each sender-key message that heads the
// queues of several members not skipped in this pass, and returns the
// items left. Items go together when they carry the same ciphertext (the
// items of one group text, or of one broadcast to a list, which are one
// message per recipient's conversation). A batch is sent once every member
// it goes to has it at the head of their queue (their own earlier items,
// such as the sender key, went first), or when force says nothing else can
// go; until then its members are held out of the waves. A batch that
// failed is not tried again in this pass (tried).
func (c *Core) sendMulti(ctx context.Context, items []store.Outgoing, skip map[string]bool, force bool, mp *multiPass) (left []store.Outgoing, held map[string]bool, _ error) {
	cert := c.SenderCertificate()
	if c.Opts.SingleSends || cert == nil {
		return items, nil, nil
	}
	inner := make([][]byte, len(items))
	total := map[string]int{}
	for i, it := range items {
		if skip[it.To] {
			continue
		}
		if inner[i] = mp.inner(it); inner[i] != nil {
			total[string(inner[i])]++
		}
	}
	seen := map[string]bool{}
	batches := map[string][]multiCandidate{}
	var order []string
	for i, it := range items {
		head := !seen[it.To]
		seen[it.To] = true
		k := string(inner[i])
		if !head || inner[i] == nil || total[k] < minMulti || mp.tried[k] {
			continue
		}
		if batches[k] == nil {
			order = append(order, k)
		}
		batches[k] = append(batches[k], multiCandidate{it: it, inner: inner[i]})
	}
	done := map[int64]bool{}
	held = map[string]bool{}
	for _, k := range order {
		b := batches[k]
		if len(b) < minMulti && (len(b) == total[k] || force) {
			continue // one member left: an envelope of its own
		}
		if len(b) < total[k] && !force {
			for _, m := range b {
				held[m.it.To] = true
			}
			continue
		}
		mp.tried[k] = true
		sent, err := c.postMulti(ctx, b, cert)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, conn.ErrClosed) {
				return items, nil, err
			}
			c.Opts.Logger.Warn("a multi-recipient send failed; sending one by one", "err", err)
		}
		if err := c.recordSent(sent); err != nil {
			return items, nil, err
		}
		for _, it := range sent {
			done[it.ID] = true
		}
	}
	for _, it := range items {
		if !done[it.ID] {
			left = append(left, it)
		}
	}
	return left, held, nil
}

// postMulti sends one group text to the members in cs that can take it as
// a v2 message, in as few MultiSends as the limits allow, and returns the
// items the server accepted.
func (c *Core) postMulti(ctx context.Context, cs []multiCandidate, cert *sealed.SenderCertificate) ([]store.Outgoing, error) {
	var (
		to     []sealed.MultiRecipient
		tokens [][]byte
		items  []store.Outgoing
	)
	err := c.View(func(tx *store.Tx) error {
		for _, m := range cs {
			if c.RefuseChanged(tx, m.it.To) != nil {
				continue
			}
			key, ok, err := protostore.Pinned(tx, protocol.Address{Name: m.it.To, DeviceID: AnnouncedDevice})
			if err != nil {
				return err
			}
			k, err := peerKeyOf(tx, m.it.To)
			if err != nil {
				return err
			}
			if !ok || k.key == nil {
				continue // no key yet, or no token: one by one
			}
			access := k.key
			devs, err := AnnouncedDevices(tx, m.it.To) // every device on the member's signed list
			if err != nil {
				return err
			}
			sd := make([]sealed.Device, len(devs))
			for i, d := range devs {
				sd[i] = sealed.Device{ID: d}
			}
			to = append(to, sealed.MultiRecipient{ServiceID: wire.AccountServiceID(m.it.To), IdentityKey: key,
				Devices: sd, Static: c.static(key)})
			tokens = append(tokens, deliveryToken(access))
			items = append(items, m.it)
		}
		return nil
	})
	if err != nil || len(to) < minMulti {
		return nil, err
	}
	sc := &sealed.Content{Type: sealed.TypeSenderKey, Sender: cert, Message: cs[0].inner[1:]}
	plain, err := sc.Bytes()
	if err != nil {
		return nil, err
	}
	if sc.PadTo, err = multiPadTarget(len(plain)); err != nil {
		return nil, err
	}
	per := max(1, min(wire.MaxMultiRecipients, (wire.MaxClientFrameBytes-sc.PadTo-1024)/multiOverhead))
	var sent []store.Outgoing
	for start := 0; start < len(to); start += per {
		end := min(start+per, len(to))
		ok, err := c.multiSend(ctx, sc, to[start:end], tokens[start:end])
		if err != nil {
			return sent, err
		}
		for i, accepted := range ok {
			if accepted {
				sent = append(sent, items[start+i])
			}
		}
	}
	return sent, nil
}

// multiSend seals sc for to, sends it with tokens on a fresh anonymous
// connection, and reports which recipients the server queued.
func (c *Core) multiSend(ctx context.Context, sc *sealed.Content, to []sealed.MultiRecipient, tokens [][]byte) ([]bool, error) {
	msg, err := sealed.EncryptMulti(sc, c.Local.KeyPair, to, nil)
	if err != nil {
		return nil, err
	}
	ac, err := conn.DialAnonymous(ctx, c.acct.Server)
	if err != nil {
		return nil, err
	}
	defer ac.Close()
	ms := &wire.MultiSend{Message: msg, DeliveryTokens: tokens, Padding: make([]byte, countPadding(len(to), len(msg)))}
	r, err := ac.Call(ctx, &wire.Request{Op: &wire.Request_MultiSend{MultiSend: ms}})
	if err != nil {
		return nil, serverError(err)
	}
	uploaded.Add(int64(len(msg) + len(tokens)*(2+wire.DeliveryTokenBytes) + len(ms.Padding)))
	refused := map[string]bool{}
	for _, x := range r.GetMultiSent().GetRefused() {
		refused[x.GetAccount()] = true
	}
	ok := make([]bool, len(to))
	for i, r := range to {
		account, _ := wire.ServiceIDAccount(r.ServiceID)
		ok[i] = !refused[account]
	}
	return ok, nil
}

// countPadding returns the padding that makes a MultiSend to n accounts,
// its v2 message msgLen bytes, as large as one to the next power of two of
// accounts (at most wire.MaxMultiRecipients, and within the frame limit):
// what the request's size tells an observer of the connection is that
// bucket, not the count. The server learns the count anyway, as it queues
// the copies.
func countPadding(n, msgLen int) int {
	bucket := 1
	for bucket < n {
		bucket *= 2
	}
	bucket = min(bucket, wire.MaxMultiRecipients)
	pad := (bucket - n) * multiOverhead
	room := wire.MaxClientFrameBytes - 1024 - msgLen - n*(2+wire.DeliveryTokenBytes)
	return max(0, min(pad, room))
}

// multiPadTarget returns the content size that makes each copy of a v2
// message from n bytes of content the smallest sealed size it fits.
func multiPadTarget(n int) (int, error) {
	for _, size := range wire.SealedSizes {
		if u := size - sealed.V2ReceivedOverhead; u == n || u >= n+2 {
			return u, nil
		}
	}
	return 0, fmt.Errorf("a message of %d bytes does not fit the largest sealed size; shorten it", n)
}

// maxStatics bounds the static secrets kept in memory.
const maxStatics = 4096

// static returns the v2 static secret with the holder of key (the
// agreement of the two identity keys; sealed.StaticSecret), computed once
// and kept in memory only, or nil if key is unusable. Keyed by the key
// itself, so a changed key never meets an old secret.
func (c *Core) static(key curve.PublicKey) *[32]byte {
	k := string(key.Bytes())
	c.mu.Lock()
	s := c.statics[k]
	c.mu.Unlock()
	if s != nil {
		return s
	}
	v, err := sealed.StaticSecret(c.Local.KeyPair, key)
	if err != nil {
		return nil
	}
	c.mu.Lock()
	if c.statics == nil || len(c.statics) >= maxStatics {
		c.statics = map[string]*[32]byte{}
	}
	c.statics[k] = &v
	c.mu.Unlock()
	return &v
}

// BroadcastReady reports whether a broadcast list's text may go to peer as
// a sender-key message in a v2 send: peer gave the user its own access key
// (so peer keeps the user as a contact and takes the list's sender key)
// and the server has not refused it, peer's identity key is pinned, and no
// key change waits for the user. Others get a 1:1 message each.
func (c *Core) BroadcastReady(tx *store.Tx, peer string) (bool, error) {
	if c.Opts.SingleSends || c.RefuseChanged(tx, peer) != nil {
		return false, nil
	}
	if _, ok, err := protostore.Pinned(tx, protocol.Address{Name: peer, DeviceID: AnnouncedDevice}); err != nil || !ok {
		return false, err
	}
	k, err := peerKeyOf(tx, peer)
	return k.own && !k.refsed, err
}
