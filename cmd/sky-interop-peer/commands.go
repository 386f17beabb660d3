package main

import (
	"context"
	"fmt"
	"time"

	"github.com/skymsg/sky/protocol"
	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/fingerprint"
	"github.com/skymsg/sky/protocol/identity"
	"github.com/skymsg/sky/protocol/kem"
	"github.com/skymsg/sky/protocol/memstore"
	"github.com/skymsg/sky/protocol/prekey"
	"github.com/skymsg/sky/protocol/senderkey"
)

var ctx = context.Background()

// peer is everything the peer knows; init replaces it whole.
type peer struct {
	addr      protocol.Address
	regID     uint32
	ik        identity.KeyPair
	store     *memstore.Store
	nextPreID uint32
	signed    prekey.SignedPreKey
	kyber     prekey.KyberPreKey
	sealed    *sealedState           // set by sealed_config
	groups    *senderkey.MemoryStore // sender keys; see senderKeys
}

type command func(*peer, *request) (any, error)

var commands = map[string]command{
	"ping":                 ping,
	"init":                 initPeer,
	"bundle":               bundle,
	"process_bundle":       processBundle,
	"encrypt":              encrypt,
	"decrypt":              decrypt,
	"fingerprint":          fingerprintCmd,
	"sealed_config":        sealedConfig,
	"sealed_encrypt":       sealedEncrypt,
	"sealed_decrypt":       sealedDecrypt,
	"sealed_multi_encrypt": sealedMultiEncrypt,
	"sealed_multi_split":   sealedMultiSplit,
	"group_create":         groupCreate,
	"group_process":        groupProcess,
	"group_encrypt":        groupEncrypt,
	"group_decrypt":        groupDecrypt,
}

func ping(*peer, *request) (any, error) {
	return map[string]any{"pong": true, "implementation": "sky"}, nil
}

func (p *peer) ready() error {
	if p.store == nil {
		return badf(`send "init" first`)
	}
	return nil
}

func initPeer(p *peer, r *request) (any, error) {
	name, err := r.string("name")
	if err != nil {
		return nil, err
	}
	dev, err := r.deviceID()
	if err != nil {
		return nil, err
	}
	reg, err := r.integer("registration_id", int64(identity.NewRegistrationID()), 1, identity.MaxRegistrationID)
	if err != nil {
		return nil, err
	}
	oneTime, err := r.boolean("one_time_pre_key", true)
	if err != nil {
		return nil, err
	}
	ik := identity.Generate()
	*p = peer{addr: protocol.Address{Name: name, DeviceID: dev}, regID: uint32(reg), ik: ik, store: memstore.New(ik, uint32(reg)), nextPreID: 1}
	p.store.TrustAll = true // the peer protocol: trust every identity key seen, and record it
	p.newSigned()
	p.newKyber()
	return map[string]any{
		"name":            name,
		"device_id":       dev,
		"registration_id": reg,
		"identity_key":    encode64(ik.Public.Bytes()),
		"bundle":          p.bundle(oneTime),
	}, nil
}

func (p *peer) newSigned() {
	p.signed = prekey.NewSignedPreKey(p.signed.ID+1, p.ik, time.Now())
	p.store.StoreSignedPreKey(p.signed)
}

// newKyber makes the Kyber prekey every bundle names until the next
// new_kyber. It is a last-resort key: bundles go on naming it after a session
// used it, so it must stay usable (the store records base keys to refuse a
// replayed first message instead of deleting it), as libsignal's peer keeps
// its Kyber key. A one-time key here would be deleted on first use and a
// later bundle would name a key the peer no longer holds (issue 20).
func (p *peer) newKyber() {
	p.kyber = prekey.NewKyberPreKey(p.kyber.ID+1, p.ik, time.Now(), true)
	p.store.StoreKyberPreKey(p.kyber)
}

