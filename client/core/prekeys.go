package core

import (
	"context"
	"slices"
	"time"

	"github.com/skymsg/sky/client/conn"
	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/protocol"
	"github.com/skymsg/sky/protocol/prekey"
	"github.com/skymsg/sky/wire"
)

// Prekeys. The client keeps PreKeyTarget one-time prekeys of each kind on
// the server and tops them up when fewer than PreKeyLow are left. Keys are
// stored before they are uploaded. One-time keys are recorded as uploaded
// in the same transaction that picks them, before the request leaves, so a
// one-time key is offered to the server at most once: the server hands each
// one out once and deletes it, and a repeated upload after a lost answer
// would put a key back that a sender already holds (issue 20). An upload
// that never arrived only leaves keys on the device; the count the server
// reports then stays low and fresh keys are made. The signed and
// last-resort keys are recorded after the server confirmed them, and sent
// again until then (they are not one-time).

const maxPreKeyID = 0xFFFFFF // libsignal's prekey IDs are 24-bit

// MaxLocalPreKeys bounds the one-time prekeys of each kind kept on the
// device: the server holds at most 1,000, so a server that keeps claiming to
// have none (or hands keys out without messages following) cannot make the
// store grow without end. The oldest go first.
const MaxLocalPreKeys = 1200

func nextID(id uint32) uint32 {
	if id == 0 || id >= maxPreKeyID {
		return 1
	}
	return id + 1
}

// Rotation of the signed and last-resort prekeys. A first message made
// without a one-time prekey — and the server decides whether a bundle
// carries one — is protected by these two keys alone, so they are replaced
// every SignedPreKeyLife: once a replaced pair is deleted, a copy of such a
// message (the server's, say) no longer opens even with the device's keys.
// A replaced pair is kept for RetiredPreKeyKeep, long enough for every
// first message made with it: a sender repeats it until answered, for at
// most protocol.MaxUnacknowledgedAge, and the server holds a message for at
// most 30 days.
const (
	SignedPreKeyLife  = 7 * 24 * time.Hour
	RetiredPreKeyKeep = protocol.MaxUnacknowledgedAge + 31*24*time.Hour
)

// newSignedPreKeys makes a new current signed and last-resort prekey.
func (c *Core) newSignedPreKeys(tx *store.Tx, ps *PreKeyState, now time.Time) error {
	ik := c.Local.KeyPair
	ps.SignedID = nextID(ps.SignedID)
	b, _ := prekey.NewSignedPreKey(ps.SignedID, ik, now).MarshalBinary()
	if err := tx.PutPreKey(store.SignedPreKey, ps.SignedID, b); err != nil {
		return err
	}
	ps.NextKyber = nextID(ps.NextKyber)
	ps.LastResortID = ps.NextKyber
	b, _ = prekey.NewKyberPreKey(ps.LastResortID, ik, now, true).MarshalBinary()
	if err := tx.PutPreKey(store.KyberPreKey, ps.LastResortID, b); err != nil {
		return err
	}
	ps.SignedUploaded, ps.SignedAt = false, now.Unix()
	return nil
}

// rotatePreKeys replaces the signed and last-resort prekeys when they are
// older than SignedPreKeyLife, and deletes replaced ones older than
// RetiredPreKeyKeep. It reports whether there is a new pair to upload.
func (c *Core) RotatePreKeys(tx *store.Tx, now time.Time) (bool, error) {
	ps, err := LoadPreKeyState(tx)
	if err != nil || ps.SignedID == 0 {
		return false, err
	}
	rotated := false
	if age := now.Sub(time.Unix(ps.SignedAt, 0)); age >= SignedPreKeyLife {
		ps.Retired = append(ps.Retired, retiredPreKeys{SignedID: ps.SignedID, LastResortID: ps.LastResortID, At: now.Unix()})
		if err := c.newSignedPreKeys(tx, &ps, now); err != nil {
			return false, err
		}
		rotated = true
	}
	keep := ps.Retired[:0]
	for _, r := range ps.Retired {
		if now.Sub(time.Unix(r.At, 0)) < RetiredPreKeyKeep {
			keep = append(keep, r)
			continue
		}
		if err := tx.DeletePreKey(store.SignedPreKey, r.SignedID); err != nil {
			return false, err
		}
		if err := tx.DeletePreKey(store.KyberPreKey, r.LastResortID); err != nil {
			return false, err
		}
	}
	ps.Retired = keep
	return rotated, SavePreKeyState(tx, ps)
}

