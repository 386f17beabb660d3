package attach

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/skymsg/sky/client/core"
	"github.com/skymsg/sky/client/store"
)

// Automatic download: the attachments of incoming messages, up to a size
// the user sets, are downloaded as they arrive, so that they are on the
// device before the server deletes their blobs (with the message TTL);
// every attachment not downloaded is announced (core.AttachmentEvent), so
// the user knows to save it in time or ask for it again.

// DefaultAutoDownload is the largest attachment downloaded by itself
// unless the user sets another size: the server's default limit, so every
// file a default server carries.
const DefaultAutoDownload = 100 << 20

// setAuto is the setting of the automatic-download size: 8 bytes,
// big-endian (absent: DefaultAutoDownload).
const setAuto = "attach/auto-download"

// Errors of automatic download (AttachmentEvent.Err); test with errors.Is.
var (
	// ErrOverAutoSize: larger than the automatic-download size.
	ErrOverAutoSize = errors.New("larger than the automatic-download size: save it before it expires on the server")
	// ErrFromRequest: part of a message request, whose attachments wait
	// for the user.
	ErrFromRequest = errors.New("from a message request: save it, or accept the request, before it expires on the server")
)

// AutoDownload returns the size up to which attachments are downloaded as
// they arrive (0: none).
func (f *Files) AutoDownload() (int64, error) {
	var b []byte
	err := f.c.View(func(tx *store.Tx) (err error) { b, err = core.Setting(tx, setAuto); return })
	switch {
	case err != nil:
		return 0, err
	case b == nil:
		return DefaultAutoDownload, nil
	case len(b) != 8:
		return 0, fmt.Errorf("%w: the automatic-download size", store.ErrCorrupt)
	}
	return int64(min(binary.BigEndian.Uint64(b), 1<<62)), nil
}

// SetAutoDownload sets the automatic-download size (0: download nothing
// by itself).
func (f *Files) SetAutoDownload(n int64) error {
	if n < 0 {
		return fmt.Errorf("an automatic-download size of %d bytes: give 0 or more", n)
	}
	return f.c.Update(func(tx *store.Tx) error { return tx.SetSetting(setAuto, binary.BigEndian.AppendUint64(nil, uint64(n))) })
}

// AutoFetch downloads the attachments of the incoming messages sub
// delivers, one at a time, until ctx ends, and tells of each
// (core.AttachmentEvent). It starts with the unread messages (downloads
// an earlier run left unfinished go on), and after events were lost it
// looks at them again.
func (f *Files) AutoFetch(ctx context.Context, sub *core.Subscription) {
	defer sub.Close()
	f.autoUnread(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-sub.Events():
			if !ok {
				return
			}
			switch e := ev.(type) {
			case *core.MessageEvent:
				f.autoMessage(ctx, e.Message)
			case *core.LaggedEvent:
				f.autoUnread(ctx)
			}
		}
	}
}

// autoUnread downloads what it may of the unread messages' attachments.
func (f *Files) autoUnread(ctx context.Context) {
	ms, err := f.c.Unread()
	if err != nil {
		return
	}
	for _, m := range ms {
		f.autoMessage(ctx, m)
	}
}

// autoMessage downloads what it may of m's attachments.
func (f *Files) autoMessage(ctx context.Context, m core.Message) {
	// An outgoing message's files are here already on the device that
	// sent them (Here); another device of the account fetches them.
	if len(m.Attachments) == 0 {
		return
	}
	limit, err := f.AutoDownload()
	if err != nil {
		return
	}
	for _, a := range m.Attachments {
		if f.Here(a.ID) {
			continue
		}
		var err error
		switch {
		case m.Request:
			err = ErrFromRequest
		case a.Size > limit:
			err = ErrOverAutoSize
		default:
			_, err = f.Fetch(ctx, a.ID, nil)
		}
		if ctx.Err() != nil {
			return // stopping: the next run downloads it
		}
		conv := m.Conversation
		if m.Group != "" {
			conv = m.Group
		}
		f.c.Emit(&core.AttachmentEvent{Attachment: a, Message: m.LocalID, Conversation: conv, Err: err})
	}
}

// Here reports whether attachment id is on this device.
func (f *Files) Here(id string) bool {
	p, err := f.Pointer(id)
	if err != nil {
		return false
	}
	_, err = os.Stat(f.blobPath(p))
	return err == nil
}

// fetching serialises downloads of one blob (the automatic download and a
// save may ask for it at once).
type fetching struct {
	mu   sync.Mutex
	busy map[string]*sync.Mutex
}

// lock locks the download of the blob at path, returning the unlock.
func (g *fetching) lock(path string) func() {
	g.mu.Lock()
	if g.busy == nil {
		g.busy = map[string]*sync.Mutex{}
	}
	m := g.busy[path]
	if m == nil {
		m = new(sync.Mutex)
		g.busy[path] = m
	}
	g.mu.Unlock()
	m.Lock()
	return m.Unlock
}
