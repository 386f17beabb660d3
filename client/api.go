package client

import (
	"github.com/skymsg/sky/client/broadcast"
	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/client/core"
	"github.com/skymsg/sky/client/group"
	"github.com/skymsg/sky/client/requests"
	"github.com/skymsg/sky/client/trust"
)

// The SDK's types, errors and constants are defined where their concern
// lives and named here, so that programs need only this package.

// Types of the core.
type (
	Options                = core.Options
	Clock                  = core.Clock
	AccountInfo            = core.AccountInfo
	Contact                = core.Contact
	Message                = core.Message
	State                  = core.State
	Kind                   = core.Kind
	TrustRoot              = core.TrustRoot
	IdentityChangedError   = core.IdentityChangedError
	Subscription           = core.Subscription
	Event                  = core.Event
	MessageEvent           = core.MessageEvent
	ReceiptEvent           = core.ReceiptEvent
	TimerEvent             = core.TimerEvent
	IdentityChangedEvent   = core.IdentityChangedEvent
	GapEvent               = core.GapEvent
	SentEvent              = core.SentEvent
	FailedEvent            = core.FailedEvent
	DroppedEvent           = core.DroppedEvent
	ConnectionEvent        = core.ConnectionEvent
	LaggedEvent            = core.LaggedEvent
	UnannouncedDeviceEvent = core.UnannouncedDeviceEvent
	GroupEvent             = core.GroupEvent
	GroupChange            = core.GroupChange
	ActionEvent            = core.ActionEvent
	Quote                  = core.Quote
	Reaction               = core.Reaction
	Edit                   = core.Edit
	MemberReceipt          = core.MemberReceipt
	AccessRefusedEvent     = core.AccessRefusedEvent
	AccessRefusedError     = core.AccessRefusedError
	KeyDirectoryWaitError  = core.KeyDirectoryWaitError
	DeviceListEvent        = core.DeviceListEvent
	DeviceListRefusedEvent = core.DeviceListRefusedEvent
	ListRefusedError       = core.ListRefusedError
)

// Types of the concerns.
type (
	Group         = group.Group
	BroadcastList = broadcast.BroadcastList
	// ReceiptsSetting is a group's receipts setting; GroupReceiptsSetting
	// the admin's choice (ReceiptsDefault, ReceiptsOn, ReceiptsOff).
	ReceiptsSetting      = group.ReceiptsSetting
	GroupReceiptsSetting = content.GroupReceipts
	Request              = requests.Request
	SafetyNumber         = trust.SafetyNumber
)

// The states of a message and the kinds it shows.
const (
	Pending   = core.Pending
	Sent      = core.Sent
	Delivered = core.Delivered
	Read      = core.Read
	Received  = core.Received
	Failed    = core.Failed

	KindText    = core.KindText
	KindTimer   = core.KindTimer
	KindDevices = core.KindDevices
	KindGroup   = core.KindGroup

	// The settings of a group's receipts (SetGroupReceipts).
	ReceiptsDefault       = content.ReceiptsDefault
	ReceiptsOn            = content.ReceiptsOn
	ReceiptsOff           = content.ReceiptsOff
	DefaultReceiptMembers = content.DefaultReceiptMembers
)

// Defaults of Options.
const (
	DefaultTimer              = core.DefaultTimer
	DefaultReceiptDelay       = core.DefaultReceiptDelay
	DefaultMaxRequests        = core.DefaultMaxRequests
	DefaultMaxRequestMessages = core.DefaultMaxRequestMessages
	DefaultMaxGroups          = core.DefaultMaxGroups
)

// Errors of the SDK (see each package for what they mean). Compare with
// errors.Is.
var (
	ErrNoAccount         = core.ErrNoAccount
	ErrAccountExists     = core.ErrAccountExists
	ErrWrongPassphrase   = core.ErrWrongPassphrase
	ErrLocked            = core.ErrLocked
	ErrInvalidID         = core.ErrInvalidID
	ErrSelf              = core.ErrSelf
	ErrInvalidTimer      = core.ErrInvalidTimer
	ErrTooLong           = core.ErrTooLong
	ErrNotFound          = core.ErrNotFound
	ErrOffline           = core.ErrOffline
	ErrNotConnected      = core.ErrNotConnected
	ErrNoSuchAccount     = core.ErrNoSuchAccount
	ErrExpired           = core.ErrExpired
	ErrRevoked           = core.ErrRevoked
	ErrAuthFailed        = core.ErrAuthFailed
	ErrRemoved           = core.ErrRemoved
	ErrPanicChoices      = core.ErrPanicChoices
	ErrKeysPending       = core.ErrKeysPending
	ErrClosed            = core.ErrClosed
	ErrRunning           = core.ErrRunning
	ErrIdentityChanged   = core.ErrIdentityChanged
	ErrTrustRoot         = core.ErrTrustRoot
	ErrNoTrustRoot       = core.ErrNoTrustRoot
	ErrServerCertificate = core.ErrServerCertificate
	ErrNoSealedSender    = core.ErrNoSealedSender
	ErrAccessRefused     = core.ErrAccessRefused

	ErrNoSuchGroup     = group.ErrNoSuchGroup
	ErrAmbiguousGroup  = group.ErrAmbiguousGroup
	ErrNotGroupMember  = group.ErrNotGroupMember
	ErrNotGroupAdmin   = group.ErrNotGroupAdmin
	ErrGroupUnchanged  = group.ErrGroupUnchanged
	ErrGroupTooLarge   = group.ErrGroupTooLarge
	ErrInvalidGroupArg = group.ErrInvalidGroupArg

	ErrNoSuchList   = broadcast.ErrNoSuchList
	ErrBadListName  = broadcast.ErrBadListName
	ErrTooManyLists = broadcast.ErrTooManyLists

	ErrSafetyNumberChanged = trust.ErrSafetyNumberChanged
)

// ParseTrustRoot reads a trust root in its text form (standard or URL
// base64, padding optional, surrounding space ignored).
func ParseTrustRoot(s string) (TrustRoot, error) { return core.ParseTrustRoot(s) }

// ValidID reports whether id looks like a Sky ID: wire.AccountIDLength
// characters of wire.AccountIDAlphabet (2-9, a-z without i, l and o).
func ValidID(id string) bool { return core.ValidID(id) }
