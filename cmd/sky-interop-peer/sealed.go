package main

import (
	"bytes"
	"fmt"
	"math"
	"time"

	"github.com/skymsg/sky/protocol"
	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/sealed"
)

// sealedState is what sealed_config set up: the trust root this peer
// accepts and the sender certificate it sends with.
type sealedState struct {
	trustRoot curve.PublicKey
	cert      *sealed.SenderCertificate
}

// The peer protocol's defaults: a trust root whose private key is 32 zero
// bytes and a server key of 32 bytes of 0x11, so that peers agree on them.
var (
	defaultTrustRootPrivate = make([]byte, 32)
	defaultServerKeyPrivate = bytes.Repeat([]byte{0x11}, 32)
)

// sealedConfig makes a server certificate under the trust root and a sender
// certificate for this device, valid until expires_ms (default: in 24 hours).
func sealedConfig(p *peer, r *request) (any, error) {
	if err := p.ready(); err != nil {
		return nil, err
	}
	rootKey, err := bytesOr(r, "trust_root_private", defaultTrustRootPrivate)
	if err != nil {
		return nil, err
	}
	serverKey, err := bytesOr(r, "server_key_private", defaultServerKeyPrivate)
	if err != nil {
		return nil, err
	}
	keyID, err := r.integer("server_key_id", 1, 0, math.MaxUint32)
	if err != nil {
		return nil, err
	}
	expires, err := r.integer("expires_ms", time.Now().Add(24*time.Hour).UnixMilli(), 0, 1<<53-1)
	if err != nil {
		return nil, err
	}
	root, err := sealed.ParseTrustRoot(rootKey)
	if err != nil {
		return nil, err
	}
	serverPriv, err := curve.ParsePrivateKey(serverKey)
	if err != nil {
		return nil, err
	}
	sc, err := root.Certify(uint32(keyID), serverPriv.PublicKey())
	if err != nil {
		return nil, err
	}
	issuer, err := sealed.NewIssuer(sc, serverPriv)
	if err != nil {
		return nil, err
	}
	cert, err := issuer.Issue(sealed.Sender{UUID: p.addr.Name, DeviceID: p.addr.DeviceID, IdentityKey: p.ik.Public}, time.UnixMilli(expires))
	if err != nil {
		return nil, err
	}
	p.sealed = &sealedState{trustRoot: root.Public(), cert: cert}
	return map[string]string{
		"trust_root_public":  encode64(root.Public().Bytes()),
		"server_certificate": encode64(sc.Bytes()),
		"sender_certificate": encode64(cert.Bytes()),
	}, nil
}

func bytesOr(r *request, name string, def []byte) ([]byte, error) {
	if !r.has(name) {
		return def, nil
	}
	return r.bytes(name)
}

func (p *peer) sealedReady() error {
	if err := p.ready(); err != nil {
		return err
	}
	if p.sealed == nil {
		return badf(`send "sealed_config" first`)
	}
	return nil
}

// sealedEncrypt encrypts plaintext for the peer in its 1:1 session and seals
// the result (sealed sender v1) with this device's sender certificate.
func sealedEncrypt(p *peer, r *request) (any, error) {
	if err := p.sealedReady(); err != nil {
		return nil, err
	}
	remote, err := p.remote(r)
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
	c, err := protocol.Encrypt(ctx, p.store.Stores(), p.addr, remote, pt, time.Now())
	if err != nil {
		return nil, err
	}
	their, err := p.identity(remote)
	if err != nil {
		return nil, err
	}
	content := &sealed.Content{Type: sealed.MessageType(c.Type), Sender: p.sealed.cert, Message: c.Bytes,
		Hint: sealed.ContentHint(hint), GroupID: group}
	env, err := sealed.Encrypt(content, p.ik, their)
	if err != nil {
		return nil, err
	}
	return map[string]string{"ciphertext": encode64(env)}, nil
}

// sealedDecrypt opens a sealed message (v1, or a v2 ReceivedMessage),
// validates its sender certificate against the configured trust root at
// timestamp_ms (default: now), refuses self-sends, and decrypts the message
// inside from the sender the certificate names: a 1:1 message, or a
// sender-key message as group_decrypt does. Nothing is changed unless all
// of that succeeds.
func sealedDecrypt(p *peer, r *request) (any, error) {
	if err := p.sealedReady(); err != nil {
		return nil, err
	}
	env, err := r.bytes("ciphertext")
	if err != nil {
		return nil, err
	}
	at, err := r.integer("timestamp_ms", time.Now().UnixMilli(), 0, 1<<53-1)
	if err != nil {
		return nil, err
	}
	me := &sealed.Recipient{Identity: p.ik, UUID: p.addr.Name, DeviceID: p.addr.DeviceID, TrustRoots: []curve.PublicKey{p.sealed.trustRoot}}
	c, err := sealed.Decrypt(env, me, time.UnixMilli(at))
	if err != nil {
		return nil, err
	}
	var pt []byte
	switch c.Type {
	case sealed.TypeWhisper, sealed.TypePreKey:
		from := protocol.Address{Name: c.Sender.UUID(), DeviceID: c.Sender.DeviceID()}
		pt, err = protocol.Decrypt(ctx, p.store.Stores(), p.addr, from, protocol.Ciphertext{Type: protocol.MessageType(c.Type), Bytes: c.Message})
	case sealed.TypeSenderKey:
		pt, err = p.openSenderKey(c)
	default:
		err = fmt.Errorf("%w (a sealed %v message is neither a 1:1 nor a group message)", protocol.ErrInvalidMessage, c.Type)
	}
	if err != nil {
		return nil, err
	}
	var group *string
	if len(c.GroupID) > 0 {
		g := encode64(c.GroupID)
		group = &g
	}
	return map[string]any{
		"sender_uuid":      c.Sender.UUID(),
		"sender_device_id": c.Sender.DeviceID(),
		"message_type":     c.Type,
		"content_hint":     c.Hint,
		"group_id":         group,
		"plaintext":        encode64(pt),
	}, nil
}
