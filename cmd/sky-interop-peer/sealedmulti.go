package main

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/skymsg/sky/protocol"
	"github.com/skymsg/sky/protocol/sealed"
	"github.com/skymsg/sky/protocol/senderkey"
	"github.com/skymsg/sky/protocol/serviceid"
)

// sealedMultiEncrypt encrypts plaintext under this device's sender key for
// distribution_id (as group_encrypt) and seals it once for every recipient
// device (sealed sender v2), as libsignal's sealedSenderMultiRecipientEncrypt
// does: devices of one account are grouped in the order given, and each
// device carries the registration ID of its session.
func sealedMultiEncrypt(p *peer, r *request) (any, error) {
	if err := p.sealedReady(); err != nil {
		return nil, err
	}
	id, err := distributionID(r)
	if err != nil {
		return nil, err
	}
	pt, err := r.bytes("plaintext")
	if err != nil {
		return nil, err
	}
	hint, err := r.integer("content_hint", 0, 0, math.MaxUint32)
	if err != nil {
		return nil, err
	}
	group, err := bytesOr(r, "group_id", nil)
	if err != nil {
		return nil, err
	}
	to, err := p.multiRecipients(r)
	if err != nil {
		return nil, err
	}
	var excluded []serviceid.ID
	names, err := r.strings("excluded")
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		x, ok := serviceid.Parse(n)
		if !ok {
			return nil, badf("excluded recipient %q is not a service ID", n)
		}
		excluded = append(excluded, x)
	}
	ct, err := senderkey.Encrypt(ctx, p.senderKeys(), p.addr, id, pt)
	if err != nil {
		return nil, err
	}
	c := &sealed.Content{Type: sealed.TypeSenderKey, Sender: p.sealed.cert, Message: ct, Hint: sealed.ContentHint(hint), GroupID: group}
	sent, err := sealed.EncryptMulti(c, p.ik, to, excluded)
	if err != nil {
		return nil, err
	}
	return map[string]string{"ciphertext": encode64(sent)}, nil
}

// multiRecipients reads the recipients argument into v2 recipients, with
// identity keys and registration IDs from the sessions.
func (p *peer) multiRecipients(r *request) ([]sealed.MultiRecipient, error) {
	list, err := r.objects("recipients")
	if err != nil {
		return nil, err
	}
	var to []sealed.MultiRecipient
	for _, o := range list {
		remote, err := p.remote(o)
		if err != nil {
			return nil, err
		}
		sid, ok := serviceid.Parse(remote.Name)
		if !ok {
			return nil, badf("recipient %q is not a service ID", remote.Name)
		}
		rec, err := p.store.LoadSession(ctx, remote)
		if err != nil {
			return nil, err
		}
		if rec == nil || rec.Current() == nil {
			return nil, fmt.Errorf("%w (no session with %s)", protocol.ErrNoSession, remote)
		}
		dev := sealed.Device{ID: remote.DeviceID, RegistrationID: rec.Current().RemoteRegistrationID}
		if n := len(to); n > 0 && to[n-1].ServiceID == sid {
			to[n-1].Devices = append(to[n-1].Devices, dev)
			continue
		}
		key, err := p.identity(remote)
		if err != nil {
			return nil, err
		}
		to = append(to, sealed.MultiRecipient{ServiceID: sid, IdentityKey: key, Devices: []sealed.Device{dev}})
	}
	return to, nil
}

// sealedMultiSplit is the server's part: it parses a SentMessage and
// returns the ReceivedMessage of the account named peer, with its devices
// and the excluded accounts.
func sealedMultiSplit(_ *peer, r *request) (any, error) {
	b, err := r.bytes("ciphertext")
	if err != nil {
		return nil, err
	}
	name, err := r.string("peer")
	if err != nil {
		return nil, err
	}
	sid, ok := serviceid.Parse(name)
	if !ok {
		return nil, badf("peer %q is not a service ID", name)
	}
	m, err := sealed.ParseSentMessage(b, math.MaxInt32)
	if err != nil {
		return nil, err
	}
	rec := m.Recipient(sid)
	if rec == nil {
		return nil, fmt.Errorf("%w (%s is not a recipient of this message)", protocol.ErrInvalidMessage, name)
	}
	devices := make([]uint32, len(rec.Devices))
	for i, d := range rec.Devices {
		devices[i] = d.ID
	}
	excluded := make([]string, len(m.Excluded))
	for i, x := range m.Excluded {
		excluded[i] = x.String()
	}
	return map[string]any{"ciphertext": encode64(m.Received(rec)), "device_ids": devices, "excluded": excluded}, nil
}

// openSenderKey decrypts the sender-key message of a sealed content from
// the device its certificate names.
func (p *peer) openSenderKey(c *sealed.Content) ([]byte, error) {
	from := protocol.Address{Name: c.Sender.UUID(), DeviceID: c.Sender.DeviceID()}
	return senderkey.Decrypt(ctx, p.senderKeys(), from, c.Message)
}

// objects returns an argument that is an array of objects.
func (r *request) objects(name string) ([]*request, error) {
	var list []map[string]json.RawMessage
	if !r.has(name) || json.Unmarshal(r.args[name], &list) != nil {
		return nil, badf("argument %q must be an array of objects", name)
	}
	out := make([]*request, len(list))
	for i, m := range list {
		if m == nil {
			return nil, badf("argument %q must be an array of objects", name)
		}
		out[i] = &request{args: m}
	}
	return out, nil
}

// strings returns an optional argument that is an array of strings.
func (r *request) strings(name string) ([]string, error) {
	if !r.has(name) {
		return nil, nil
	}
	var list []string
	if json.Unmarshal(r.args[name], &list) != nil {
		return nil, badf("argument %q must be an array of strings", name)
	}
	return list, nil
}
