package timers

import (
	"time"

	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/client/core"
	"github.com/skymsg/sky/client/store"
)

// Timers is the disappearing-timers concern of a client: each
// conversation's timer and its changes, kept in the conversation record
// and, for the order of concurrent changes, under its own setting names.
type Timers struct{ c *core.Core }

// New returns the timers concern of the client core c.
func New(c *core.Core) *Timers { return &Timers{c: c} }

// Disappearing messages. Each conversation has a timer (5 s to 4 weeks, or
// off). Either side changes it with a timer-change message inside the
// session, which both sides show; concurrent changes settle on the same
// value on both sides (timerVersion). Every text carries the timer that
// applies to it: the sender's copy counts from sending, the recipient's from
// reading. The store destroys a message's key when it expires.

// Timer returns the disappearing-messages timer of the conversation with
// peer (the account default for a conversation that has not started).
func (t *Timers) Timer(peer string) (time.Duration, error) {
	var d time.Duration
	err := t.c.View(func(tx *store.Tx) error {
		conv, err := tx.Conversation(peer)
		if err == nil {
			d = conv.Timer
			return nil
		}
		d, err = core.AccountTimer(tx)
		return err
	})
	return d, err
}

// SetTimer changes the timer of the conversation with peer (0: off) and
// tells peer through the session; both see a timer-change notice.
func (t *Timers) SetTimer(peer string, d time.Duration) error {
	if err := t.c.CheckPeer(peer); err != nil {
		return err
	}
	if !content.ValidTimer(d) || d%time.Second != 0 {
		return core.ErrInvalidTimer
	}
	err := t.c.Update(func(tx *store.Tx) error {
		if err := t.c.RefuseChanged(tx, peer); err != nil {
			return err
		}
		if err := core.AcceptPeer(tx, peer, t.c.Now()); err != nil {
			return err
		}
		conv, err := t.c.Conversation(tx, peer, 0)
		if err != nil {
			return err
		}
		cur, err := loadTimerVersion(tx, peer)
		if err != nil {
			return err
		}
		nv := timerVersion{V: cur.V + 1, By: t.c.ID()}
		if err := saveTimerVersion(tx, peer, nv); err != nil {
			return err
		}
		conv.Timer, conv.UpdatedAt = d, t.c.Now()
		if err := tx.PutConversation(conv); err != nil {
			return err
		}
		_, err = t.c.AddOutgoing(tx, peer, &content.Content{Kind: content.KindTimerChange, Timer: d, TimerV: nv.V})
		return err
	})
	if err != nil {
		return err
	}
	t.c.Emit(&core.TimerEvent{Conversation: peer, Timer: d, By: t.c.ID()})
	t.c.KickOutbox()
	t.c.KickExpiry()
	t.c.Notify()
	return nil
}

// setTimerV + peer holds the version of the conversation's timer
// (timerVersion).
const setTimerV = "timer-v/"

// timerVersion orders timer changes, so both sides settle on the same
// timer even when both change it at once: a higher version wins, and at
// equal versions the change by the greater Sky ID does.
type timerVersion struct {
	V  uint64
	By string
}

func (a timerVersion) less(b timerVersion) bool {
	return a.V < b.V || (a.V == b.V && a.By < b.By)
}

func loadTimerVersion(tx *store.Tx, peer string) (timerVersion, error) {
	f, err := core.SettingFields(tx, setTimerV+peer)
	return timerVersion{V: f.Nums[1], By: string(f.One(2))}, err
}

func saveTimerVersion(tx *store.Tx, peer string, v timerVersion) error {
	return tx.SetSetting(setTimerV+peer, core.PutBytes(core.PutNum(nil, 1, v.V), 2, []byte(v.By)))
}

// Apply applies a timer change peer sent in conv, their conversation, and
// reports whether it took effect (an older change that lost to a newer one
// changes nothing and shows nothing).
func (t *Timers) Apply(tx *store.Tx, peer string, conv store.Conversation, ct *content.Content, b *core.Batch) (bool, error) {
	return t.apply(tx, peer, peer, conv, ct, b)
}

// ApplyOwn applies a timer change the user made on another of the
// account's devices (its sent-message sync) in the conversation with peer.
func (t *Timers) ApplyOwn(tx *store.Tx, peer string, conv store.Conversation, ct *content.Content, b *core.Batch) (bool, error) {
	return t.apply(tx, peer, t.c.ID(), conv, ct, b)
}

func (t *Timers) apply(tx *store.Tx, peer, by string, conv store.Conversation, ct *content.Content, b *core.Batch) (bool, error) {
	cur, err := loadTimerVersion(tx, peer)
	if err != nil {
		return false, err
	}
	nv := timerVersion{V: ct.TimerV, By: by}
	if !cur.less(nv) {
		return false, nil
	}
	conv.Timer, conv.UpdatedAt = ct.Timer, b.Now
	if err := tx.PutConversation(conv); err != nil {
		return false, err
	}
	if err := saveTimerVersion(tx, peer, nv); err != nil {
		return false, err
	}
	b.Events = append(b.Events, &core.TimerEvent{Conversation: peer, Timer: ct.Timer, By: by})
	return true, nil
}

// Forget destroys what is kept about peer's timer (when the user rejects
// them).
func Forget(tx *store.Tx, peer string) error { return tx.DeleteSetting(setTimerV + peer) }
