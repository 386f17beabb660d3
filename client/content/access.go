package content

// Asking a contact for their current access key, end to end.
//
// When the server refuses the delivery token of a contact's access key, the
// sender cannot tell a genuine rotation (the contact removed someone and
// made a new key) from a server that forges the refusal to make the sender
// name itself. So it asks the contact: an access request (KindAccessRequest,
// no body) travels as a sealed message on an anonymous connection, and a
// contact answers with an access key message (KindAccessKey, no body): like
// every content, both carry the sender's current access key (AccessKey).
// Someone who is not the receiver's contact gets no answer.
const (
	KindAccessRequest Kind = 65
	KindAccessKey     Kind = 66
)

// IsAccess reports whether k is an access request or its answer.
func IsAccess(k Kind) bool { return k == KindAccessRequest || k == KindAccessKey }

// checkAccess checks an access request or answer: no body, no sequence
// number, and the sender's access key (which is what it is for).
func (c *Content) checkAccess() error {
	switch {
	case len(c.AccessKey) != AccessKeySize:
		return malformed("an access request or answer without the sender's access key")
	case c.Seq != 0 || c.Text != "" || len(c.Attachments) > 0 || c.Quote != nil:
		return malformed("an access request or answer carries nothing but the access key")
	}
	return nil
}
