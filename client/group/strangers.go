package group

import (
	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/client/core"
	"github.com/skymsg/sky/client/store"
)

// Envelopes from strangers, held for a group. A group's control content (a
// sender key, a departure, a change) from someone this client does not
// count as a member yet — the change adding them is still on its way, or
// they invented it — is not opened for good: nothing of theirs (no session,
// no pinned key) is kept. The envelope itself is held, under one bound for
// all groups together, and handed back to be received again once a change
// of the group arrives (TakeEnvelopes). A server posing as any number of
// strangers so fills at most that bound.

const (
	setHeldEnvs   = "group-held-envs/"   // + group ID: bytes repeated, envelopes from non-members
	setHeldEnvIDs = "group-held-env-ids" // bytes repeated: groups with such envelopes, oldest first
)

// Bounds of the envelopes held from non-members, for all groups together.
const (
	MaxStrangerEnvelopes     = 64
	MaxStrangerEnvelopeBytes = 2 << 20
)

// SharesWith reports whether peer and the user are both members of group
// id (as this client knows it; a member who left and is not yet removed
// still counts).
func (g *Groups) SharesWith(tx *store.Tx, id content.GroupID, peer string) (bool, error) {
	r, err := loadGroup(tx, id)
	if err != nil || r == nil {
		return false, err
	}
	return r.Member(g.self()) && r.State.IsMember(peer), nil
}

// SharesAny reports whether peer is a member of a group the user is in.
func (g *Groups) SharesAny(tx *store.Tx, peer string) (bool, error) {
	ids, err := groupIDs(tx)
	if err != nil {
		return false, err
	}
	for _, id := range ids {
		if ok, err := g.SharesWith(tx, id, peer); err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

// Invites reports whether a group update adds the user to a group the user
// is not in: an invitation (from a stranger, a message request).
func (g *Groups) Invites(tx *store.Tx, ct *content.Content) (bool, error) {
	if ct.Kind != content.KindGroupUpdate || ct.Group == nil {
		return false, nil
	}
	in, err := g.UserIn(tx, ct.GroupID)
	if err != nil || in {
		return false, err
	}
	for _, m := range ct.Group.Members {
		if m == g.self() {
			return true, nil
		}
	}
	return false, nil
}

// HoldEnvelope keeps an envelope from a non-member for group id, within
// the bounds above (the oldest go first).
func (g *Groups) HoldEnvelope(tx *store.Tx, id content.GroupID, env []byte) error {
	ids, err := core.StringList(tx, setHeldEnvIDs)
	if err != nil {
		return err
	}
	lists := map[string][][]byte{}
	n, size := 1, len(env)
	for _, s := range ids {
		f, err := core.SettingFields(tx, setHeldEnvs+s)
		if err != nil {
			return err
		}
		lists[s] = f.Bytes[1]
		for _, e := range f.Bytes[1] {
			n, size = n+1, size+len(e)
		}
	}
	key := id.String()
	if _, ok := lists[key]; !ok {
		ids = append(ids, key)
	}
	lists[key] = append(lists[key], env)
	dirty := map[string]bool{key: true}
	for (n > MaxStrangerEnvelopes || size > MaxStrangerEnvelopeBytes) && len(ids) > 0 {
		oldest := lists[ids[0]]
		if len(oldest) == 0 {
			ids = ids[1:]
			continue
		}
		n, size = n-1, size-len(oldest[0])
		lists[ids[0]], dirty[ids[0]] = oldest[1:], true
	}
	var keep []string
	for _, s := range ids {
		if len(lists[s]) > 0 {
			keep = append(keep, s)
		}
	}
	for s := range dirty {
		var b []byte
		for _, e := range lists[s] {
			b = core.PutBytes(b, 1, e)
		}
		var err error
		if b == nil {
			err = tx.DeleteSetting(setHeldEnvs + s)
		} else {
			err = tx.SetSetting(setHeldEnvs+s, b)
		}
		if err != nil {
			return err
		}
	}
	return core.SaveStringList(tx, setHeldEnvIDs, keep)
}

// TakeEnvelopes returns and forgets the envelopes held for group id.
func (g *Groups) TakeEnvelopes(tx *store.Tx, id content.GroupID) ([][]byte, error) {
	f, err := core.SettingFields(tx, setHeldEnvs+id.String())
	if err != nil || len(f.Bytes[1]) == 0 {
		return nil, err
	}
	if err := tx.DeleteSetting(setHeldEnvs + id.String()); err != nil {
		return nil, err
	}
	return f.Bytes[1], core.RemoveFromList(tx, setHeldEnvIDs, id.String())
}
