package core

import (
	"io"
	"log/slog"
	"time"

	"github.com/skymsg/sky/client/store/keyfile"
)

// Clock tells the time. Tests pass a manual clock to cross disappearing
// timers without waiting.
type Clock interface{ Now() time.Time }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// DefaultTimer is the disappearing-messages timer of new conversations until
// the user changes the account default: 30 seconds after reading, as in the
// system Sky replaces.
const DefaultTimer = 30 * time.Second

// DefaultReceiptDelay is the longest a receipt waits before it is sent.
const DefaultReceiptDelay = 5 * time.Second

// Options tune a Client. The zero value is what a user gets.
type Options struct {
	// Clock is the time source of timers and expiry (default: the system
	// clock).
	Clock Clock
	// KDF is the Argon2id cost of unlocking a store made by Register; the
	// zero value is keyfile.Default (about half a second). Cheaper values are
	// for tests only.
	KDF keyfile.Params
	// MaxFailedUnlocks, when positive, makes a store made by Register erase
	// itself after that many failed unlocks in a row.
	MaxFailedUnlocks int
	// Logger receives operational messages (never content, keys or IDs of
	// peers). Default: discard.
	Logger *slog.Logger
	// GapTimeout is how long a message that arrived ahead of a missing
	// earlier one waits for it before it is shown anyway, with a GapEvent.
	// Default 10 s.
	GapTimeout time.Duration
	// PreKeyLow and PreKeyTarget: when the server holds fewer than PreKeyLow
	// one-time prekeys of a kind, the client uploads new ones up to
	// PreKeyTarget. Defaults 20 and 100.
	PreKeyLow, PreKeyTarget int
	// PreKeyCheck is how often a connected client asks the server how many
	// one-time prekeys it still holds, so that keys taken without messages
	// following (a drain) are replaced soon; while the count keeps falling
	// between checks it asks five times as often. Default 5 minutes.
	PreKeyCheck time.Duration
	// SingleSends turns multi-recipient sending off: every group text goes
	// to each member as its own sealed envelope (multisend.go).
	SingleSends bool
	// ReceiptDelay is the most a delivery or read receipt waits, at random,
	// before it is sent, so that the server cannot match a receipt to the
	// message it confirms by their timing. Default 5 s; negative: none.
	ReceiptDelay time.Duration
	// MinBackoff and MaxBackoff bound the wait between reconnection attempts
	// (doubling, with jitter). Defaults 500 ms and 1 minute.
	MinBackoff, MaxBackoff time.Duration
	// MaxRequests bounds the message requests waiting for the user (default
	// DefaultMaxRequests): a message that would start one more is dropped
	// with a DroppedEvent. MaxRequestMessages bounds the messages one request
	// keeps (default DefaultMaxRequestMessages). See requestlimits.go.
	MaxRequests, MaxRequestMessages int
	// MaxGroups: once the user is in this many groups, a group invitation
	// from someone who is not a contact is dropped (default
	// DefaultMaxGroups).
	MaxGroups int
	// KeyDirectory configures the checks against the server's key
	// directory (package client/transparency); on by default.
	KeyDirectory KeyDirectoryOptions
	// DeviceListAge is how old a contact's checked device list may be
	// before a send to them asks the server for a newer one (devices.go);
	// default 1 minute.
	DeviceListAge time.Duration
}

func (o Options) withDefaults() Options {
	if o.Clock == nil {
		o.Clock = systemClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.GapTimeout <= 0 {
		o.GapTimeout = 10 * time.Second
	}
	if o.DeviceListAge <= 0 {
		o.DeviceListAge = time.Minute
	}
	if o.PreKeyLow <= 0 {
		o.PreKeyLow = 20
	}
	if o.PreKeyTarget <= o.PreKeyLow {
		o.PreKeyTarget = max(100, o.PreKeyLow*2)
	}
	if o.PreKeyCheck <= 0 {
		o.PreKeyCheck = 5 * time.Minute
	}
	if o.ReceiptDelay == 0 {
		o.ReceiptDelay = DefaultReceiptDelay
	}
	if o.MaxRequests <= 0 {
		o.MaxRequests = DefaultMaxRequests
	}
	if o.MaxRequestMessages <= 0 {
		o.MaxRequestMessages = DefaultMaxRequestMessages
	}
	if o.MaxGroups <= 0 {
		o.MaxGroups = DefaultMaxGroups
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 500 * time.Millisecond
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(time.Minute, o.MinBackoff)
	}
	return o
}

// DefaultMaxRequests is the default of Options.MaxRequests.
const DefaultMaxRequests = 100

// DefaultMaxRequestMessages is the default of Options.MaxRequestMessages.
const DefaultMaxRequestMessages = 100

// DefaultMaxGroups is the default of Options.MaxGroups.
const DefaultMaxGroups = 500
