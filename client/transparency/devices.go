package transparency

import (
	"context"

	"github.com/skymsg/sky/keytrans"
)

// CheckList checks a contact's signed device list (its version, its
// digest devlist.Digest and how many devices it names) against the
// account's device-list entry at the current head, the head that is
// gossiped to contacts: a server showing two contacts two different lists
// must show at least one of them a list the directory does not hold, or
// fork the directory, which gossip reveals.
//
// It returns nil when the entry holds this list, or when there is no entry
// and the list names one device (directories and accounts from before
// lists were in the directory); ErrNotYet when the list is newer than the
// entry, or names several devices and has no entry yet (published within
// an interval of the list); an ErrAlarm when the directory holds another
// list of the same or a newer version.
func (k *Checker) CheckList(ctx context.Context, c Caller, account string, version uint64, digest [32]byte, devices int) error {
	v, err := k.current(ctx, c)
	if err != nil || v == nil {
		return err
	}
	e, err := k.lookup(ctx, c, v, keytrans.DeviceListLabel(account), false)
	switch {
	case err != nil:
		return err
	case e == nil && devices <= 1:
		return nil
	case e == nil:
		return ErrNotYet
	}
	dv, dd, err := keytrans.ParseDeviceListValue(e.Value)
	switch {
	case err != nil:
		return alarm("the key directory's device-list entry for %s does not parse", account)
	case dv == version && dd == digest:
		return nil
	case version > dv:
		return ErrNotYet
	case version == dv:
		return alarm("the server served a device list for %s (version %d) other than the one the key directory holds for that version: "+
			"it may be showing your contacts different lists; it is refused and nothing is sent to its devices", account, version)
	}
	return alarm("the server served an old device list of %s (version %d, the key directory holds version %d): "+
		"it may be hiding a change from you; it is refused and nothing is sent to its devices", account, version, dv)
}
