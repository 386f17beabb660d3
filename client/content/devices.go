package content

import "unicode/utf8"

// KindDeviceNotice is a local-only notice in a contact's conversation that
// their device list, signed by their identity key, changed ("added a
// device"): the client makes it when it accepts the new list, so the user
// sees when an account gains a device. It is never sent; one received is
// dropped. Its Text is the client's own wording (no peer-chosen text).
const KindDeviceNotice Kind = 30

// maxNoticeBytes bounds a device notice's text.
const maxNoticeBytes = 256

func (c *Content) checkDeviceNotice() error {
	switch {
	case len(c.Text) > maxNoticeBytes || !utf8.ValidString(c.Text) || c.Text == "":
		return malformed("a device notice's text")
	case len(c.Attachments) > 0 || c.Quote != nil || c.Seq != 0:
		return malformed("a device notice carries only its text")
	}
	return nil
}

// KindSentSync carries, from one device of an account to its others, a
// message the account sent (Inner: that message's encoded Content), so it
// shows in every device's history (sent-message sync). Only a device of
// the same account sends one, to its own account.
const KindSentSync Kind = 31

// fInner is KindSentSync's body field.
const fInner = 1

func (c *Content) checkSentSync() error {
	switch {
	case len(c.Inner) == 0 || len(c.Inner) > MaxSyncBytes:
		return malformed("a sent-message sync without its message, or too long")
	case c.Sender != c.Recipient:
		return malformed("a sync between two accounts")
	case len(c.Attachments) > 0 || c.Quote != nil || c.Text != "":
		return malformed("a sent-message sync carries only its message")
	}
	return nil
}

// MaxSyncBytes bounds a synced message: the longest text with its
// attachment pointers fits.
const MaxSyncBytes = 256 << 10

// KindSettingsSync carries, from one device of an account to its others,
// settings the user changed there (Inner: a record package client/core
// encodes and checks: contacts with their names, verified safety numbers),
// so the devices stay in step. Only a device of the same account sends one.
const KindSettingsSync Kind = 32

// KindDevicesChanged tells a contact that the sender's device list
// changed: it has no body, and the header's DeviceList is the new version,
// which the contact fetches and checks at once (rather than when its copy
// is a minute old), so the next message reaches the new device. A server
// cannot fake it (it is inside the session) and gains nothing by dropping
// it: the sender's next message carries the version too.
const KindDevicesChanged Kind = 33

func (c *Content) checkDevicesChanged() error {
	if c.DeviceList == 0 || c.Text != "" || len(c.Attachments) > 0 || c.Quote != nil || len(c.Inner) > 0 {
		return malformed("a device change notice carries only the new list version")
	}
	return nil
}