// lastResortIDs returns the last-resort Kyber prekeys kept, current and
// retired: they are never pruned as one-time keys.
func (ps *PreKeyState) lastResortIDs() []uint32 {
	ids := []uint32{ps.LastResortID}
	for _, r := range ps.Retired {
		ids = append(ids, r.LastResortID)
	}
	return ids
}

// generatePreKeys stores nEC new one-time EC and nKyber one-time Kyber
// prekeys, and the signed and last-resort keys if there are none yet.
func (c *Core) GeneratePreKeys(tx *store.Tx, nEC, nKyber int) error {
	ps, err := LoadPreKeyState(tx)
	if err != nil {
		return err
	}
	now := c.Now()
	ik := c.Local.KeyPair
	if ps.SignedID == 0 {
		if err := c.newSignedPreKeys(tx, &ps, now); err != nil {
			return err
		}
	}
	if err := prunePreKeys(tx, store.OneTimePreKey, nEC); err != nil {
		return err
	}
	if err := prunePreKeys(tx, store.KyberPreKey, nKyber, ps.lastResortIDs()...); err != nil {
		return err
	}
	for range nEC {
		ps.NextEC = nextID(ps.NextEC)
		b, _ := prekey.NewPreKey(ps.NextEC).MarshalBinary()
		if err := tx.PutPreKey(store.OneTimePreKey, ps.NextEC, b); err != nil {
			return err
		}
	}
	for range nKyber {
		ps.NextKyber = nextID(ps.NextKyber)
		b, _ := prekey.NewKyberPreKey(ps.NextKyber, ik, now, false).MarshalBinary()
		if err := tx.PutPreKey(store.KyberPreKey, ps.NextKyber, b); err != nil {
			return err
		}
	}
	return SavePreKeyState(tx, ps)
}

// prunePreKeys deletes the oldest one-time prekeys of kind so that adding
// n more stays within MaxLocalPreKeys; keep are never deleted.
func prunePreKeys(tx *store.Tx, kind store.PreKeyKind, n int, keep ...uint32) error {
	ids, err := tx.PreKeyIDs(kind)
	if err != nil {
		return err
	}
	ids = slices.DeleteFunc(ids, func(id uint32) bool { return slices.Contains(keep, id) })
	for _, id := range ids[:max(0, min(len(ids), len(ids)+n-MaxLocalPreKeys))] {
		if err := tx.DeletePreKey(kind, id); err != nil {
			return err
		}
	}
	return nil
}

// pendingUpload is one UploadPreKeys request's worth of keys not yet
// offered to the server. The one-time keys in it count as uploaded from now.
func (c *Core) pendingUpload(limit int) (*wire.UploadPreKeys, PreKeyState, error) {
	up := &wire.UploadPreKeys{}
	var ps PreKeyState
	err := c.Update(func(tx *store.Tx) error {
		var err error
		if ps, err = LoadPreKeyState(tx); err != nil {
			return err
		}
		if !ps.SignedUploaded && ps.SignedID != 0 {
			b, err := tx.PreKey(store.SignedPreKey, ps.SignedID)
			if err != nil {
				return err
			}
			k, err := prekey.ParseSignedPreKey(b)
			if err != nil {
				return err
			}
			up.SignedEc = &wire.PreKey{Id: k.ID, Key: k.KeyPair.Public.Bytes(), Signature: k.Signature[:]}
			b, err = tx.PreKey(store.KyberPreKey, ps.LastResortID)
			if err != nil {
				return err
			}
			kk, err := prekey.ParseKyberPreKey(b)
			if err != nil {
				return err
			}
			up.LastResortKyber = &wire.PreKey{Id: kk.ID, Key: kk.KeyPair.Public.Bytes(), Signature: kk.Signature[:]}
		}
		ecIDs, err := tx.PreKeyIDs(store.OneTimePreKey)
		if err != nil {
			return err
		}
		for _, id := range ecIDs {
			if id > ps.UploadedEC && len(up.OneTimeEc) < limit/2 {
				b, err := tx.PreKey(store.OneTimePreKey, id)
				if err != nil {
					return err
				}
				k, err := prekey.ParsePreKey(b)
				if err != nil {
					return err
				}
				up.OneTimeEc = append(up.OneTimeEc, &wire.PreKey{Id: id, Key: k.KeyPair.Public.Bytes()})
			}
		}
		kyIDs, err := tx.PreKeyIDs(store.KyberPreKey)
		if err != nil {
			return err
		}
		for _, id := range kyIDs {
			if id > ps.UploadedKyber && !slices.Contains(ps.lastResortIDs(), id) && len(up.OneTimeKyber) < limit-len(up.OneTimeEc) {
				b, err := tx.PreKey(store.KyberPreKey, id)
				if err != nil {
					return err
				}
				k, err := prekey.ParseKyberPreKey(b)
				if err != nil {
					return err
				}
				up.OneTimeKyber = append(up.OneTimeKyber, &wire.PreKey{Id: id, Key: k.KeyPair.Public.Bytes(), Signature: k.Signature[:]})
			}
		}
		for _, k := range up.OneTimeEc {
			ps.UploadedEC = max(ps.UploadedEC, k.GetId())
		}
		for _, k := range up.OneTimeKyber {
			ps.UploadedKyber = max(ps.UploadedKyber, k.GetId())
		}
		return SavePreKeyState(tx, ps)
	})
	return up, ps, err
}

