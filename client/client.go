package client

import (
	"context"
	"fmt"
	"time"

	"github.com/skymsg/sky/client/actions"
	"github.com/skymsg/sky/client/attach"
	"github.com/skymsg/sky/client/backup"
	"github.com/skymsg/sky/client/broadcast"
	"github.com/skymsg/sky/client/core"
	"github.com/skymsg/sky/client/devices"
	"github.com/skymsg/sky/client/group"
	"github.com/skymsg/sky/client/profile"
	"github.com/skymsg/sky/client/requests"
	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/client/timers"
	"github.com/skymsg/sky/client/transparency"
	"github.com/skymsg/sky/client/trust"
	"github.com/skymsg/sky/client/typing"
)

// Client is one Sky account on this device: its unlocked store and, while
// Run runs, its connection to the server. Its methods are safe for
// concurrent use.
//
// A Client is the client core (package client/core: the account, the store,
// the connection, the send and receive pipelines, the events) with its
// concerns wired on: groups, broadcast lists, message requests,
// verification and timers, each its own package built on the core. This
// package only wires them together and decides, for each received
// envelope, which of them owns it (receive.go).
type Client struct {
	core      *core.Core
	groups    *group.Groups
	broadcast *broadcast.Lists
	requests  *requests.Requests
	trust     *trust.Trust
	kt        *transparency.Checker // nil: no key directory checks
	timers    *timers.Timers
	files     *attach.Files
	actions   *actions.Actions
	profiles  *profile.Profiles
	typing    *typing.Typing
	devices   *devices.Devices
}

// Open unlocks the account in dir with passphrase.
//
// It returns ErrWrongPassphrase (a *store.WrongPassphraseError says how many
// tries are left), or ErrNoAccount when there is none — including right after
// the panic passphrase erased it, which looks exactly like a fresh install.
// When the user chose, on setting the panic passphrase, to delete the account
// on the server as well, Open does that first (best effort, within ctx).
func Open(ctx context.Context, dir string, passphrase []byte, opts Options) (*Client, error) {
	c, err := core.Open(ctx, dir, passphrase, opts)
	if err != nil {
		return nil, err
	}
	cl := assemble(c)
	// A store just restored from a backup starts sessions with its
	// contacts; if that fails, the mark stays and the next open tries again.
	if _, err := backup.New(c).AfterRestore(); err != nil {
		c.Opts.Logger.Error("starting sessions after a restore failed; they start with the next message instead", "err", err)
	}
	return cl, nil
}

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
func Register(ctx context.Context, dir string, passphrase []byte, serverURL string, root TrustRoot, code string, opts Options) (*Client, error) {
	c, err := core.Register(ctx, dir, passphrase, serverURL, root, code, opts)
	if err != nil {
		return nil, err
	}
	return assemble(c), nil
}

// Link links this machine to an existing account as a new device, with
// the one-time code the account's existing device showed (Client.LinkDevice,
// sky devices link): it creates the encrypted store in dir (empty or
// missing) under passphrase, receives the account end to end encrypted from
// the other device, checks that the account's signed device list names this
// device, and registers this device's own keys and prekeys. root must be
// the trust root the account pinned.
func Link(ctx context.Context, dir string, passphrase []byte, serverURL string, root TrustRoot, code string, opts Options) (*Client, error) {
	c, err := core.Join(ctx, dir, passphrase, serverURL, root, code, opts)
	if err != nil {
		return nil, err
	}
	if err := c.AskGroups(); err != nil { // groups made before this device
		c.Close()
		return nil, err
	}
	return assemble(c), nil
}

// assemble wires the concerns onto a core.
func assemble(c *core.Core) *Client {
	cl := &Client{core: c, groups: group.New(c), broadcast: broadcast.New(c), requests: requests.New(c),
		trust: trust.New(c), timers: timers.New(c), files: attach.New(c), actions: actions.New(c), profiles: profile.New(c), typing: typing.New(c),
		devices: devices.New(c)}
	cl.files.Sweep() // blobs of messages that expired while the client was closed
	c.SetReceiver(cl.receiveOne)
	c.SetGroupInfo(cl.groups.Info)
	c.SetDevicesAdded(cl.groups.ForgetKeyHolder)
	c.SetHandOff(cl.groups.HandOff)
	if k, err := newKeyCheck(c); err != nil {
		c.Opts.Logger.Error("key directory checks are off: their settings do not work", "err", err)
	} else if k != nil {
		cl.kt = k
		c.SetKeyCheck(coreCheck{k})
	}
	return cl
}

// forgetPeer destroys what the concerns keep about peer, when the user
// rejects them (the core forgets its own part).
func forgetPeer(tx *store.Tx, peer string) error {
	if err := timers.Forget(tx, peer); err != nil {
		return err
	}
	if err := profile.Forget(tx, peer); err != nil {
		return err
	}
	return trust.Forget(tx, peer)
}

// Format shows only the account and the store's directory, under every fmt
// verb: a Client holds keys.
func (c *Client) Format(f fmt.State, verb rune) { c.core.Format(f, verb) }

// ID returns the own Sky ID.
func (c *Client) ID() string { return c.core.ID() }

// Server returns the server's URL.
func (c *Client) Server() string { return c.core.Server() }

// Dir returns the directory of the client's store.
func (c *Client) Dir() string { return c.core.Dir() }

