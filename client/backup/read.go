package backup

import (
	"bufio"
	"fmt"
	"io"

	"github.com/skymsg/sky/client/store"
)

// Handler receives the contents of a backup as Read decodes them.
type Handler struct {
	Meta    func(Meta) error
	Row     func(Row) error
	Message func(*store.Message) error
	File    func(FilePiece) error
}

// Read decodes a whole backup from r under k, calling h for each record in
// order. It returns nil only once the last chunk authenticated and the end
// record matched: everything handed to h before that may belong to a
// damaged or truncated file, so a caller applies it somewhere it can throw
// away (Restore builds the new store aside and moves it into place last).
func Read(r io.Reader, k RecoveryKey, h Handler) error {
	or, err := newOpenReader(r, k)
	if err != nil {
		return err
	}
	return decodeRecords(or, h)
}

// decodeRecords decodes the plaintext of a backup, strictly (format.go).
func decodeRecords(r io.Reader, h Handler) error {
	rr := &recordReader{r: bufio.NewReaderSize(r, chunkSize)}
	for i := 0; ; i++ {
		typ, b, err := rr.next()
		if err != nil {
			return err
		}
		if (i == 0) != (typ == recMeta) {
			return fmt.Errorf("%w (its records are out of order)", ErrDamaged)
		}
		switch typ {
		case recEnd:
			return nil
		case recMeta:
			m, err := decodeMeta(b)
			if err != nil {
				return fmt.Errorf("%w (its description does not decode)", ErrDamaged)
			}
			if h.Meta != nil {
				err = h.Meta(m)
			}
			if err != nil {
				return err
			}
		case recRow:
			row, err := decodeRow(b)
			if err != nil {
				return fmt.Errorf("%w (a record does not decode)", ErrDamaged)
			}
			if h.Row != nil {
				err = h.Row(row)
			}
			if err != nil {
				return err
			}
		case recFile:
			fp, err := decodeFile(b)
			if err != nil {
				return fmt.Errorf("%w (an attachment's piece does not decode)", ErrDamaged)
			}
			if h.File != nil {
				err = h.File(fp)
			}
			if err != nil {
				return err
			}
		case recMessage:
			m, err := decodeMessage(b)
			if err != nil {
				return fmt.Errorf("%w (a message does not decode)", ErrDamaged)
			}
			if h.Message != nil {
				err = h.Message(&m)
			}
			if err != nil {
				return err
			}
		}
	}
}
