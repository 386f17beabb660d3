// Package profile is the user's profile — a display name and an avatar
// image — and the profiles contacts share with the user.
//
// A profile travels end to end, inside the 1:1 sessions, as a
// content.KindProfile: to every contact when the user changes it, to a
// new contact when the user adds or accepts them (never to a stranger
// before that), and to a member of a group the next time the user writes
// to the group. The server stores nothing of it: no name, no image, no
// key, no version. Each profile carries a version that only grows, so the
// newest wins whatever order copies arrive in; the client remembers, per
// peer, which version it sent, and sends again only when it changed.
//
// What a peer sends is kept only from a contact or from a member of a
// group the user is in (a stranger's profile is dropped), and a nickname
// the user set always wins over it (Name). A profile name is someone's
// claim, not a fact: it is shown marked as theirs and, when it equals the
// name of anyone else the user knows, marked as a clash (Names).
package profile

import (
	"errors"
	"fmt"
	"slices"

	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/client/core"
	"github.com/skymsg/sky/client/store"
	"google.golang.org/protobuf/encoding/protowire"
)

// Setting names: the own profile, a peer's, and the version sent to a peer.
const (
	ownName  = "profile/own"
	peerPref = "profile/peer/"
	sentPref = "profile/sent/"
	peersIdx = "profile/peers"   // the IDs whose profile is kept
	ownDevs  = "profile/devices" // the account's devices when the profile was last synced to them
)

// ErrNoProfile: no profile set (or shared) yet.
var ErrNoProfile = errors.New("no profile: set one with `sky profile set --name NAME`")

// Profiles is the concern.
type Profiles struct{ c *core.Core }

// New makes the concern on a core.
func New(c *core.Core) *Profiles { return &Profiles{c: c} }

// Own returns the user's profile (ErrNoProfile before the first Set).
func (p *Profiles) Own() (content.Profile, error) {
	var pr content.Profile
	err := p.c.View(func(tx *store.Tx) (err error) {
		pr, err = load(tx, ownName)
		return err
	})
	return pr, err
}

// Of returns the profile peer shared (ErrNoProfile if none).
func (p *Profiles) Of(peer string) (content.Profile, error) {
	var pr content.Profile
	err := p.c.View(func(tx *store.Tx) (err error) {
		pr, err = load(tx, peerPref+peer)
		return err
	})
	return pr, err
}

