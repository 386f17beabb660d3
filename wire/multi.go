package wire

// Multi-recipient sends (sealed sender v2). A v2 message names its
// recipients by libsignal service ID, 17 bytes: a kind byte and a UUID. Sky
// names an account by its 10-character ID, so an account's service ID is
// the ACI kind (0) followed by the ID's ten ASCII bytes and six zero bytes.
// The recipient's own copy carries no service ID, so this is routing only:
// the keys, not the names, protect the content.

// MaxMultiRecipients is the most accounts one MultiSend may name
// (recipients and excluded accounts together), MaxMultiDevices the most
// device copies it may ask for.
const (
	MaxMultiRecipients = 1000
	MaxMultiDevices    = 4000
)

// AccountServiceID returns the service ID standing for account in v2
// messages.
func AccountServiceID(account string) [17]byte {
	var id [17]byte
	copy(id[1:], account)
	return id
}

// ServiceIDAccount returns the account a service ID stands for, or false
// if it stands for none.
func ServiceIDAccount(id [17]byte) (string, bool) {
	if id[0] != 0 {
		return "", false
	}
	for _, b := range id[1+AccountIDLength:] {
		if b != 0 {
			return "", false
		}
	}
	s := string(id[1 : 1+AccountIDLength])
	return s, ValidAccountID(s)
}

// MultiReceivedSize is the size of each copy a MultiSend queues: it must be
// one of SealedSizes, so a copy is as large as a single sealed message.
func MultiReceivedSize(sharedBytes int) int { return 1 + 48 + sharedBytes }
