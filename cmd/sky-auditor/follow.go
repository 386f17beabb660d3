package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/skymsg/sky/client/conn"
	"github.com/skymsg/sky/keytrans"
	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/wire"
)

// A source is where the auditor reads the directory: skyd over the wire
// protocol (wireSource), or in tests a server that lies.
type source interface {
	Head(ctx context.Context) (*wire.KeyDirHead, error)
	Log(ctx context.Context, from uint64) (*wire.KeyDirEpochs, error)
	Countersign(ctx context.Context, size uint64, sig []byte) error
}

// wireSource reads a skyd over one connection that never authenticates:
// heads, the log and countersigning need no account.
type wireSource struct{ c *conn.Conn }

func (w wireSource) Head(ctx context.Context) (*wire.KeyDirHead, error) {
	r, err := w.c.Call(ctx, &wire.Request{Op: &wire.Request_KeydirGetHead{KeydirGetHead: &wire.KeyDirGetHead{}}})
	return r.GetKeydirHead(), err
}

func (w wireSource) Log(ctx context.Context, from uint64) (*wire.KeyDirEpochs, error) {
	r, err := w.c.Call(ctx, &wire.Request{Op: &wire.Request_KeydirLog{KeydirLog: &wire.KeyDirLog{From: from, Limit: 64}}})
	return r.GetKeydirEpochs(), err
}

func (w wireSource) Countersign(ctx context.Context, size uint64, sig []byte) error {
	_, err := w.c.Call(ctx, &wire.Request{Op: &wire.Request_KeydirCountersign{KeydirCountersign: &wire.KeyDirCountersign{Size: size, Signature: sig}}})
	return err
}

// ErrMisbehaviour says that the directory broke its promises: what the
// auditor saw proves that it forked, rewrote or forged its log. The auditor
// stops and countersigns nothing more.
var ErrMisbehaviour = errors.New("the key directory misbehaved")

func misbehaviour(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMisbehaviour, fmt.Sprintf(format, args...))
}

// A follower is the auditor's logic: it replays every epoch of the log
// from where it stopped, checks each is well-formed and leads to the head
// the directory signed, and countersigns the newest head it checked.
type follower struct {
	st    *state
	key   curve.PrivateKey
	roots []curve.PublicKey
	now   func() time.Time
	// save is called after each page of epochs, so a restart continues.
	save func(*state) error
}

// sync brings the auditor up to the directory's newest head, countersigns
// it and returns it.
func (f *follower) sync(ctx context.Context, src source) (*keytrans.Head, error) {
	h, err := src.Head(ctx)
	if err != nil {
		return nil, err
	}
	cert, err := keytrans.DecodeCertificate(h.GetCertificate())
	if err != nil {
		return nil, misbehaviour("its certificate does not decode: %v", err)
	}
	if err := cert.Verify(f.roots...); err != nil {
		return nil, misbehaviour("its certificate is not signed by the trust root")
	}
	if f.st.cert != nil && f.st.cert.VRFKey != cert.VRFKey {
		return nil, misbehaviour("its VRF key changed, which would move every entry")
	}
	f.st.cert = cert
	newest, err := keytrans.DecodeSignedHead(h.GetHead())
	if err != nil {
		return nil, misbehaviour("its newest head does not decode: %v", err)
	}
	if err := newest.Verify(cert); err != nil {
		return nil, misbehaviour("its newest head is not signed by its certified key")
	}
	if f.now != nil && newest.TimeMillis > uint64(f.now().Add(10*time.Minute).UnixMilli()) {
		return nil, misbehaviour("its newest head is dated in the future")
	}
	if newest.Size < f.st.auditor.Head().Size {
		return nil, misbehaviour("its newest head has %d epochs, fewer than the %d already checked (history rewritten)", newest.Size, f.st.auditor.Head().Size)
	}
	for f.st.auditor.Head().Size < newest.Size {
		if err := f.page(ctx, src, cert); err != nil {
			return nil, err
		}
	}
	mine := f.st.auditor.Head()
	if mine != newest.Head {
		return nil, misbehaviour("its newest head is not the one its log leads to (a fork)")
	}
	sig := keytrans.Countersign(&mine, f.key)
	if err := src.Countersign(ctx, mine.Size, sig.Encode()); err != nil {
		return nil, fmt.Errorf("handing over the countersignature: %w", err)
	}
	return &mine, nil
}

// page replays the next epochs the directory hands out.
func (f *follower) page(ctx context.Context, src source, cert *keytrans.DirectoryCertificate) error {
	from := f.st.auditor.Head().Size
	es, err := src.Log(ctx, from)
	if err != nil {
		return err
	}
	if len(es.GetEpochs()) == 0 || len(es.GetEpochs()) != len(es.GetHeads()) {
		return misbehaviour("it withholds epoch %d of its log", from)
	}
	for i, b := range es.GetEpochs() {
		e, err := keytrans.DecodeEpoch(b)
		if err != nil {
			return misbehaviour("epoch %d does not decode: %v", from+uint64(i), err)
		}
		if err := f.st.auditor.Apply(e); err != nil {
			return misbehaviour("%v", err)
		}
		sh, err := keytrans.DecodeSignedHead(es.GetHeads()[i])
		if err != nil {
			return misbehaviour("the head of epoch %d does not decode: %v", e.Number, err)
		}
		if sh.Head != f.st.auditor.Head() {
			return misbehaviour("the head it signed for epoch %d is not the one its log leads to", e.Number)
		}
		// Heads signed by an earlier directory key cannot be checked with
		// the current certificate; their contents were just recomputed.
		if sh.KeyID == cert.KeyID {
			if err := sh.Verify(cert); err != nil {
				return misbehaviour("the head of epoch %d is not signed by its key", e.Number)
			}
		}
	}
	if f.save != nil {
		return f.save(f.st)
	}
	return nil
}
