package backup

import (
	"errors"
	"time"

	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/client/core"
	"github.com/skymsg/sky/client/store"
)

// setRestored marks a store Restore made whose contacts have not been told
// yet (AfterRestore); its value is the backup's time, unix nanoseconds.
const setRestored = "backup/restored"

// markRestored is Restore's last write into the new store.
func markRestored(st *store.Store, created time.Time) error {
	return st.Update(func(t *store.Tx) error {
		return t.SetSetting(setRestored, core.PutNum(nil, 1, uint64(created.UnixNano())))
	})
}

// AfterRestore, on the first open of a restored store, starts a new
// session with every contact at once, so that they can write first: a
// restored device has no sessions, and a contact's message in the old
// session would not decrypt. What goes is a delivery receipt for the newest
// message the contact sent that the backup holds (a random ID names none
// when there is no such message): a content every Sky client already
// understands and that changes nothing (a receipt never moves a message
// back, and one naming no message of theirs is ignored). Encrypting it
// fetches the contact's prekey bundle and sends a first message; the
// contact's client makes that session its current one, with the same
// identity key, so no key change shows. It also has the signed and
// last-resort prekeys replaced at the next connection (the old device may
// have rotated them after the backup). It reports how many receipts were
// queued.
func (m *Manager) AfterRestore() (int, error) {
	var mark []byte
	if err := m.c.View(func(tx *store.Tx) error {
		var err error
		mark, err = core.Setting(tx, setRestored)
		return err
	}); err != nil || mark == nil {
		return 0, err // the usual case: no write at every open
	}
	n := 0
	err := m.c.Update(func(tx *store.Tx) error {
		mark, err := core.Setting(tx, setRestored)
		if err != nil || mark == nil {
			return err
		}
		contacts, err := tx.Contacts()
		if err != nil {
			return err
		}
		now := m.c.Now()
		self := m.c.Self()
		for _, ct := range contacts {
			id, err := newestFrom(tx, ct.ID)
			if err != nil {
				return err
			}
			c := &content.Content{Version: content.Version, Sender: self.Name, SenderDevice: self.DeviceID, Recipient: ct.ID,
				ID: core.NewContentID(), SentAt: now.Truncate(time.Millisecond), Kind: content.KindReceipt, Receipt: content.Delivered,
				IDs: []content.ID{id}, AccessKey: m.c.AccessKey()}
			body, err := content.Encode(c)
			if err != nil {
				return err
			}
			if err := tx.Enqueue(&store.Outgoing{To: ct.ID, Payload: core.EncodeOutItem(core.OutItem{Content: body}), CreatedAt: now}); err != nil {
				return err
			}
			n++
		}
		// The signed and last-resort prekeys go at the next connection: the
		// old device may have rotated them since the backup was made.
		ps, err := core.LoadPreKeyState(tx)
		if err != nil {
			return err
		}
		ps.SignedAt = 0
		if err := core.SavePreKeyState(tx, ps); err != nil {
			return err
		}
		return tx.DeleteSetting(setRestored)
	})
	if n > 0 {
		m.c.KickOutbox()
	}
	return n, err
}

// newestFrom returns the ID of the newest message peer sent that is kept,
// or a random ID.
func newestFrom(tx *store.Tx, peer string) (content.ID, error) {
	ms, err := tx.LatestMessages(peer, 50)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return content.ID{}, err
	}
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].Outgoing || ms[i].Sender != peer {
			continue
		}
		if id, err := content.ParseID(ms[i].MessageID); err == nil {
			return id, nil
		}
	}
	return core.NewContentID(), nil
}