// bundleJSON is a bundle as the peer protocol writes it.
type bundleJSON struct {
	RegistrationID        uint32  `json:"registration_id"`
	DeviceID              uint32  `json:"device_id"`
	PreKeyID              *uint32 `json:"pre_key_id"`
	PreKey                *string `json:"pre_key"`
	SignedPreKeyID        uint32  `json:"signed_pre_key_id"`
	SignedPreKey          string  `json:"signed_pre_key"`
	SignedPreKeySignature string  `json:"signed_pre_key_signature"`
	IdentityKey           string  `json:"identity_key"`
	KyberPreKeyID         uint32  `json:"kyber_pre_key_id"`
	KyberPreKey           string  `json:"kyber_pre_key"`
	KyberPreKeySignature  string  `json:"kyber_pre_key_signature"`
}

func (p *peer) bundle(oneTime bool) bundleJSON {
	b := bundleJSON{
		RegistrationID:        p.regID,
		DeviceID:              p.addr.DeviceID,
		SignedPreKeyID:        p.signed.ID,
		SignedPreKey:          encode64(p.signed.KeyPair.Public.Bytes()),
		SignedPreKeySignature: encode64(p.signed.Signature[:]),
		IdentityKey:           encode64(p.ik.Public.Bytes()),
		KyberPreKeyID:         p.kyber.ID,
		KyberPreKey:           encode64(p.kyber.KeyPair.Public.Bytes()),
		KyberPreKeySignature:  encode64(p.kyber.Signature[:]),
	}
	if oneTime {
		k := prekey.NewPreKey(p.nextPreID)
		p.nextPreID++
		p.store.StorePreKey(k)
		id, key := k.ID, encode64(k.KeyPair.Public.Bytes())
		b.PreKeyID, b.PreKey = &id, &key
	}
	return b
}

func bundle(p *peer, r *request) (any, error) {
	if err := p.ready(); err != nil {
		return nil, err
	}
	oneTime, err := r.boolean("one_time_pre_key", true)
	if err != nil {
		return nil, err
	}
	newSigned, err := r.boolean("new_signed", false)
	if err != nil {
		return nil, err
	}
	newKyber, err := r.boolean("new_kyber", false)
	if err != nil {
		return nil, err
	}
	if newSigned {
		p.newSigned()
	}
	if newKyber {
		p.newKyber()
	}
	return map[string]any{"bundle": p.bundle(oneTime)}, nil
}

// remote returns the address the request names (arguments "peer" and
// "device_id"). Every command naming one needs "init" first, so remote
// checks that before it reads the arguments.
func (p *peer) remote(r *request) (protocol.Address, error) {
	if err := p.ready(); err != nil {
		return protocol.Address{}, err
	}
	name, err := r.string("peer")
	if err != nil {
		return protocol.Address{}, err
	}
	dev, err := r.deviceID()
	return protocol.Address{Name: name, DeviceID: dev}, err
}

// parseBundle reads a bundle object. Argument errors are BadRequest; keys
// of the wrong type or length are the protocol's ErrInvalidKey.
func parseBundle(r *request) (*prekey.Bundle, error) {
	var b prekey.Bundle
	var err error
	reg, err := r.integer("registration_id", -1, 0, 1<<32-1)
	if err != nil {
		return nil, err
	}
	dev, err := r.integer("device_id", -1, 1, 127)
	if err != nil {
		return nil, err
	}
	b.RegistrationID, b.DeviceID = uint32(reg), uint32(dev)
	ecKey := func(name string) (curve.PublicKey, error) {
		raw, err := r.bytes(name)
		if err != nil {
			return curve.PublicKey{}, err
		}
		return curve.ParsePublicKey(raw)
	}
	if r.has("pre_key_id") || r.has("pre_key") {
		if b.PreKeyID, err = r.uint32("pre_key_id"); err != nil {
			return nil, err
		}
		k, err := ecKey("pre_key")
		if err != nil {
			return nil, err
		}
		b.PreKey = &k
	}
	if b.SignedPreKeyID, err = r.uint32("signed_pre_key_id"); err != nil {
		return nil, err
	}
	if b.SignedPreKey, err = ecKey("signed_pre_key"); err != nil {
		return nil, err
	}
	if b.SignedPreKeySignature, err = r.bytes("signed_pre_key_signature"); err != nil {
		return nil, err
	}
	if b.IdentityKey, err = ecKey("identity_key"); err != nil {
		return nil, err
	}
	if b.KyberPreKeyID, err = r.uint32("kyber_pre_key_id"); err != nil {
		return nil, err
	}
	raw, err := r.bytes("kyber_pre_key")
	if err != nil {
		return nil, err
	}
	if b.KyberPreKey, err = kem.ParsePublicKey(raw); err != nil {
		return nil, err
	}
	if b.KyberPreKeySignature, err = r.bytes("kyber_pre_key_signature"); err != nil {
		return nil, err
	}
	return &b, nil
}

