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
