package client

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/skymsg/sky/client/conn"
	"github.com/skymsg/sky/client/core"
	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/client/transparency"
	"github.com/skymsg/sky/protocol/curve"
)

// The key directory (package client/transparency): every contact's key is
// checked against it before a session starts, and the own entry is watched.

// KeyDirectoryEvent: a key directory check failed (see core).
type KeyDirectoryEvent = core.KeyDirectoryEvent

// KeyDirectoryOptions configure the key directory checks (Options).
type KeyDirectoryOptions = core.KeyDirectoryOptions

// ErrKeyDirectoryAlarm marks a failed key directory check that only a
// misbehaving server explains.
var ErrKeyDirectoryAlarm = transparency.ErrAlarm

const ktSetting = "keydir-state"

// coreCheck adapts a transparency.Checker to the core's KeyCheck (and
// HeadGossip).
type coreCheck struct{ k *transparency.Checker }

func (a coreCheck) CheckKey(ctx context.Context, cn *conn.Conn, peer string, key []byte) error {
	return a.k.CheckKey(ctx, cn, peer, key)
}
func (a coreCheck) CheckList(ctx context.Context, cn *conn.Conn, account string, version uint64, digest [32]byte, devices int) error {
	return a.k.CheckList(ctx, cn, account, version, digest, devices)
}
func (a coreCheck) Monitor(ctx context.Context, cn *conn.Conn) error { return a.k.Monitor(ctx, cn) }
func (a coreCheck) Interval() time.Duration                          { return a.k.Interval() }
func (a coreCheck) Head() []byte                                     { return a.k.Head() }
func (a coreCheck) Gossip(peer string, head []byte)                  { a.k.Gossip(peer, head) }

// settingPersist keeps the checker's state in the encrypted store.
type settingPersist struct{ c *core.Core }

func (p settingPersist) Load() (b []byte, err error) {
	err = p.c.View(func(tx *store.Tx) error {
		b, err = tx.Setting(ktSetting)
		if errors.Is(err, store.ErrNotFound) {
			b, err = nil, nil
		}
		return err
	})
	return b, err
}

func (p settingPersist) Save(b []byte) error {
	return p.c.Update(func(tx *store.Tx) error { return tx.SetSetting(ktSetting, b) })
}

// ParseAuditor reads an auditor as NAME=KEY (KEY: base64, as sky-auditor
// init prints it).
func ParseAuditor(s string) (*transparency.Auditor, error) {
	name, key, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return nil, fmt.Errorf("an auditor is NAME=KEY (the key sky-auditor init printed), not %q", s)
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(key))
	if err != nil {
		return nil, fmt.Errorf("auditor %s: the key is not base64: %w", name, err)
	}
	k, err := curve.ParsePublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("auditor %s: not an auditor's key: %w", name, err)
	}
	return &transparency.Auditor{Name: name, Key: k}, nil
}

// newKeyCheck builds the checks for c, or nil when they are off.
func newKeyCheck(c *core.Core) (*transparency.Checker, error) {
	o := c.Opts.KeyDirectory
	if o.Off {
		return nil, nil
	}
	rb, err := base64.StdEncoding.DecodeString(c.TrustRoot().String())
	if err != nil {
		return nil, err
	}
	root, err := curve.ParsePublicKey(rb)
	if err != nil {
		return nil, err
	}
	cfg := transparency.Config{
		Own: c.ID(), OwnKey: c.Local.KeyPair.Public.Bytes(), Roots: []curve.PublicKey{root},
		Interval: o.Interval, Now: c.Now, Persist: settingPersist{c},
	}
	if o.Auditor != "" {
		if cfg.Auditor, err = ParseAuditor(o.Auditor); err != nil {
			return nil, err
		}
	}
	return transparency.New(cfg)
}

// KeyConfirmation says whether the key directory showed peer's current key.
type KeyConfirmation struct {
	Confirmed bool
	Auditor   string // the auditor that countersigned the head it was seen at
	Head      uint64 // that head's size in epochs
}

// KeyDirectoryStatus says whether the key directory confirmed the key
// pinned for peer (the one safety numbers are computed from).
func (c *Client) KeyDirectoryStatus(peer string) (KeyConfirmation, error) {
	if c.kt == nil {
		return KeyConfirmation{}, nil
	}
	var pinned []byte
	err := c.core.View(func(tx *store.Tx) error {
		_, p, err := core.PeerIdentityOf(tx, peer)
		pinned = p.Key
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return err
	})
	if err != nil {
		return KeyConfirmation{}, err
	}
	conf, ok := c.kt.Confirmed(peer)
	if !ok || pinned == nil || string(conf.Key) != string(pinned) {
		return KeyConfirmation{}, nil
	}
	return KeyConfirmation{Confirmed: true, Auditor: conf.Auditor, Head: conf.Head}, nil
}