// Set replaces the user's profile (name and avatar, each may be empty: an
// avatar made with Avatar) with a new version, and queues it to every
// contact. Group members who are not contacts get it with the user's next
// message to the group (ShareWith).
func (p *Profiles) Set(name string, avatar []byte) (content.Profile, error) {
	pr := content.Profile{Name: name, Avatar: avatar, AvatarType: content.AvatarType(avatar)}
	if len(avatar) == 0 {
		pr.AvatarType = ""
	}
	err := p.c.Update(func(tx *store.Tx) error {
		old, err := load(tx, ownName)
		if err != nil && !errors.Is(err, ErrNoProfile) {
			return err
		}
		pr.Version = old.Version + 1
		if err := pr.Check(); err != nil {
			return fmt.Errorf("the profile cannot be set: %w", err)
		}
		if err := tx.SetSetting(ownName, Encode(&pr)); err != nil {
			return err
		}
		if err := p.syncOwn(tx, &pr); err != nil {
			return err
		}
		contacts, err := tx.Contacts()
		if err != nil {
			return err
		}
		for _, ct := range contacts {
			if err := p.share(tx, &pr, ct.ID, nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return content.Profile{}, err
	}
	p.c.KickOutbox()
	return pr, nil
}

// ShareWith queues the user's profile to each peer that does not have its
// current version yet; group names the group they share with the user
// when they may not be contacts (nil for contacts). Nothing happens before
// the user sets a profile.
func (p *Profiles) ShareWith(peers []string, group *content.GroupID) error {
	// Read first: on almost every send there is nothing to do, and a
	// read costs no commit.
	if due, err := p.due(peers); err != nil || !due {
		return err
	}
	err := p.c.Update(func(tx *store.Tx) error {
		pr, err := load(tx, ownName)
		if err != nil {
			return err
		}
		if err := p.syncOwnIfNew(tx, &pr); err != nil {
			return err
		}
		for _, peer := range peers {
			if peer == p.c.ID() {
				continue
			}
			if err := p.share(tx, &pr, peer, group); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		p.c.KickOutbox()
	}
	return err
}

// due reports whether the profile (if the user set one) has to go to any
// of peers, or to a device of the account linked since the last sync.
func (p *Profiles) due(peers []string) (bool, error) {
	var due bool
	err := p.c.View(func(tx *store.Tx) error {
		pr, err := load(tx, ownName)
		if errors.Is(err, ErrNoProfile) {
			return nil
		}
		if err != nil {
			return err
		}
		if due, err = p.ownDevicesChanged(tx); err != nil || due {
			return err
		}
		for _, peer := range peers {
			sent, err := readNum(tx, sentPref+peer)
			if err != nil {
				return err
			}
			if peer != p.c.ID() && sent < pr.Version {
				due = true
				return nil
			}
		}
		return nil
	})
	return due, err
}

// share queues pr to peer unless peer has that version already.
func (p *Profiles) share(tx *store.Tx, pr *content.Profile, peer string, group *content.GroupID) error {
	sent, err := readNum(tx, sentPref+peer)
	if err != nil || sent >= pr.Version {
		return err
	}
	one := *pr
	ct := content.Content{Kind: content.KindProfile, Profile: &one}
	if group != nil {
		ct.GroupID = *group
	}
	if err := p.c.EnqueueControl(tx, peer, &ct); err != nil {
		return err
	}
	return tx.SetSetting(sentPref+peer, protowire.AppendVarint(nil, pr.Version))
}

// Apply keeps the profile peer sent, if it is newer than the one kept:
// contact says whether peer is a contact (else the caller checked that
// peer shares the group ct names). A stranger's profile is dropped. The
// content's sequence number counts in the conversation with peer either
// way.
func (p *Profiles) Apply(tx *store.Tx, peer string, known bool, ct *content.Content, b *core.Batch) error {
	if why, err := p.receive(tx, peer, known, ct, b); err != nil {
		return err
	} else if why != "" {
		b.Drop(peer, why)
	}
	return p.c.Track(tx, peer, ct.Seq, 0, b)
}

func (p *Profiles) receive(tx *store.Tx, peer string, known bool, ct *content.Content, b *core.Batch) (drop string, err error) {
	if !known {
		return "a profile from someone who is neither a contact nor in a group with you", nil
	}
	old, err := load(tx, peerPref+peer)
	if err != nil && !errors.Is(err, ErrNoProfile) {
		return "", err
	}
	if ct.Profile.Version <= old.Version {
		return "", nil // an older or repeated copy
	}
	if err := tx.SetSetting(peerPref+peer, Encode(ct.Profile)); err != nil {
		return "", err
	}
	if err := core.AddToList(tx, peersIdx, peer); err != nil {
		return "", err
	}
	b.Events = append(b.Events, &core.ProfileEvent{Peer: peer, Name: ct.Profile.Name, Version: ct.Profile.Version,
		Avatar: len(ct.Profile.Avatar) > 0})
	return "", nil
}

// Forget destroys what is kept of peer's profile, and which version was
// sent to them (so a later contact gets it again).
func Forget(tx *store.Tx, peer string) error {
	if err := tx.DeleteSetting(peerPref + peer); err != nil {
		return err
	}
	if err := core.RemoveFromList(tx, peersIdx, peer); err != nil {
		return err
	}
	return tx.DeleteSetting(sentPref + peer)
}

// ForgetSent forgets which version was sent to peer, so that the next
// ShareWith sends the profile again (when peer becomes a contact again).
func ForgetSent(tx *store.Tx, peer string) error { return tx.DeleteSetting(sentPref + peer) }

func load(tx *store.Tx, name string) (content.Profile, error) {
	b, err := tx.Setting(name)
	if errors.Is(err, store.ErrNotFound) {
		return content.Profile{}, ErrNoProfile
	}
	if err != nil {
		return content.Profile{}, err
	}
	pr, err := Decode(b)
	if err != nil {
		return content.Profile{}, fmt.Errorf("%w: a stored profile: %v", store.ErrCorrupt, err)
	}
	return pr, nil
}

// Load returns the profile peer shared (ErrNoProfile if none).
func Load(tx *store.Tx, peer string) (content.Profile, error) { return load(tx, peerPref+peer) }

// Peers returns the IDs of the people whose profile is kept.
func Peers(tx *store.Tx) ([]string, error) { return core.StringList(tx, peersIdx) }

// syncOwn queues the user's new profile to the account's other devices
// (linked devices show the same profile), if it has any.
func (p *Profiles) syncOwn(tx *store.Tx, pr *content.Profile) error {
	self := p.c.ID()
	devs, err := core.AnnouncedDevices(tx, self)
	if err != nil || len(devs) < 2 {
		return err
	}
	one := *pr
	if err := p.c.EnqueueControl(tx, self, &content.Content{Kind: content.KindProfile, Profile: &one}); err != nil {
		return err
	}
	return tx.SetSetting(ownDevs, devsKey(devs))
}

// syncOwnIfNew syncs the profile again when the account gained a device
// since it was last synced (a device linked later gets it this way, with
// the user's next message).
func (p *Profiles) syncOwnIfNew(tx *store.Tx, pr *content.Profile) error {
	if changed, err := p.ownDevicesChanged(tx); err != nil || !changed {
		return err
	}
	return p.syncOwn(tx, pr)
}

// ownDevicesChanged reports whether the account has other devices now,
// and not the ones the profile was last synced to.
func (p *Profiles) ownDevicesChanged(tx *store.Tx) (bool, error) {
	devs, err := core.AnnouncedDevices(tx, p.c.ID())
	if err != nil || len(devs) < 2 {
		return false, err
	}
	had, err := tx.Setting(ownDevs)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return false, err
	}
	return string(had) != string(devsKey(devs)), nil
}

// devsKey is a device list as the setting records it.
func devsKey(devs []uint32) []byte {
	var b []byte
	for _, d := range slices.Sorted(slices.Values(devs)) {
		b = protowire.AppendVarint(b, uint64(d))
	}
	return b
}

// ApplyOwn takes the user's profile as another device of the account set
// it, if it is newer than the one here; the caller checked the sender is
// one of the account's devices. Contacts get it from that device.
func (p *Profiles) ApplyOwn(tx *store.Tx, ct *content.Content, b *core.Batch) error {
	self := p.c.ID()
	if err := p.c.Track(tx, self, ct.Seq, 0, b); err != nil {
		return err
	}
	old, err := load(tx, ownName)
	if err != nil && !errors.Is(err, ErrNoProfile) {
		return err
	}
	if ct.Profile.Version <= old.Version {
		return nil
	}
	if err := tx.SetSetting(ownName, Encode(ct.Profile)); err != nil {
		return err
	}
	b.Events = append(b.Events, &core.ProfileEvent{Peer: self, Name: ct.Profile.Name, Version: ct.Profile.Version,
		Avatar: len(ct.Profile.Avatar) > 0})
	return nil
}