func processBundle(p *peer, r *request) (any, error) {
	remote, err := p.remote(r)
	if err != nil {
		return nil, err
	}
	obj, err := r.object("bundle")
	if err != nil {
		return nil, err
	}
	b, err := parseBundle(obj)
	if err != nil {
		return nil, err
	}
	if err := protocol.ProcessPreKeyBundle(ctx, p.store.Stores(), p.addr, remote, b, time.Now()); err != nil {
		return nil, err
	}
	return map[string]bool{"session": true}, nil
}

func encrypt(p *peer, r *request) (any, error) {
	remote, err := p.remote(r)
	if err != nil {
		return nil, err
	}
	pt, err := r.bytes("plaintext")
	if err != nil {
		return nil, err
	}
	c, err := protocol.Encrypt(ctx, p.store.Stores(), p.addr, remote, pt, time.Now())
	if err != nil {
		return nil, err
	}
	return map[string]any{"type": c.Type, "ciphertext": encode64(c.Bytes)}, nil
}

func decrypt(p *peer, r *request) (any, error) {
	remote, err := p.remote(r)
	if err != nil {
		return nil, err
	}
	t, err := messageType(r)
	if err != nil {
		return nil, err
	}
	ct, err := r.bytes("ciphertext")
	if err != nil {
		return nil, err
	}
	pt, err := protocol.Decrypt(ctx, p.store.Stores(), p.addr, remote, protocol.Ciphertext{Type: t, Bytes: ct})
	if err != nil {
		return nil, err
	}
	return map[string]string{"plaintext": encode64(pt)}, nil
}

func messageType(r *request) (protocol.MessageType, error) {
	if !r.has("type") {
		return 0, badf(`missing argument "type"`)
	}
	switch string(r.args["type"]) {
	case "2", `"whisper"`:
		return protocol.TypeWhisper, nil
	case "3", `"prekey"`:
		return protocol.TypePreKey, nil
	}
	return 0, badf(`argument "type" must be 2, 3, "whisper" or "prekey", got %s`, r.args["type"])
}

func fingerprintCmd(p *peer, r *request) (any, error) {
	remote, err := p.remote(r)
	if err != nil {
		return nil, err
	}
	their, err := p.identity(remote)
	if err != nil {
		return nil, err
	}
	local, err := identifier(r, "local_identifier", p.addr.Name, "own name")
	if err != nil {
		return nil, err
	}
	other, err := identifier(r, "remote_identifier", remote.Name, "peer")
	if err != nil {
		return nil, err
	}
	fp, err := fingerprint.New(fingerprint.Version, fingerprint.Iterations, local, p.ik.Public, other, their)
	if err != nil {
		return nil, err
	}
	return map[string]string{"displayable": fp.Displayable, "scannable": encode64(fp.Scannable)}, nil
}

// identity returns the identity key recorded for remote.
func (p *peer) identity(remote protocol.Address) (curve.PublicKey, error) {
	k, ok := p.store.Identity(remote)
	if !ok {
		return k, fmt.Errorf("%w (no identity key recorded for %s)", protocol.ErrNoSession, remote)
	}
	return k, nil
}

// identifier returns a base64 argument, or by default the 16 UUID bytes of name.
func identifier(r *request, arg, name, what string) ([]byte, error) {
	if r.has(arg) {
		return r.bytes(arg)
	}
	id, ok := protocol.UUIDBytes(name)
	if !ok {
		return nil, badf("%s %q is not a UUID; pass %q explicitly", what, name, arg)
	}
	return id, nil
}
