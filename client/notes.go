package client

import "github.com/skymsg/sky/client/notes"

// Notes returns the account's notes vault: a private notebook kept in the
// encrypted local store and never sent (package client/notes).
func (c *Client) Notes() *notes.Vault { return notes.New(c.core, c.core.Now) }
