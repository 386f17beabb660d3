package server

import (
	"github.com/skymsg/sky/server/store"
	"github.com/skymsg/sky/wire"
	"time"
)

// Access requests. When the server refuses a sender's delivery token for a
// contact, the sender asks the contact for their current access key, end
// to end, in a small sealed message (client/content, KindAccessRequest).
// It must not go on the sender's authenticated connection: a server that
// forged the refusal would learn from it who writes to whom, the very thing
// sealed sending hides. So it goes on the anonymous connection, without a
// token, bounded instead by: one per connection; the two smallest sealed
// sizes; per source address (in memory only, like the other per-address
// budgets); and per recipient, together with the sealed requests of
// strangers (Config.RequestInRate), so it can fill no more of a queue than
// they can.

// accessRequestSizes: an access request is a small message (a whisper
// message fits 1 KiB; one that still carries a session's prekey part, 4).
const maxAccessRequestBytes = 4 << 10

// accessRequest queues a sealed access request from an anonymous connection.
func (c *conn) accessRequest(id uint64, r *wire.Send) {
	switch {
	case c.anon == nil:
		c.replyErr(id, badRequest("an access request goes on an anonymous connection: on an authenticated one it would tie you to the recipient"))
		return
	case len(r.GetDeliveryToken()) > 0 || r.GetSealed():
		c.replyErr(id, badRequest("an access request carries no delivery token and no sealed flag"))
		return
	case !ValidAccountID(r.GetAccount()) || r.GetDevice() == 0:
		c.replyErr(id, badRequest("an access request needs a valid account ID and a device number from 1"))
		return
	case !wire.IsSealedSize(len(r.GetContent())) || len(r.GetContent()) > maxAccessRequestBytes:
		c.s.m.rejected.Inc()
		c.replyErr(id, badRequest("an access request is a sealed envelope of 1 or 4 KiB"))
		return
	case c.anon.asked:
		c.s.m.rateLimited.Inc()
		c.replyErr(id, rateLimited("one access request per anonymous connection; open a new one", time.Second))
		return
	}
	c.anon.asked = true
	now := c.s.now()
	if wait, ok := c.s.accessAskLimit.take(c.ip.String(), now); !ok {
		c.s.m.rateLimited.Inc()
		c.replyErr(id, rateLimited("too many access requests from your address", wait))
		return
	}
	if e := c.anonQueue(r.GetAccount()); e != nil {
		c.s.m.rateLimited.Inc()
		c.replyErr(id, e)
		return
	}
	if wait, ok := c.s.requestIn.take(r.GetAccount(), now); !ok {
		c.s.m.rateLimited.Inc()
		c.replyErr(id, rateLimited("this recipient has too many message requests waiting; retry later", wait))
		return
	}
	c.s.batch.submit(&op{
		msg:     store.NewMessage{To: store.Address{Account: r.GetAccount(), Device: r.GetDevice()}, Received: c.s.coarse(now), Body: r.GetContent()},
		arrived: time.Now(),
		c:       c,
		id:      id,
	})
}
