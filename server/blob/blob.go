// Package blob is skyd's store of attachment blobs: padded ciphertext under
// random IDs, written in order in chunks by an uploader, readable by anyone
// who knows the ID once the upload is finished, and deleted when it is as old
// as an undelivered message may be.
//
// A Store knows nothing about who uploaded a blob: no account, no address.
// The per-account quota and rate are the server's, in memory. Every backend
// passes one conformance suite, blobtest.
package blob

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"time"

	"github.com/skymsg/sky/wire"
)

// ID names a blob: random, and the only capability needed to read it.
type ID [wire.BlobIDBytes]byte

// NewID returns a fresh random ID.
func NewID() ID {
	var id ID
	rand.Read(id[:])
	return id
}

// String is the ID in hex (for file and object names; never logged).
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// ParseID reads an ID from its String form.
func ParseID(s string) (ID, bool) {
	var id ID
	if len(s) != 2*len(id) {
		return id, false
	}
	_, err := hex.Decode(id[:], []byte(s))
	return id, err == nil
}

// Errors of a Store; test with errors.Is.
var (
	ErrNotFound   = errors.New("blob: no such blob")                 // unknown, expired, or (for reads) unfinished
	ErrExists     = errors.New("blob: ID in use")                    // Create with an ID taken
	ErrOffset     = errors.New("blob: not the upload's current end") // Put elsewhere than the end
	ErrTooLong    = errors.New("blob: more bytes than declared")
	ErrChunk      = errors.New("blob: a put must be a whole transfer chunk") // short put before the end
	ErrIncomplete = errors.New("blob: upload incomplete")                    // Finish before all bytes
	ErrFinished   = errors.New("blob: upload already finished")
)

// Info is what a Store knows about one blob.
type Info struct {
	Size     int64     // declared length
	Have     int64     // bytes uploaded so far
	Finished bool      // readable
	Created  time.Time // as given to Create (coarse)
}

// Store keeps blobs.
//
// Uploads are sequential: Put writes at Have, in chunks of exactly
// wire.BlobTransferBytes except the last, which ends at Size. Reads see
// only finished blobs.
type Store interface {
	// Create starts an upload of size bytes, created at created (already
	// rounded by the caller).
	Create(ctx context.Context, id ID, size int64, created time.Time) error
	// Put appends data at offset, which must equal Info.Have. It must not
	// keep data once it returns: data is the connection's read buffer.
	Put(ctx context.Context, id ID, offset int64, data []byte) error
	// Stat returns what the store knows about id.
	Stat(ctx context.Context, id ID) (Info, error)
	// Finish makes a complete upload readable, durably.
	Finish(ctx context.Context, id ID) error
	// ReadAt reads a finished blob's bytes at off into p, returning how
	// many it read (fewer only at the end) and the blob's size.
	ReadAt(ctx context.Context, id ID, p []byte, off int64) (n int, size int64, err error)
	// Sweep deletes every blob created at or before cutoff, and every
	// unfinished upload created at or before unfinished; it returns how
	// many it deleted. It leaves no blob bytes behind where the backend
	// can promise that (see each backend).
	Sweep(ctx context.Context, cutoff, unfinished time.Time) (int, error)
	// Close releases the store.
	Close() error
}

// CheckPut checks a put against an upload's state, for backends.
func CheckPut(in Info, offset int64, n int) error {
	switch {
	case in.Finished:
		return ErrFinished
	case offset != in.Have:
		return ErrOffset
	case offset+int64(n) > in.Size:
		return ErrTooLong
	case n != wire.BlobTransferBytes && offset+int64(n) != in.Size:
		return ErrChunk
	case n == 0:
		return ErrChunk
	}
	return nil
}
