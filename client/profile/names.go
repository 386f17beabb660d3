package profile

import (
	"strings"

	"golang.org/x/text/secure/precis"
)

// Name is what to call a person: the nickname the user gave them, else
// the name their profile claims, else nothing (show the ID).
type Name struct {
	ID       string
	Nickname string // set by the user; always wins
	Profile  string // claimed by the person in their profile
	// Clash: Profile (shown because there is no nickname) equals, ignoring
	// case, width and spacing, the name of someone else the user knows —
	// a nickname, another profile name, or a Sky ID. A user interface
	// says so next to the name: it may be someone posing as another.
	Clash bool
}

// Display returns the name to show: the nickname; else the profile name
// after "~" (the mark of a name the person chose, as WhatsApp shows
// names of people not in the address book), with " (same name as another
// contact)" when it clashes; else the ID. User interfaces still pass it
// through safetext: a profile name is never trusted to be inert.
func (n Name) Display() string {
	switch {
	case n.Nickname != "":
		return n.Nickname
	case n.Profile == "":
		return n.ID
	case n.Clash:
		return "~" + n.Profile + " (same name as another contact)"
	}
	return "~" + n.Profile
}

// Names resolves the names of people: nicknames maps ID to the nickname
// the user set (empty: none), profiles ID to the name their profile
// claims. Every ID in either map gets a Name; a profile name shown (no
// nickname) that compares equal to any other person's nickname, profile
// name or ID is marked Clash.
func Names(nicknames, profiles map[string]string) map[string]Name {
	out := make(map[string]Name, len(nicknames)+len(profiles))
	owners := map[string][]string{} // folded name -> IDs that go by it
	add := func(id, name string) {
		if k := fold(name); k != "" {
			owners[k] = append(owners[k], id)
		}
	}
	for id, nick := range nicknames {
		out[id] = Name{ID: id, Nickname: nick}
		add(id, nick)
		add(id, id)
	}
	for id, p := range profiles {
		n := out[id]
		n.ID, n.Profile = id, p
		out[id] = n
		add(id, p)
		add(id, id)
	}
	for id, n := range out {
		if n.Nickname != "" || n.Profile == "" {
			continue
		}
		for _, other := range owners[fold(n.Profile)] {
			if other != id {
				n.Clash = true
			}
		}
		out[id] = n
	}
	return out
}

// fold makes names that look alike compare equal: Unicode width and
// compatibility forms (NFKC), case, and runs of space, as the PRECIS
// nickname profile (RFC 8266) compares them; a name it refuses is
// compared as it is, lower-cased.
func fold(name string) string {
	f, err := precis.Nickname.CompareKey(name)
	if err != nil {
		f = strings.ToLower(strings.TrimSpace(name))
	}
	return strings.Join(strings.Fields(f), " ")
}
