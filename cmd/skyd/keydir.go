package main

import (
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/sealed"
	"github.com/skymsg/sky/server"
	"github.com/skymsg/sky/server/keydir"
	"github.com/skymsg/sky/server/store"
)

// keyDirFlags configure the key directory (key transparency). It runs once
// the trust root has certified a directory key, which trust-root certify
// (and the first start) do along with the sealed-sender key.
type keyDirFlags struct {
	interval time.Duration
	auditors []curve.PublicKey
}

func (f *keyDirFlags) register(fs *flag.FlagSet) {
	fs.DurationVar(&f.interval, "kt-interval", keydir.DefaultInterval, "how often the key directory signs a new tree head (0: off)")
	fs.Func("kt-auditor", "public key (base64) of an auditor (sky-auditor) whose countersignatures clients may require; repeat for several", func(s string) error {
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("not base64: %w", err)
		}
		k, err := curve.ParsePublicKey(b)
		if err != nil {
			return fmt.Errorf("not an auditor's public key (sky-auditor init prints it): %w", err)
		}
		f.auditors = append(f.auditors, k)
		return nil
	})
}

func (f *keyDirFlags) config() (server.KeyDirConfig, error) {
	if f.interval < 0 || (f.interval > 0 && f.interval < time.Second) {
		return server.KeyDirConfig{}, fmt.Errorf("--kt-interval %v: use 0 (off) or at least 1s", f.interval)
	}
	c := server.KeyDirConfig{Interval: f.interval, Auditors: f.auditors}
	if f.interval == 0 {
		c.Interval = -1
	}
	return c, nil
}

// certifyKeyDir certifies a new directory signing key with root (keeping
// the VRF key), as every certification of the server does.
func certifyKeyDir(ctx context.Context, st store.Store, root *sealed.TrustRoot) error {
	kst, ok := st.(keydir.Store)
	if !ok {
		return nil
	}
	if _, err := keydir.CertifyWithRoot(ctx, kst, root, 0); err != nil {
		return fmt.Errorf("certifying the key directory's key: %w", err)
	}
	return nil
}
