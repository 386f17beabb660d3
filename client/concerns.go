package client

import (
	"context"
	"time"

	"github.com/skymsg/sky/client/actions"
	"github.com/skymsg/sky/client/store"
)

// Groups (package client/group), broadcast lists (package client/broadcast),
// timers (package client/timers) and the account (the core).

// Groups returns every group the client knows (also those the user left),
// by name.
func (c *Client) Groups() ([]Group, error) { return c.groups.Groups() }

// Group returns a group by its ID or, if no ID matches, by its name.
func (c *Client) Group(ref string) (Group, error) { return c.groups.Group(ref) }

// CreateGroup creates a group of the user (its admin) and members, and
// sends it to them. Its timer is the account's default timer.
func (c *Client) CreateGroup(name string, members []string) (Group, error) {
	return c.groups.CreateGroup(name, members)
}

// AddMembers adds members to a group; the user must be its admin. They
// receive the group's state, and the user's sender key as it is now (so
// they cannot read earlier messages).
func (c *Client) AddMembers(ref string, ids ...string) (Group, error) {
	return c.groups.AddMembers(ref, ids...)
}

// RemoveMembers removes members from a group (and their admin rights);
// the user must be its admin. Every remaining member replaces its sender
// key, so the removed cannot read later messages.
func (c *Client) RemoveMembers(ref string, ids ...string) (Group, error) {
	return c.groups.RemoveMembers(ref, ids...)
}

// RenameGroup renames a group; the user must be its admin.
func (c *Client) RenameGroup(ref, name string) (Group, error) { return c.groups.RenameGroup(ref, name) }

// SetGroupAdmin makes a member an admin of the group (admin true) or takes
// that away; the user must be an admin.
func (c *Client) SetGroupAdmin(ref, id string, admin bool) (Group, error) {
	return c.groups.SetGroupAdmin(ref, id, admin)
}

// SetGroupTimer changes a group's disappearing-messages timer (0: off);
// the user must be an admin.
func (c *Client) SetGroupTimer(ref string, d time.Duration) (Group, error) {
	return c.groups.SetGroupTimer(ref, d)
}

// LeaveGroup leaves a group. An admin leaves with a change (making another
// member admin if it was the only one); anyone else tells the members, who
// stop sending to the user at once, and an admin removes the user.
func (c *Client) LeaveGroup(ref string) error { return c.groups.LeaveGroup(ref) }

// SendGroup queues a text to a group and returns it (State Pending; Sent
// once the first member's envelope is accepted). The user must be a
// member. The message carries the group's timer.
func (c *Client) SendGroup(ref, text string) (Message, error) {
	c.shareProfileGroup(ref)
	return c.groups.SendGroup(ref, text)
}

// MakeInviteLink gives a group a new invite link, revoking any earlier
// one (the user must be an admin); its digest is signed into the group's
// state. It returns the link (sky:join:…) to hand out.
func (c *Client) MakeInviteLink(ref string) (string, Group, error) {
	return c.groups.MakeInviteLink(ref)
}

// InviteLink returns a group's current invite link, if this device made it.
func (c *Client) InviteLink(ref string) (string, error) { return c.groups.InviteLink(ref) }

// RevokeInviteLink takes a group's invite link away (a signed change).
func (c *Client) RevokeInviteLink(ref string) (Group, error) { return c.groups.RevokeInviteLink(ref) }

// JoinGroup asks the admin named in an invite link to let the user into
// its group; the group arrives once the admin approves.
func (c *Client) JoinGroup(link string) (admin, group string, err error) {
	l, err := c.groups.JoinGroup(link)
	if err != nil {
		return "", "", err
	}
	c.core.KickOutbox()
	return l.Admin, l.Group.String(), nil
}

// AnswerJoin approves (adds them) or denies someone who asked to join a
// group with its invite link; the user must be an admin.
func (c *Client) AnswerJoin(ref, id string, approve bool) (Group, error) {
	return c.groups.AnswerJoin(ref, id, approve)
}

// SaveBroadcastList creates or replaces the broadcast list name.
func (c *Client) SaveBroadcastList(name string, members []string) error {
	return c.broadcast.SaveBroadcastList(name, members)
}

// BroadcastLists returns the broadcast lists, by name.
func (c *Client) BroadcastLists() ([]BroadcastList, error) { return c.broadcast.BroadcastLists() }

// DeleteBroadcastList deletes a broadcast list (the messages sent to it
// stay in their conversations).
func (c *Client) DeleteBroadcastList(name string) error {
	if err := c.broadcast.DeleteBroadcastList(name); err != nil {
		return err
	}
	return c.core.Update(func(tx *store.Tx) error { return actions.ForgetBroadcasts(tx, name) })
}

