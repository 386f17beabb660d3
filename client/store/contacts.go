package store

import (
	"slices"
	"strings"
)

func checkID(id string) error {
	if id == "" {
		return invalid("the Sky ID is empty")
	}
	return nil
}

// Contact returns the contact id, or ErrNotFound.
func (t *Tx) Contact(id string) (Contact, error) {
	return getRecord(t, "contacts", []byte(id), decodeContact)
}

// PutContact adds or replaces a contact.
func (t *Tx) PutContact(c Contact) error {
	if err := checkID(c.ID); err != nil {
		return err
	}
	if !validTime(c.AddedAt) {
		return invalid("the contact's time is outside 1970..2262")
	}
	return t.put("contacts", []byte(c.ID), nil, encodeContact(&c))
}

// DeleteContact removes a contact; a missing one is not an error. Its
// messages stay (DeleteConversation removes them).
func (t *Tx) DeleteContact(id string) error {
	_, err := t.del("contacts", []byte(id))
	return err
}

// Contacts returns every contact, ordered by ID.
func (t *Tx) Contacts() ([]Contact, error) {
	cs, err := listRecords(t, "contacts", nil, decodeContact)
	slices.SortFunc(cs, func(a, b Contact) int { return strings.Compare(a.ID, b.ID) })
	return cs, err
}

// Request returns the message request from id, or ErrNotFound.
func (t *Tx) Request(id string) (Request, error) {
	return getRecord(t, "requests", []byte(id), decodeRequest)
}

// PutRequest records a message request.
func (t *Tx) PutRequest(r Request) error {
	if err := checkID(r.ID); err != nil {
		return err
	}
	if !validTime(r.FirstAt) {
		return invalid("the request's time is outside 1970..2262")
	}
	return t.put("requests", []byte(r.ID), nil, encodeRequest(&r))
}

// DeleteRequest removes a message request (accepted or rejected).
func (t *Tx) DeleteRequest(id string) error {
	_, err := t.del("requests", []byte(id))
	return err
}

// Requests returns every pending request, oldest first.
func (t *Tx) Requests() ([]Request, error) {
	rs, err := listRecords(t, "requests", nil, decodeRequest)
	slices.SortFunc(rs, func(a, b Request) int {
		if c := a.FirstAt.Compare(b.FirstAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return rs, err
}

// Conversation returns the settings of conversation id, or ErrNotFound (the
// SDK then applies the account default).
func (t *Tx) Conversation(id string) (Conversation, error) {
	return getRecord(t, "conversations", []byte(id), decodeConversation)
}

// PutConversation stores the settings of a conversation.
func (t *Tx) PutConversation(c Conversation) error {
	if err := checkID(c.ID); err != nil {
		return err
	}
	if c.Timer < 0 {
		return invalid("the timer is negative")
	}
	if !validTime(c.UpdatedAt) {
		return invalid("the conversation's time is outside 1970..2262")
	}
	return t.put("conversations", []byte(c.ID), nil, encodeConversation(&c))
}

// Conversations returns the settings of every conversation, ordered by ID.
func (t *Tx) Conversations() ([]Conversation, error) {
	cs, err := listRecords(t, "conversations", nil, decodeConversation)
	slices.SortFunc(cs, func(a, b Conversation) int { return strings.Compare(a.ID, b.ID) })
	return cs, err
}
