package main

// Nicknames: the names the user gave contacts ("contacts add ID --name N")
// are shown beside their IDs everywhere, and accepted wherever an ID is.

import (
	"fmt"
	"strings"

	"github.com/skymsg/sky/client"
	"github.com/skymsg/sky/ui/safetext"
)

// names maps Sky IDs to the user's nicknames for them.
type names map[string]string

// contactNames returns the nicknames of c's contacts (none if they cannot
// be read: names only decorate output).
func contactNames(c *client.Client) names {
	n := names{}
	cs, err := c.Contacts()
	if err != nil {
		return n
	}
	for _, ct := range cs {
		if ct.Name != "" {
			n[ct.ID] = ct.Name
		}
	}
	return n
}

// label is id with its nickname, if any, inert: "abcd234567 (Bob)".
func (n names) label(id string) string {
	if name := n[id]; name != "" {
		return safetext.Line(id) + " (" + safetext.Line(name) + ")"
	}
	return safetext.Line(id)
}

// resolveID returns the Sky ID arg names: a Sky ID (any case), or the
// nickname of exactly one contact (case-insensitive).
func resolveID(c *client.Client, arg string) (string, error) {
	if id := strings.ToLower(strings.TrimSpace(arg)); client.ValidID(id) {
		return id, nil
	}
	cs, err := c.Contacts()
	if err != nil {
		return "", err
	}
	var found []string
	for _, ct := range cs {
		if ct.Name != "" && strings.EqualFold(ct.Name, strings.TrimSpace(arg)) {
			found = append(found, ct.ID)
		}
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("%q is not a contact's name either (see sky contacts list): %w", arg, client.ErrInvalidID)
	case 1:
		return found[0], nil
	}
	return "", fmt.Errorf("%q names %d contacts (%s); give the Sky ID", arg, len(found), strings.Join(found, ", "))
}

// resolveIDs resolves each of args with resolveID.
func resolveIDs(c *client.Client, args []string) ([]string, error) {
	out := make([]string, len(args))
	for i, a := range args {
		id, err := resolveID(c, a)
		if err != nil {
			return nil, err
		}
		out[i] = id
	}
	return out, nil
}