// uploadPending uploads every key not yet known to be on the server.
func (c *Core) uploadPending(ctx context.Context, cn *conn.Conn) (*wire.PreKeyCounts, error) {
	var counts *wire.PreKeyCounts
	for {
		up, _, err := c.pendingUpload(wire.MaxPreKeysPerUpload)
		if err != nil {
			return nil, err
		}
		if up.SignedEc == nil && len(up.OneTimeEc) == 0 && len(up.OneTimeKyber) == 0 {
			return counts, nil
		}
		r, err := cn.Call(ctx, &wire.Request{Op: &wire.Request_UploadPrekeys{UploadPrekeys: up}})
		if err != nil {
			return nil, err
		}
		counts = r.GetPrekeyCounts()
		if up.SignedEc == nil {
			continue
		}
		err = c.Update(func(tx *store.Tx) error {
			ps, err := LoadPreKeyState(tx)
			if err != nil {
				return err
			}
			ps.SignedUploaded = true
			return SavePreKeyState(tx, ps)
		})
		if err != nil {
			return nil, err
		}
	}
}

// maintainPreKeys rotates the signed and last-resort prekeys when due,
// uploads pending keys and tops the server up to the target. It returns the
// fewer of the server's two one-time counts before and after topping up.
func (c *Core) maintainPreKeys(ctx context.Context, cn *conn.Conn) (seen, left int, err error) {
	if err := c.Update(func(tx *store.Tx) error { _, err := c.RotatePreKeys(tx, c.Now()); return err }); err != nil {
		return 0, 0, err
	}
	if _, err := c.uploadPending(ctx, cn); err != nil {
		return 0, 0, err
	}
	r, err := cn.Call(ctx, &wire.Request{Op: &wire.Request_GetPrekeyCounts{GetPrekeyCounts: &wire.GetPreKeyCounts{}}})
	if err != nil {
		return 0, 0, err
	}
	counts := r.GetPrekeyCounts()
	seen = int(min(counts.GetEc(), counts.GetKyber()))
	low, target := uint32(c.Opts.PreKeyLow), c.Opts.PreKeyTarget
	nEC, nKy := 0, 0
	if counts.GetEc() < low {
		nEC = target - int(counts.GetEc())
	}
	if counts.GetKyber() < low {
		nKy = target - int(counts.GetKyber())
	}
	if nEC == 0 && nKy == 0 {
		return seen, seen, nil
	}
	if err := c.Update(func(tx *store.Tx) error { return c.GeneratePreKeys(tx, nEC, nKy) }); err != nil {
		return seen, seen, err
	}
	if counts, err = c.uploadPending(ctx, cn); err != nil || counts == nil {
		return seen, seen, err
	}
	return seen, int(min(counts.GetEc(), counts.GetKyber())), nil
}

// PreKeyCounts asks the server how many one-time prekeys of each kind it
// holds for this device (EC, Kyber).
func (c *Core) PreKeyCounts(ctx context.Context) (ec, kyber int, err error) {
	cn, err := c.connected(ctx)
	if err != nil {
		return 0, 0, err
	}
	r, err := cn.Call(ctx, &wire.Request{Op: &wire.Request_GetPrekeyCounts{GetPrekeyCounts: &wire.GetPreKeyCounts{}}})
	if err != nil {
		return 0, 0, serverError(err)
	}
	return int(r.GetPrekeyCounts().GetEc()), int(r.GetPrekeyCounts().GetKyber()), nil
}
