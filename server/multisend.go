package server

import (
	"time"

	"github.com/skymsg/sky/protocol/sealed"
	"github.com/skymsg/sky/server/store"
	"github.com/skymsg/sky/wire"
)

// Multi-recipient sends (sealed sender v2): one MultiSend carries a v2
// SentMessage and each recipient account's delivery token. Every recipient
// is gated as a single sealed send is (its token, its sealed rate); the
// copies of those that pass are queued in one operation of the group
// commit, so in one transaction; each device receives only its account's
// ReceivedMessage, a copy exactly one sealed size long. Recipients refused
// at the gate or by the store (no such device, queue full) are listed in
// the answer, with why; the sender falls back to single sends for them or
// retries.

// multiOp is a MultiSend waiting for the group commit.
type multiOp struct {
	msgs    []store.NewMessage
	refused []*wire.MultiRefused // at the gate, before the commit
}

func (c *conn) multiSend(id uint64, r *wire.MultiSend) {
	if c.anon == nil {
		c.replyErr(id, badRequest("a multi-recipient send goes on an anonymous connection, with each recipient's delivery token"))
		return
	}
	msg, err := sealed.ParseSentMessage(r.GetMessage(), wire.MaxMultiRecipients)
	if err != nil {
		c.s.m.rejected.Inc()
		c.replyErr(id, badRequest("multi_send: %v", err))
		return
	}
	if e := checkMulti(msg, r); e != nil {
		c.s.m.rejected.Inc()
		c.replyErr(id, e)
		return
	}
	now := c.s.now()
	if wait, ok := take(c.anon.limiter, now); !ok {
		c.s.m.rateLimited.Inc()
		c.replyErr(id, rateLimited("this connection sends sealed messages too fast", wait))
		return
	}
	m := &multiOp{}
	for i := range msg.Recipients {
		rec := &msg.Recipients[i]
		account, ok := wire.ServiceIDAccount(rec.ServiceID)
		if !ok {
			c.s.m.rejected.Inc()
			m.refuse(account, 0, errTokenRejected)
			continue
		}
		if e := c.checkToken(account, r.GetDeliveryTokens()[i], now); e != nil {
			m.refuse(account, 0, e)
			continue
		}
		if e := c.anonQueue(account); e != nil {
			c.s.m.rateLimited.Inc()
			m.refuse(account, 0, e)
			continue
		}
		if wait, ok := c.s.sealedLimit.take(account, now); !ok {
			c.s.m.rateLimited.Inc()
			m.refuse(account, 0, rateLimited("this recipient receives sealed messages too fast", wait))
			continue
		}
		body := msg.Received(rec)
		seen := map[uint32]bool{}
		for _, d := range rec.Devices {
			if !seen[d.ID] {
				seen[d.ID] = true
				m.msgs = append(m.msgs, store.NewMessage{To: store.Address{Account: account, Device: d.ID}, Received: c.s.coarse(now), Body: body})
			}
		}
	}
	if len(m.msgs) == 0 {
		c.multiDone(id, m, nil, nil)
		return
	}
	c.s.batch.submit(&op{multi: m, arrived: time.Now(), c: c, id: id})
}

// checkMulti enforces the request's shape and limits: the v2 form with
// service IDs, one token per recipient account, at most MaxMultiDevices
// copies, and a shared part padded so that every copy is one of the sealed
// sizes (the copies are then as large as single sealed messages).
func checkMulti(msg *sealed.SentMessage, r *wire.MultiSend) *wire.Error {
	if msg.Version != sealed.V2SentVersion {
		return badRequest("multi_send needs a sealed sender v2 message of version %#x", sealed.V2SentVersion)
	}
	if len(r.GetDeliveryTokens()) != len(msg.Recipients) {
		return badRequest("multi_send has %d delivery tokens for %d recipient accounts; send one per account, in the message's order", len(r.GetDeliveryTokens()), len(msg.Recipients))
	}
	devices := 0
	for i := range msg.Recipients {
		devices += len(msg.Recipients[i].Devices)
		if len(r.GetDeliveryTokens()[i]) != wire.DeliveryTokenBytes {
			return badRequest("a delivery token is %d bytes", wire.DeliveryTokenBytes)
		}
	}
	if devices > wire.MaxMultiDevices {
		return wire.NewError(wire.Code_TOO_LARGE, "a multi-recipient send may ask for at most 4000 copies; split it")
	}
	if n := wire.MultiReceivedSize(msg.SharedSize()); !wire.IsSealedSize(n) {
		return badRequest("each copy of a multi-recipient send would be %d bytes; pad the content so that copies are exactly one of %v bytes", n, wire.SealedSizes)
	}
	return nil
}

func (m *multiOp) refuse(account string, device uint32, e *wire.Error) {
	m.refused = append(m.refused, &wire.MultiRefused{Account: account, Device: device, Error: e})
}

// multiDone answers a MultiSend once its copies are committed: errs are the
// store's answers per copy, err a failure of the whole commit.
func (c *conn) multiDone(id uint64, m *multiOp, errs []error, err error) {
	if err != nil {
		c.s.m.rejected.Inc()
		c.replyErr(id, c.storeError(err))
		return
	}
	refused := m.refused
	for i, e := range errs {
		if e != nil {
			to := m.msgs[i].To
			refused = append(refused, &wire.MultiRefused{Account: to.Account, Device: to.Device, Error: c.storeError(e)})
		}
	}
	c.reply(id, &wire.Response{Result: &wire.Response_MultiSent{MultiSent: &wire.MultiSent{Refused: refused}}})
}