// Broadcast sends text to every recipient of the broadcast list name, as a
// separate 1:1 message each (Send), and returns the messages queued. A
// recipient that cannot be sent to now (a key change waiting for the user)
// is left out; the error then names each.
func (c *Client) Broadcast(name, text string) ([]Message, error) {
	ms, err := c.broadcast.Broadcast(name, text)
	c.recordBroadcast(name, ms)
	return ms, err
}

// Timer returns the disappearing-messages timer of the conversation with
// peer (the account default for a conversation that has not started).
func (c *Client) Timer(peer string) (time.Duration, error) { return c.timers.Timer(peer) }

// SetTimer changes the timer of the conversation with peer (0: off) and
// tells peer through the session; both see a timer-change notice.
func (c *Client) SetTimer(peer string, d time.Duration) error { return c.timers.SetTimer(peer, d) }

// AccountInfo asks the server about the account. Run must be running; it
// waits for the connection until ctx ends.
func (c *Client) AccountInfo(ctx context.Context) (AccountInfo, error) {
	return c.core.AccountInfo(ctx)
}

// DeleteAccount deletes the account on the server (its queued messages and
// prekeys with it) and then erases the local store. The Client is closed
// afterwards. Run must be running; it waits for the connection until ctx
// ends.
func (c *Client) DeleteAccount(ctx context.Context) error { return c.core.DeleteAccount(ctx) }

// Wipe crypto-erases the local store now, exactly as the panic passphrase
// does, and closes the client. The server account is left as it is.
func (c *Client) Wipe() error { return c.core.Wipe() }

// SetPanic sets (or replaces) the panic passphrase. Typed at any later
// unlock it erases the store, and with deleteAccount also deletes the
// account on the server. An unlock with it costs the same work as a real
// unlock.
func (c *Client) SetPanic(passphrase []byte, deleteAccount bool) error {
	return c.core.SetPanic(passphrase, deleteAccount)
}

// SetPanicOptions is SetPanic with the choice to wipe the account's other
// devices too: with wipeDevices, the panic passphrase typed on this device
// publishes a device list, signed now by the account's identity key, that
// leaves this device alone on the account, and every other device (also one
// linked later) erases itself when it next connects. It cannot be combined
// with deleteAccount (ErrPanicChoices).
func (c *Client) SetPanicOptions(passphrase []byte, deleteAccount, wipeDevices bool) error {
	return c.core.SetPanicOptions(passphrase, deleteAccount, wipeDevices)
}

// PanicWipesDevices reports whether the panic passphrase also makes the
// account's other devices erase themselves.
func (c *Client) PanicWipesDevices() (bool, error) { return c.core.PanicWipesDevices() }

// ClearPanic removes the panic passphrase.
func (c *Client) ClearPanic() error { return c.core.ClearPanic() }

// PanicSettings reports whether a panic passphrase is set and whether it
// also deletes the server account.
func (c *Client) PanicSettings() (set, deleteAccount bool, err error) { return c.core.PanicSettings() }

// ChangePassphrase changes the passphrase (see store.ChangePassphrase: the
// panic passphrase typed as current wipes the store).
func (c *Client) ChangePassphrase(current, next []byte) error {
	return c.core.ChangePassphrase(current, next)
}

// SetMaxFailedUnlocks makes the store erase itself (as the panic passphrase
// does, without deleting the server account) after n failed unlocks in a
// row; 0 turns that off.
func (c *Client) SetMaxFailedUnlocks(n int) error { return c.core.SetMaxFailedUnlocks(n) }

// MaxFailedUnlocks returns the failed-unlock limit (0: none).
func (c *Client) MaxFailedUnlocks() int { return c.core.MaxFailedUnlocks() }

// GroupReceipts returns a group's receipts setting: whether its members
// confirm texts to their authors (On), and the admin's choice behind it.
func (c *Client) GroupReceipts(ref string) (ReceiptsSetting, error) {
	return c.groups.GroupReceipts(ref)
}

// SetGroupReceipts switches a group's delivery and read receipts on
// (ReceiptsOn) or off (ReceiptsOff), or back to the default
// (ReceiptsDefault: on in groups of up to DefaultReceiptMembers members);
// the user must be an admin. Every member is told.
func (c *Client) SetGroupReceipts(ref string, s GroupReceiptsSetting) (ReceiptsSetting, error) {
	return c.groups.SetGroupReceipts(ref, s)
}
