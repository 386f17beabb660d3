package client

import (
	"context"

	"github.com/skymsg/sky/client/attach"
	"github.com/skymsg/sky/client/core"
)

// Attachments (package client/attach): files travel encrypted under their
// own keys, uploaded once to the server as padded blobs, and described by
// pointers inside the messages.

// Attachment is a file a message carries (Message.Attachments).
type Attachment = core.Attachment

// SendFiles uploads the files at paths (metadata removed from photos where
// Sky can; the Prepared results say which went as they are) and queues one
// message to peer carrying them, with text as their caption. It needs Run
// running and waits until every file is uploaded.
func (c *Client) SendFiles(ctx context.Context, peer, text string, paths []string, progress attach.FileProgress) (Message, []*attach.Prepared, error) {
	if err := c.core.CheckPeer(peer); err != nil {
		return Message{}, nil, err
	}
	ptrs, preps, err := c.files.Upload(ctx, paths, progress)
	if err != nil {
		return Message{}, nil, err
	}
	m, err := c.core.SendWith(peer, text, ptrs)
	if err == nil {
		c.shareProfile(peer)
	}
	return m, preps, err
}

// SendGroupFiles is SendFiles to a group: each file is uploaded once, and
// every member gets the same pointers.
func (c *Client) SendGroupFiles(ctx context.Context, ref, text string, paths []string, progress attach.FileProgress) (Message, []*attach.Prepared, error) {
	if _, err := c.groups.Group(ref); err != nil {
		return Message{}, nil, err
	}
	ptrs, preps, err := c.files.Upload(ctx, paths, progress)
	if err != nil {
		return Message{}, nil, err
	}
	c.shareProfileGroup(ref)
	m, err := c.groups.SendGroupWith(ref, text, ptrs)
	return m, preps, err
}

// BroadcastFiles is SendFiles to every recipient of a broadcast list, each
// file uploaded once.
func (c *Client) BroadcastFiles(ctx context.Context, name, text string, paths []string, progress attach.FileProgress) ([]Message, []*attach.Prepared, error) {
	ptrs, preps, err := c.files.Upload(ctx, paths, progress)
	if err != nil {
		return nil, nil, err
	}
	ms, err := c.broadcast.BroadcastWith(name, text, ptrs)
	c.recordBroadcast(name, ms)
	return ms, preps, err
}

// AttachmentEvent: an incoming attachment was downloaded by itself (Err
// nil), or was not (Err: attach.ErrOverAutoSize, attach.ErrFromRequest,
// or why the download failed); see Run.
type AttachmentEvent = core.AttachmentEvent

// AutoDownload returns the size up to which the attachments of incoming
// messages are downloaded as they arrive (default attach.DefaultAutoDownload;
// 0: none).
func (c *Client) AutoDownload() (int64, error) { return c.files.AutoDownload() }

// SetAutoDownload sets the size up to which the attachments of incoming
// messages are downloaded as they arrive (0: none; each must then be
// saved before the server deletes its blob with the message TTL).
func (c *Client) SetAutoDownload(n int64) error { return c.files.SetAutoDownload(n) }

// SaveAttachment downloads attachment id (as Message.Attachments names it)
// if this device does not hold it yet, checks it, and writes the file to
// out (a path, a directory, or "" for its sanitised name in the current
// directory), never over an existing file unless force. It returns the
// path written. Errors are typed (client/attach: ErrMissing, ErrDigest,
// ErrTruncated, ErrOverflow, …); the message itself is untouched by them.
func (c *Client) SaveAttachment(ctx context.Context, id, out string, force bool, progress attach.FileProgress) (string, error) {
	return c.files.Save(ctx, id, out, force, progress)
}
