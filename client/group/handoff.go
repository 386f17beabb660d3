package group

import (
	"slices"

	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/client/core"
	"github.com/skymsg/sky/client/store"
)

// Handing groups to a linked device. A newly linked device asks the
// account's other devices for the groups (core.AskGroups); each answers,
// inside the 1:1 sessions to the account's other devices, with each signed
// group the user is in: its state with its proof
// (a KindGroupUpdate, as an invitee gets it) and the access keys of its
// members. A device takes such an update only from its own account's
// devices and judges it like any change: the proof must verify to the
// group's ID, so another device can hand it nothing an admin did not sign.
// Members' sender keys are not handed over: a member sends the user's
// account its key again once it learns of the new device (see
// ForgetKeyHolder), so the new device reads their next texts.

// HandOff queues every signed group the user is in to the account's other
// devices (a newly linked one asked).
func (g *Groups) HandOff(tx *store.Tx) error {
	ids, err := groupIDs(tx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		r, err := loadGroup(tx, id)
		if err != nil {
			return err
		}
		if r == nil || r.Proof == nil || !r.Member(g.self()) {
			continue // an unsigned group moves when an admin next changes it
		}
		body, err := g.updateBody(tx, nil, r, g.self())
		if err != nil {
			return err
		}
		ct := &content.Content{Kind: content.KindGroupUpdate, GroupID: id, Timer: r.State.Timer, Group: body}
		if err := g.c.EnqueueControl(tx, g.self(), ct); err != nil {
			return err
		}
	}
	return nil
}

// ApplyOwn takes a group's state that another device of the account
// (dev) handed over: judged like any signed change (one without a proof is
// dropped), not an invitation (the user is in the group there).
func (g *Groups) ApplyOwn(tx *store.Tx, dev uint32, ct *content.Content, b *core.Batch) error {
	self := g.self()
	if ct.Group == nil || len(ct.Group.Proof) == 0 {
		b.Drop(self, "a group handed over by your other device without its signed proof")
		return g.c.Track(tx, self, ct.Seq, 0, b)
	}
	had, err := asked(tx, ct.GroupID)
	if err != nil {
		return err
	}
	if !had { // not an invitation: taken as if the user had asked
		if err := tx.SetSetting(setAsked+ct.GroupID.String(), []byte(self)); err != nil {
			return err
		}
	}
	if err := g.applyGroupUpdate(tx, self, dev, ct, b); err != nil {
		return err
	}
	if !had {
		if err := tx.DeleteSetting(setAsked + ct.GroupID.String()); err != nil {
			return err
		}
	}
	return g.c.Track(tx, self, ct.Seq, 0, b)
}

// ForgetKeyHolder forgets that peer holds the user's sender keys, when
// peer's device list gained a device: the user's next text to each group
// sends peer the key again, and so to every device now on the list.
func (g *Groups) ForgetKeyHolder(tx *store.Tx, peer string) error {
	ids, err := groupIDs(tx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		sent, err := loadSent(tx, id)
		if err != nil {
			return err
		}
		if i := slices.Index(sent, peer); i >= 0 {
			if err := saveSent(tx, id, append(sent[:i], sent[i+1:]...)); err != nil {
				return err
			}
		}
	}
	return nil
}
