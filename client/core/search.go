package core

import (
	"strings"

	"github.com/skymsg/sky/client/store"
)

// searchPage is how many messages Search opens at a time.
const searchPage = 200

// Search returns the messages (oldest first, conversation by conversation)
// whose text, or the name of a file they carry, contains query (ignoring
// case); with names one conversation (a peer's or a group's ID) to search
// only that one. There is no index: Search opens the messages in pages of
// searchPage, each under its own key in memory, and compares there, so
// nothing about the query or the matches is written to disk. Expired
// messages are never returned.
func (c *Core) Search(query, with string) ([]Message, error) {
	q := strings.ToLower(query)
	if q == "" {
		return nil, nil
	}
	now := c.Now()
	var out []Message
	err := c.View(func(tx *store.Tx) error {
		convs := []string{with}
		if with == "" {
			all, err := tx.Conversations()
			if err != nil {
				return err
			}
			convs = convs[:0]
			for _, cv := range all {
				convs = append(convs, cv.ID)
			}
		}
		for _, conv := range convs {
			req, err := IsRequest(tx, conv)
			if err != nil {
				return err
			}
			for after := int64(0); ; {
				page, err := tx.Messages(conv, after, searchPage)
				if err != nil {
					return err
				}
				for _, m := range page {
					after = m.ID
					if !m.ExpiresAt.IsZero() && !m.ExpiresAt.After(now) {
						continue
					}
					msg, err := FromStore(m, req)
					if err != nil {
						return err
					}
					if matches(msg, q) {
						out = append(out, msg)
					}
				}
				if len(page) < searchPage {
					break
				}
			}
		}
		return c.nameGroups(tx, out)
	})
	return out, err
}

func matches(m Message, q string) bool {
	if strings.Contains(strings.ToLower(m.Text), q) {
		return true
	}
	for _, a := range m.Attachments {
		if strings.Contains(strings.ToLower(a.Name), q) {
			return true
		}
	}
	return false
}
