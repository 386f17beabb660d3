package backup

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/skymsg/sky/client/store"
)

// Inside the encrypted stream the backup is a sequence of records, each a
// type byte, a uvarint length and that many bytes:
//
//	meta     exactly once, first: format details and the account
//	row      a record of one of the store's key-value tables
//	message  a message of the history, with its local number and deadline
//	file     a piece of an attachment's blob (ciphertext, as on the server):
//	         its file name in the store's attachments directory, the offset
//	         of the piece and its bytes; a file's pieces come in order, one
//	         file after the other
//	end      exactly once, last: how many records came before it
//
// The decoder is strict: an unknown type, a length beyond maxRecord, a field
// that overruns its record, trailing bytes, a missing or repeated meta or
// end record, or anything after end is ErrDamaged. Records are read one at
// a time, so memory stays bounded by maxRecord whatever the history's size.

const (
	recMeta    = 1
	recRow     = 2
	recMessage = 3
	recFile    = 4
	recEnd     = 0xFF

	// filePiece is the largest piece of a file in one record.
	filePiece = 1 << 20

	// maxRecord bounds one record (the store bounds each field to 64 MiB).
	maxRecord = 64 << 20
)

// Meta describes a backup.
type Meta struct {
	Created   time.Time // when the backup was made (the maker's clock)
	AccountID string    // the Sky ID backed up
	Server    string    // the server's URL
	// Disappearing: messages with a timer were included, each with its
	// deadline.
	Disappearing bool
}

// Row is one record of a store table (package store's Dump and Load).
type Row struct {
	Table      string
	Key, Value []byte
}

type enc struct{ b []byte }

func (e *enc) bytes(p []byte) {
	e.b = binary.AppendUvarint(e.b, uint64(len(p)))
	e.b = append(e.b, p...)
}
func (e *enc) str(s string)  { e.bytes([]byte(s)) }
func (e *enc) uint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *enc) int(v int64)   { e.b = binary.AppendVarint(e.b, v) }
func (e *enc) time(t time.Time) {
	if t.IsZero() {
		e.int(0)
		return
	}
	e.int(t.UnixNano())
}
func (e *enc) bool(v bool) {
	if v {
		e.uint(1)
	} else {
		e.uint(0)
	}
}

type dec struct {
	b   []byte
	err error
}

var errField = errors.New("malformed field")

func (d *dec) bytes() []byte {
	n, k := binary.Uvarint(d.b)
	if d.err != nil || k <= 0 || n > uint64(len(d.b)-k) {
		d.err = errField
		return nil
	}
	v := d.b[k : k+int(n)]
	d.b = d.b[k+int(n):]
	return v
}
func (d *dec) str() string { return string(d.bytes()) }
func (d *dec) uint() uint64 {
	v, k := binary.Uvarint(d.b)
	if d.err != nil || k <= 0 {
		d.err = errField
		return 0
	}
	d.b = d.b[k:]
	return v
}
func (d *dec) int() int64 {
	v, k := binary.Varint(d.b)
	if d.err != nil || k <= 0 {
		d.err = errField
		return 0
	}
	d.b = d.b[k:]
	return v
}
func (d *dec) time() time.Time {
	v := d.int()
	if v == 0 {
		return time.Time{}
	}
	if v < 0 {
		d.err = errField
	}
	return time.Unix(0, v)
}
func (d *dec) bool() bool {
	switch d.uint() {
	case 0:
		return false
	case 1:
		return true
	}
	d.err = errField
	return false
}
func (d *dec) done() error {
	if d.err == nil && len(d.b) > 0 {
		d.err = errField
	}
	return d.err
}

func encodeMeta(m Meta) []byte {
	e := &enc{}
	e.time(m.Created)
	e.str(m.AccountID)
	e.str(m.Server)
	e.bool(m.Disappearing)
	return e.b
}

func decodeMeta(b []byte) (Meta, error) {
	d := &dec{b: b}
	m := Meta{Created: d.time(), AccountID: d.str(), Server: d.str(), Disappearing: d.bool()}
	return m, d.done()
}

func encodeRow(r Row) []byte {
	e := &enc{}
	e.str(r.Table)
	e.bytes(r.Key)
	e.bytes(r.Value)
	return e.b
}

func decodeRow(b []byte) (Row, error) {
	d := &dec{b: b}
	r := Row{Table: d.str(), Key: d.bytes(), Value: d.bytes()}
	if err := d.done(); err != nil {
		return Row{}, err
	}
	if r.Table == "" || len(r.Key) == 0 {
		return Row{}, errField
	}
	return r, nil
}

func encodeMessage(m *store.Message) []byte {
	e := &enc{}
	e.int(m.ID)
	e.str(m.Conversation)
	e.str(m.Sender)
	e.str(m.MessageID)
	e.bool(m.Outgoing)
	e.uint(uint64(m.State))
	e.bytes(m.Body)
	e.bytes(m.Annex)
	e.time(m.SentAt)
	e.time(m.ReceivedAt)
	e.time(m.ReadAt)
	e.int(int64(m.Timer))
	e.time(m.ExpiresAt)
	e.str(m.Failure)
	return e.b
}