// Close stops the connection and background work and locks the store.
func (c *Client) Close() error { return c.core.Close() }

// Run connects and stays connected until ctx is done or the client is
// closed; then it returns nil. It returns an error only when connecting can
// never work (ErrAuthFailed: the server does not know this device).
// Connection changes are announced with ConnectionEvent.
//
// While it runs, the attachments of incoming messages are downloaded as
// they arrive, up to SetAutoDownload's size (AttachmentEvent tells of
// each, and of those it did not download).
func (c *Client) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	fetched, sub := make(chan struct{}), c.core.Subscribe()
	// The downloads are background work of the core: a wipe waits for
	// them to stop, so none writes a file after it.
	if !c.core.Background(func(bctx context.Context) {
		defer close(fetched)
		fctx, stop := context.WithCancel(bctx)
		defer stop()
		defer context.AfterFunc(ctx, stop)()
		c.files.AutoFetch(fctx, sub)
	}) {
		sub.Close()
		close(fetched)
	}
	err := c.core.Run(ctx)
	cancel()
	<-fetched // no download writes on after Run returns
	return err
}

// SetMaxBackoff caps the wait between reconnection attempts at d from now
// on (d <= 0: back to Options.MaxBackoff) and shortens a longer wait under
// way: a process the user watches (a daemon, a UI) sets a few seconds, so a
// server back from an outage is found within seconds.
func (c *Client) SetMaxBackoff(d time.Duration) { c.core.SetMaxBackoff(d) }

// MaxBackoff returns the current cap of the wait between reconnection
// attempts.
func (c *Client) MaxBackoff() time.Duration { return c.core.MaxBackoff() }

// Connected reports whether the client is connected now.
func (c *Client) Connected() bool { return c.core.Connected() }

// LastConnError returns why the last connection attempt, or the last
// connection, failed: nil while connected and before the first attempt
// ends. A *conn.DialError means the server could not be reached.
func (c *Client) LastConnError() error { return c.core.LastConnError() }

// WaitConnected waits until the client is connected (Run must be running).
func (c *Client) WaitConnected(ctx context.Context) error { return c.core.WaitConnected(ctx) }

// Flush waits until the outbox is empty: everything queued is on the server.
// It returns early with the reason when the rest cannot be sent now — an
// *IdentityChangedError, ErrExpired, ErrRevoked — and with ErrOffline (what
// is queued stays queued) when ctx ends while the client is not connected.
func (c *Client) Flush(ctx context.Context) error { return c.core.Flush(ctx) }

// Subscribe starts a subscription to events. Call Close when done.
func (c *Client) Subscribe() *Subscription { return c.core.Subscribe() }

// TrustRoot returns the trust root this client pinned at registration.
func (c *Client) TrustRoot() TrustRoot { return c.core.TrustRoot() }

// PreKeyCounts asks the server how many one-time prekeys of each kind it
// holds for this device.
func (c *Client) PreKeyCounts(ctx context.Context) (ec, kyber int, err error) {
	return c.core.PreKeyCounts(ctx)
}

// Send queues a text message to peer and returns it (State Pending). It is
// sent as soon as the client is connected; SentEvent, ReceiptEvent and
// FailedEvent follow. Sending to someone makes them a contact (accepting
// their message request, if any).
//
// It fails with an *IdentityChangedError while peer's new identity key
// waits for the user's decision.
func (c *Client) Send(peer, text string) (Message, error) {
	m, err := c.core.Send(peer, text)
	if err == nil {
		c.shareProfile(peer)
	}
	return m, err
}

// History returns the last limit messages (limit <= 0: all) of the
// conversation with peer, oldest first, in each sender's order. Expired
// messages are never returned, even if expiry has not run yet.
func (c *Client) History(peer string, limit int) ([]Message, error) {
	return c.core.History(peer, limit)
}

// Unread returns the incoming messages the user has not read yet, each
// conversation in its sender's order, conversations by their first unread
// message. Messages held back for a missing earlier one are left out until
// it arrives or the gap timeout passes.
func (c *Client) Unread() ([]Message, error) { return c.core.Unread() }

// MarkRead records that the user read the messages (by LocalID): their
// disappearing timers start now, and read receipts go to the senders that
// are contacts (never to message requests). It returns the messages it
// marked, with their expiry.
func (c *Client) MarkRead(localIDs ...int64) ([]Message, error) { return c.core.MarkRead(localIDs...) }

// DeleteMessage deletes a message (by LocalID) from this device: for
// example a failed one the user dismisses. Anything of it still queued is
// cancelled; the peer's copy is not touched.
func (c *Client) DeleteMessage(localID int64) error { return c.core.DeleteMessage(localID) }

// Expire destroys every message whose time has come (by the client's
// clock), with its key, and reports how many went. The client does this by
// itself, on time, while it is open; tests with a manual clock call it.
func (c *Client) Expire() (int, error) {
	n, err := c.core.Expire()
	if err == nil {
		_, err = c.files.Sweep()
	}
	return n, err
}

// DefaultTimer returns the account default timer of new conversations.
func (c *Client) DefaultTimer() (time.Duration, error) { return c.core.DefaultTimer() }

// SetDefaultTimer sets the account default timer of new conversations
// (0: off). Existing conversations keep theirs.
func (c *Client) SetDefaultTimer(d time.Duration) error { return c.core.SetDefaultTimer(d) }
