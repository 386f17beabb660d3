package web

import (
	"context"
	"time"

	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/client/core"
	"github.com/skymsg/sky/protocol"
	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/identity"
	"github.com/skymsg/sky/protocol/memstore"
	"github.com/skymsg/sky/protocol/sealed"
	"github.com/skymsg/sky/server/servertest"
	"github.com/skymsg/sky/wire"
)

// forgeKeyChange makes a contact's identity key change as a server that
// holds its certified key can (a new phone looks the same to the page): a
// first message claiming to be from `from`, under a new identity key, with a
// sender certificate the server minted for it, sent to `to` as a sealed
// request. The receiving client holds it as a key change to decide on.
func (w *world) forgeKeyChange(from, to, text string) {
	t := w.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	key := curve.GenerateKeyPair()
	sc, err := w.trust.Certify(78, key.Public)
	if err != nil {
		t.Fatal(err)
	}
	issuer, err := sealed.NewIssuer(sc, key.Private)
	if err != nil {
		t.Fatal(err)
	}
	ik := identity.Generate()
	cert, err := issuer.Issue(sealed.Sender{UUID: from, DeviceID: 1, IdentityKey: ik.Public}, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	// Any account fetches the recipient's bundle and sends the request.
	c, err := servertest.Dial(ctx, w.skyd.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if _, err := c.Register(ctx, w.skyd.Code(t, time.Now())); err != nil {
		t.Fatal(err)
	}
	r, err := c.Call(ctx, &wire.Request{Op: &wire.Request_FetchBundles{FetchBundles: &wire.FetchBundles{Account: to}}})
	if err != nil {
		t.Fatal(err)
	}
	wb := r.GetBundles().GetBundles()[0]
	b, err := core.ToBundle(wb)
	if err != nil {
		t.Fatal(err)
	}
	toKey, err := curve.ParsePublicKey(wb.GetIdentityKey())
	if err != nil {
		t.Fatal(err)
	}
	st := memstore.New(ik, 78)
	local, remote := protocol.Address{Name: from, DeviceID: 1}, protocol.Address{Name: to, DeviceID: 1}
	if err := protocol.ProcessPreKeyBundle(ctx, st.Stores(), local, remote, b, time.Now()); err != nil {
		t.Fatal(err)
	}
	body, err := content.Encode(&content.Content{Version: content.Version, Sender: from, SenderDevice: 1, Recipient: to,
		ID: core.NewContentID(), SentAt: time.Now(), Seq: 1000, Kind: content.KindText, Text: text})
	if err != nil {
		t.Fatal(err)
	}
	padded, err := content.PadForSealing(body)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := protocol.Encrypt(ctx, st.Stores(), local, remote, padded, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	s := &sealed.Content{Type: sealed.MessageType(msg.Type), Sender: cert, Message: msg.Bytes}
	plain, err := s.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range wire.SealedSizes {
		if u, ok := sealed.ContentSizeFor(size); ok && (u == len(plain) || u >= len(plain)+2) {
			s.PadTo = u
			break
		}
	}
	env, err := sealed.Encrypt(s, ik, toKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Call(ctx, &wire.Request{Op: &wire.Request_Send{Send: &wire.Send{Account: to, Device: 1, Content: env, Sealed: true}}}); err != nil {
		t.Fatal(err)
	}
}
