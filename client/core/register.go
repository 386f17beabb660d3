package core

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/skymsg/sky/client/conn"
	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/protocol/identity"
	"github.com/skymsg/sky/wire"
)

// Register creates a new account: it creates the encrypted store in dir
// (which must be empty or missing) protected by passphrase, generates the
// identity key, the device's authentication key and prekeys, redeems the
// activation code at the server, and uploads the public prekeys. The
// returned Client is open; its ID is the new Sky ID.
//
// root is the server operator's trust root, given to the user out of band
// with the activation code. The server must present a certificate signed by
// it before the code is redeemed (ErrTrustRoot otherwise), and the client
// pins it for good: sealed messages are accepted, and sender certificates
// used, only under this root.
//
// If the server refuses (for example an unknown code), the new store is
// erased again, so the user can simply try again.
func Register(ctx context.Context, dir string, passphrase []byte, serverURL string, root TrustRoot, code string, opts Options) (*Core, error) {
	url, err := conn.NormalizeURL(serverURL)
	if err != nil {
		return nil, err
	}
	if root.IsZero() {
		return nil, ErrNoTrustRoot
	}
	opts = opts.withDefaults()
	st, err := store.Create(dir, passphrase, store.Options{KDF: opts.KDF, MaxFailedUnlocks: opts.MaxFailedUnlocks})
	if err != nil {
		return nil, err
	}
	c, err := register(ctx, st, url, root, code, opts)
	if err != nil {
		st.Wipe()
		return nil, err
	}
	return c, nil
}

func register(ctx context.Context, st *store.Store, url string, root TrustRoot, code string, opts Options) (*Core, error) {
	ik := identity.Generate()
	regID := identity.NewRegistrationID()
	_, authKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	ikBytes, err := ik.MarshalBinary()
	if err != nil {
		return nil, err
	}
	if err := st.Update(func(tx *store.Tx) error {
		if err := initSealed(tx, root); err != nil {
			return err
		}
		return tx.SetLocalIdentity(store.LocalIdentity{KeyPair: ikBytes, RegistrationID: regID})
	}); err != nil {
		return nil, err
	}
	cn, err := conn.Dial(ctx, url)
	if err != nil {
		return nil, err
	}
	defer cn.Close()
	if err := checkServerCertificate(cn.Welcome(), root); err != nil {
		return nil, err
	}
	reg, err := cn.Register(ctx, code, authKey, ik.Public.Bytes(), regID)
	switch {
	case errors.Is(err, wire.ErrCodeInvalid):
		return nil, errors.New("the server does not know that activation code, or it was used already; check it or ask the operator for a new one")
	case errors.Is(err, wire.ErrCodeExpired):
		return nil, errors.New("that activation code has expired; ask the server's operator for a new one")
	case err != nil:
		return nil, fmt.Errorf("registering at the server failed: %w", err)
	}
	acct := store.Account{ID: reg.GetAccount(), Server: url, DeviceID: reg.GetDevice(), Credential: store.Secret(authKey.Seed())}
	if err := st.Update(func(tx *store.Tx) error { return tx.SetAccount(acct) }); err != nil {
		return nil, err
	}
	c, err := newClient(st, opts)
	if err != nil {
		return nil, err
	}
	if err := c.Update(func(tx *store.Tx) error {
		return c.GeneratePreKeys(tx, c.Opts.PreKeyTarget, c.Opts.PreKeyTarget)
	}); err != nil {
		c.halt()
		return nil, err
	}
	// The account exists now: a failed upload is retried at the next
	// connection rather than undoing the registration.
	uctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := c.uploadPending(uctx, cn); err != nil {
		c.Opts.Logger.Warn("uploading prekeys failed; will retry on the next connection", "err", err)
	}
	if _, err := c.maintainSealed(uctx, cn); err != nil {
		c.Opts.Logger.Warn("uploading the delivery token's verifier failed; will retry on the next connection", "err", err)
	}
	return c, nil
}