func decodeMessage(b []byte) (store.Message, error) {
	d := &dec{b: b}
	m := store.Message{ID: d.int(), Conversation: d.str(), Sender: d.str(), MessageID: d.str(), Outgoing: d.bool()}
	state := d.uint()
	m.Body = store.Secret(d.bytes())
	m.Annex = store.Secret(d.bytes())
	m.SentAt, m.ReceivedAt, m.ReadAt = d.time(), d.time(), d.time()
	m.Timer = time.Duration(d.int())
	m.ExpiresAt = d.time()
	m.Failure = d.str()
	if err := d.done(); err != nil {
		return store.Message{}, err
	}
	if m.ID <= 0 || m.Conversation == "" || m.Timer < 0 || state > uint64(store.Failed) {
		return store.Message{}, errField
	}
	m.State = store.State(state)
	if len(m.Annex) == 0 {
		m.Annex = nil
	}
	return m, nil
}

// FilePiece is a piece of an attachment's blob file.
type FilePiece struct {
	Name   string // [0-9a-f]{32}.blob
	Offset uint64
	Data   []byte
}

// validBlobName reports whether name is a blob file name as package attach
// makes them: 32 lowercase hex digits and ".blob".
func validBlobName(name string) bool {
	hexPart, ok := strings.CutSuffix(name, ".blob")
	if !ok || len(hexPart) != 32 {
		return false
	}
	for _, c := range hexPart {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func encodeFile(f FilePiece) []byte {
	e := &enc{}
	e.str(f.Name)
	e.uint(f.Offset)
	e.bytes(f.Data)
	return e.b
}

func decodeFile(b []byte) (FilePiece, error) {
	d := &dec{b: b}
	f := FilePiece{Name: d.str(), Offset: d.uint(), Data: d.bytes()}
	if err := d.done(); err != nil {
		return FilePiece{}, err
	}
	if !validBlobName(f.Name) || len(f.Data) == 0 || len(f.Data) > filePiece || f.Offset > 1<<50 {
		return FilePiece{}, errField
	}
	return f, nil
}

// recordWriter writes records into the sealed stream.
type recordWriter struct {
	w   *bufio.Writer
	n   uint64
	hdr []byte
}

func (rw *recordWriter) write(typ byte, payload []byte) error {
	if len(payload) > maxRecord {
		return fmt.Errorf("backing up: a record of %d bytes is larger than a backup allows", len(payload))
	}
	rw.hdr = binary.AppendUvarint(append(rw.hdr[:0], typ), uint64(len(payload)))
	if _, err := rw.w.Write(rw.hdr); err != nil {
		return err
	}
	_, err := rw.w.Write(payload)
	clear(payload)
	rw.n++
	return err
}

func (rw *recordWriter) end() error {
	return rw.write(recEnd, binary.AppendUvarint(nil, rw.n))
}

// recordReader reads records from the opened stream.
type recordReader struct {
	r   *bufio.Reader
	n   uint64
	buf []byte
}

// next returns the next record's type and payload (valid until the next
// call). After the end record it checks that nothing follows.
func (rr *recordReader) next() (byte, []byte, error) {
	typ, err := rr.r.ReadByte()
	if err != nil {
		return 0, nil, damaged(err)
	}
	size, err := readUvarint(rr.r)
	if err != nil {
		return 0, nil, damaged(err)
	}
	if size > maxRecord {
		return 0, nil, fmt.Errorf("%w (a record claims %d bytes)", ErrDamaged, size)
	}
	// Grow the buffer as bytes arrive, never ahead of them.
	rr.buf = rr.buf[:0]
	for uint64(len(rr.buf)) < size {
		step := min(size-uint64(len(rr.buf)), 1<<20)
		start := len(rr.buf)
		rr.buf = append(rr.buf, make([]byte, step)...)
		if _, err := io.ReadFull(rr.r, rr.buf[start:]); err != nil {
			return 0, nil, damaged(err)
		}
	}
	switch typ {
	case recMeta, recRow, recMessage, recFile:
	case recEnd:
		d := &dec{b: rr.buf}
		if n := d.uint(); d.done() != nil || n != rr.n {
			return 0, nil, fmt.Errorf("%w (its record count does not match)", ErrDamaged)
		}
		if _, err := rr.r.ReadByte(); err != io.EOF {
			return 0, nil, damaged(err)
		}
	default:
		return 0, nil, fmt.Errorf("%w (unknown record type %d)", ErrDamaged, typ)
	}
	rr.n++
	return typ, rr.buf, nil
}

// readUvarint reads a uvarint of at most 10 bytes; a longer or overflowing
// one is ErrDamaged, a read error is the reader's.
func readUvarint(r io.ByteReader) (uint64, error) {
	var v uint64
	for i := 0; i < binary.MaxVarintLen64; i++ {
		b, err := r.ReadByte()
		if err != nil {
			return 0, err
		}
		if i == binary.MaxVarintLen64-1 && b > 1 {
			break
		}
		v |= uint64(b&0x7f) << (7 * i)
		if b < 0x80 {
			return v, nil
		}
	}
	return 0, fmt.Errorf("%w (a record length overflows)", ErrDamaged)
}

// damaged maps a read error to ErrDamaged unless it already is one.
func damaged(err error) error {
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w (it ends too early)", ErrDamaged)
	}
	if errors.Is(err, ErrDamaged) {
		return err
	}
	return err
}
