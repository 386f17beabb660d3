package client

import (
	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/client/core"
	"github.com/skymsg/sky/client/profile"
	"github.com/skymsg/sky/client/store"
)

// Profiles (package client/profile): the user's display name and avatar,
// shared end to end with contacts and group members only.

// Profile is a display name and an avatar picture, with its version.
type Profile = content.Profile

// ProfileEvent: a contact or group member shared a new profile.
type ProfileEvent = core.ProfileEvent

// TypingEvent: a contact or group member started or stopped typing.
type TypingEvent = core.TypingEvent

// Name is what to call a person (see profile.Name).
type Name = profile.Name

// ErrNoProfile: no profile has been set, or shared by that person.
var ErrNoProfile = profile.ErrNoProfile

// SetProfile replaces the user's profile: name (empty: none) and avatar
// (empty: none; make it with profile.Avatar from a picture file). The new
// version goes to every contact at once, and to each member of a group the
// next time the user writes to the group; never to strangers.
func (c *Client) SetProfile(name string, avatar []byte) (Profile, error) {
	return c.profiles.Set(name, avatar)
}

// OwnProfile returns the user's profile (ErrNoProfile before SetProfile).
func (c *Client) OwnProfile() (Profile, error) { return c.profiles.Own() }

// ProfileOf returns the profile peer shared (ErrNoProfile if none).
func (c *Client) ProfileOf(peer string) (Profile, error) { return c.profiles.Of(peer) }

// Names returns what to call each contact, request and group member the
// client knows of: nicknames win over profile names, and a profile name
// equal to anyone else's name is marked (Name.Clash).
func (c *Client) Names() (map[string]Name, error) {
	nicks := map[string]string{}
	names := map[string]string{}
	cs, err := c.core.Contacts()
	if err != nil {
		return nil, err
	}
	for _, ct := range cs {
		nicks[ct.ID] = ct.Name
	}
	err = c.core.View(func(tx *store.Tx) error {
		ids, err := profile.Peers(tx)
		for _, id := range ids {
			if err != nil {
				break
			}
			var p Profile
			if p, err = profile.Load(tx, id); err == nil && p.Name != "" {
				names[id] = p.Name
			}
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return profile.Names(nicks, names), nil
}

// shareProfile sends the user's profile to peer (a contact) unless they
// have its current version. It goes after the user's message, which makes
// peer a contact here and files the user as a request there (a profile
// from a stranger, before it, would be dropped).
func (c *Client) shareProfile(peer string) {
	c.logProfileErr(c.profiles.ShareWith([]string{peer}, nil))
}

// shareProfileGroup sends the user's profile to the members of group ref
// that do not have its current version.
func (c *Client) shareProfileGroup(ref string) {
	id, members, err := c.groups.Audience(ref)
	if err != nil {
		return // the send itself reports it
	}
	c.logProfileErr(c.profiles.ShareWith(members, &id))
}

func (c *Client) logProfileErr(err error) {
	if err != nil {
		c.core.Opts.Logger.Warn("the profile could not be queued; it goes with the next message", "err", err)
	}
}

// applyProfile keeps a profile peer sent: from a contact, from someone
// whose message request waits (the user sees who is asking; rejecting
// destroys it), or from a member of a group the user is in (named by the
// content). admit already dropped anyone else's.
func (c *Client) applyProfile(tx *store.Tx, peer string, ct *content.Content, b *core.Batch) error {
	known, err := core.IsContact(tx, peer)
	if err == nil && !known {
		known, err = core.IsRequest(tx, peer)
	}
	if err == nil && !known && ct.GroupID != (content.GroupID{}) {
		known, err = c.groups.SharesWith(tx, ct.GroupID, peer)
	}
	if err != nil {
		return err
	}
	return c.profiles.Apply(tx, peer, known, ct, b)
}
