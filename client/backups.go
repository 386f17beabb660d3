package client

import "github.com/skymsg/sky/client/backup"

// Backups returns the account's backup manager: encrypted backups under a
// recovery key kept in the store, by hand or on a schedule (package
// client/backup, which also restores them).
func (c *Client) Backups() *backup.Manager { return backup.New(c.core) }
