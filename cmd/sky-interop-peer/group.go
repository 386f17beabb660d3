package main

import (
	"github.com/skymsg/sky/protocol/senderkey"
)

// senderKeys returns the peer's sender-key store, made on first use (init
// replaces the peer, and with it the store).
func (p *peer) senderKeys() *senderkey.MemoryStore {
	if p.groups == nil {
		p.groups = senderkey.NewMemoryStore()
	}
	return p.groups
}

func distributionID(r *request) (senderkey.DistributionID, error) {
	s, err := r.string("distribution_id")
	if err != nil {
		return senderkey.DistributionID{}, err
	}
	id, err := senderkey.ParseDistributionID(s)
	if err != nil {
		return id, badf("argument %q must be a UUID, got %q", "distribution_id", s)
	}
	return id, nil
}

// groupCreate returns this device's distribution message for the
// distribution, creating its sender key first if needed.
func groupCreate(p *peer, r *request) (any, error) {
	if err := p.ready(); err != nil {
		return nil, err
	}
	id, err := distributionID(r)
	if err != nil {
		return nil, err
	}
	d, err := senderkey.CreateDistribution(ctx, p.senderKeys(), p.addr, id)
	if err != nil {
		return nil, err
	}
	return map[string]string{"skdm": encode64(d.Bytes())}, nil
}

// groupProcess records the sender key a peer distributed.
func groupProcess(p *peer, r *request) (any, error) {
	remote, err := p.remote(r)
	if err != nil {
		return nil, err
	}
	b, err := r.bytes("skdm")
	if err != nil {
		return nil, err
	}
	d, err := senderkey.ParseDistributionMessage(b)
	if err != nil {
		return nil, err
	}
	if err := senderkey.ProcessDistribution(ctx, p.senderKeys(), remote, d); err != nil {
		return nil, err
	}
	return map[string]any{"distribution_id": d.DistributionID.String(), "chain_id": d.ChainID, "iteration": d.Iteration}, nil
}

// groupEncrypt encrypts plaintext with this device's sender key.
func groupEncrypt(p *peer, r *request) (any, error) {
	if err := p.ready(); err != nil {
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
	ct, err := senderkey.Encrypt(ctx, p.senderKeys(), p.addr, id, pt)
	if err != nil {
		return nil, err
	}
	return map[string]any{"type": 7, "ciphertext": encode64(ct)}, nil
}

// groupDecrypt decrypts a group message from a peer.
func groupDecrypt(p *peer, r *request) (any, error) {
	remote, err := p.remote(r)
	if err != nil {
		return nil, err
	}
	ct, err := r.bytes("ciphertext")
	if err != nil {
		return nil, err
	}
	pt, err := senderkey.Decrypt(ctx, p.senderKeys(), remote, ct)
	if err != nil {
		return nil, err
	}
	return map[string]string{"plaintext": encode64(pt)}, nil
}
