package core

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/skymsg/sky/client/attach/pointer"
)

// Attachment is a file a message carries, as the user sees it. Its key and
// blob stay inside the message (and go with it when it expires).
type Attachment struct {
	// ID names the attachment on this device: the message's LocalID and
	// the attachment's place in it, "LOCALID.N" (N from 1).
	ID            string
	Name          string // as the sender named it: show it inert, sanitise it to save
	Type          string // MIME type
	Size          int64  // bytes, unpadded
	Width, Height int    // images, in pixels; 0 if unknown
	Duration      time.Duration
	Preview       []byte // images: a tiny JPEG
}

// attachments describes the attachments of stored message localID.
func attachments(localID int64, atts [][]byte) []Attachment {
	var out []Attachment
	for i, a := range atts {
		p, err := pointer.Decode(a)
		if err != nil {
			continue // checked when the content decoded; never here
		}
		out = append(out, Attachment{
			ID: AttachmentID(localID, i), Name: p.Name, Type: p.Type, Size: p.Size,
			Width: int(p.Width), Height: int(p.Height), Duration: p.Duration, Preview: p.Preview,
		})
	}
	return out
}

// AttachmentID is the ID of the i-th (from 0) attachment of message localID.
func AttachmentID(localID int64, i int) string {
	return strconv.FormatInt(localID, 10) + "." + strconv.Itoa(i+1)
}

// ParseAttachmentID splits an attachment ID into the message's LocalID and
// the attachment's index (from 0).
func ParseAttachmentID(id string) (localID int64, i int, err error) {
	m, n, ok := strings.Cut(id, ".")
	localID, err1 := strconv.ParseInt(m, 10, 64)
	i, err2 := strconv.Atoi(n)
	if !ok || err1 != nil || err2 != nil || localID <= 0 || i < 1 || i > 1000 {
		return 0, 0, fmt.Errorf("%q is not an attachment ID: they look like 42.1 (see receive or history)", id)
	}
	return localID, i - 1, nil
}

// AttachmentEvent: the client downloaded an attachment of an incoming
// message by itself (Err nil), so it stays here after the server deletes
// the blob, or it did not (Err says why: over the automatic-download size,
// from a message request, expired, tampered, …). An attachment not
// downloaded can still be saved while the server keeps its blob (as long
// as an undelivered message, 48 hours by default).
type AttachmentEvent struct {
	Attachment   Attachment
	Message      int64  // the message's LocalID
	Conversation string // the peer's ID, or the group's for a group message
	Err          error
}

func (*AttachmentEvent) event() {}

// Background runs fn in a goroutine that Close and Wipe wait for before
// they close or erase the store, so nothing fn writes beside the store
// (an attachment being downloaded) outlives a wipe. fn's context ends when
// the client closes; fn must return soon after. It reports false, and runs
// nothing, when the client is closed already.
func (c *Core) Background(fn func(ctx context.Context)) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer cancel()
		stop := c.stop
		go func() {
			select {
			case <-stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		fn(ctx)
	}()
	return true
}
