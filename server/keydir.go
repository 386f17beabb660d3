package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/skymsg/sky/client/devices/devlist"
	"github.com/skymsg/sky/keytrans"
	"github.com/skymsg/sky/keytrans/logtree"
	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/server/keydir"
	"github.com/skymsg/sky/server/store"
	"github.com/skymsg/sky/wire"
)

// KeyDirConfig configures the key directory (key transparency, package
// server/keydir). It runs once the operator has certified a directory key
// with the trust root; until then its requests answer UNSUPPORTED.
type KeyDirConfig struct {
	// Interval between signed heads; default 1 minute. Negative turns the
	// directory off.
	Interval time.Duration
	// Auditors whose countersignatures skyd keeps and hands to clients.
	Auditors []curve.PublicKey
}

// maxKeyDirLog bounds the epochs one KeyDirLog answer carries.
const maxKeyDirLog = 64

func (s *Server) startKeyDir(ctx context.Context) error {
	if s.cfg.KeyDir.Interval < 0 {
		return nil
	}
	st, ok := s.st.(keydir.Store)
	if !ok {
		return nil
	}
	kd, err := keydir.Open(ctx, keydir.Config{
		Store:    st,
		Interval: s.cfg.KeyDir.Interval,
		Auditors: s.cfg.KeyDir.Auditors,
		Now:      s.now,
		Logger:   s.log,
	})
	if err != nil {
		return fmt.Errorf("server: key directory: %w", err)
	}
	s.kd = kd
	s.wg.Add(1)
	go func() { defer s.wg.Done(); kd.Run(s.ctx) }()
	return nil
}

// KeyDir returns the key directory, nil if it is off.
func (s *Server) KeyDir() *keydir.Dir { return s.kd }

// keyDirQueue puts a newly registered account's key in the next epoch. A
// failure is logged, not fatal: the account's first monitoring queues it.
func (s *Server) keyDirQueue(account string, identityKey []byte) {
	if s.kd == nil {
		return
	}
	if err := s.kd.Queue(s.ctx, account, identityKey); err != nil && !errors.Is(err, keydir.ErrNotCertified) {
		s.log.Error("cannot queue a new account's key for the key directory; its monitoring will", "err", err)
	}
}

// deviceListValue is the key directory value of account's signed device
// list; false if there is no list (or it does not parse: contacts refuse
// it anyway).
func deviceListValue(list []byte) ([]byte, bool) {
	l, err := devlist.Decode(list)
	if err != nil || len(list) == 0 {
		return nil, false
	}
	return keytrans.DeviceListValue(l.Version, devlist.Digest(list)), true
}

// keyDirQueueList puts the digest of account's new device list in the
// next epoch, so every contact can check it is shown the same list. A
// failure is logged: the account's next monitoring queues it.
func (s *Server) keyDirQueueList(account string, list []byte) {
	v, ok := deviceListValue(list)
	if s.kd == nil || !ok {
		return
	}
	if err := s.kd.Queue(s.ctx, keytrans.DeviceListLabel(account), v); err != nil && !errors.Is(err, keydir.ErrNotCertified) {
		s.log.Error("cannot queue a device list for the key directory; its account's monitoring will", "err", err)
	}
}

// ensureList queues account's device list digest unless the directory
// already holds it (a list put before the directory held lists, or lost
// to a crash).
func (c *conn) ensureList(account string) error {
	list, _, err := c.s.st.DeviceList(c.s.ctx, account)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if v, ok := deviceListValue(list); ok {
		return c.s.kd.Ensure(c.s.ctx, keytrans.DeviceListLabel(account), v)
	}
	return nil
}

// handleKeyDir handles the key directory's requests; false if req is not
// one.
func (c *conn) handleKeyDir(req *wire.Request) bool {
	id := req.GetId()
	var (
		res *wire.Response
		err error
	)
	switch op := req.GetOp().(type) {
	case *wire.Request_KeydirGetHead:
		res, err = c.keyDirHead()
	case *wire.Request_KeydirSearch:
		res, err = c.keyDirSearch(op.KeydirSearch.GetAccount(), op.KeydirSearch.GetSize(), false)
	case *wire.Request_KeydirMonitor:
		res, err = c.keyDirSearch("", op.KeydirMonitor.GetSize(), true)
	case *wire.Request_KeydirConsistency:
		res, err = c.keyDirConsistency(op.KeydirConsistency)
	case *wire.Request_KeydirLog:
		res, err = c.keyDirLog(op.KeydirLog)
	case *wire.Request_KeydirCountersign:
		res, err = c.keyDirCountersign(op.KeydirCountersign)
	default:
		return false
	}
	if err != nil {
		c.replyErr(id, c.keyDirError(err))
		return true
	}
	c.reply(id, res)
	return true
}

var errKeyDirAuth = errors.New("authenticate first: searching the key directory needs an account")

func (c *conn) keyDirError(err error) *wire.Error {
	var we *wire.Error
	switch {
	case errors.As(err, &we):
		return we
	case c.s.kd == nil || errors.Is(err, keydir.ErrNotCertified):
		return wire.NewError(wire.Code_UNSUPPORTED, "this server has no key directory: its operator has not certified one with the trust root")
	case errors.Is(err, errKeyDirAuth):
		return errNotAuthenticated
	case errors.Is(err, keydir.ErrNoHead):
		e := wire.NewError(wire.Code_UNAVAILABLE, "the key directory has not published its first head yet; retry in a minute")
		e.RetryAfterMs = 60000
		return e
	case errors.Is(err, keytrans.ErrNoSuchHead):
		return wire.NewError(wire.Code_NOT_FOUND, "no such tree head (or too old to answer lookups at): ask for the newest")
	case errors.Is(err, keydir.ErrUnknownAuditor), errors.Is(err, keytrans.ErrNotAudited), errors.Is(err, keytrans.ErrMalformed):
		return wire.NewError(wire.Code_BAD_REQUEST, err.Error())
	}
	return c.storeError(err)
}

func (c *conn) keyDirHead() (*wire.Response, error) {
	if c.s.kd == nil {
		return nil, keydir.ErrNotCertified
	}
	k := c.s.kd.Keys()
	if k == nil {
		return nil, keydir.ErrNotCertified
	}
	sh, err := c.s.kd.Head()
	if err != nil {
		return nil, err
	}
	audits, err := c.s.kd.Audits(c.s.ctx)
	if err != nil {
		return nil, err
	}
	h := &wire.KeyDirHead{
		Certificate:     k.Cert.Encode(),
		Head:            sh.Encode(),
		IntervalSeconds: uint32(c.s.keyDirInterval() / time.Second),
	}
	for _, a := range audits {
		h.Audits = append(h.Audits, &wire.KeyDirAudit{Head: a.Head.Encode(), Signature: a.Signature.Encode()})
	}
	return &wire.Response{Result: &wire.Response_KeydirHead{KeydirHead: h}}, nil
}

func (s *Server) keyDirInterval() time.Duration {
	if s.cfg.KeyDir.Interval > 0 {
		return s.cfg.KeyDir.Interval
	}
	return keydir.DefaultInterval
}

// keyDirSearch answers a search for account, or for the connection's own
// account when own (monitoring), which also queues the account's key if its
// entry lacks it.
func (c *conn) keyDirSearch(account string, size uint64, own bool) (*wire.Response, error) {
	if c.s.kd == nil {
		return nil, keydir.ErrNotCertified
	}
	if !c.isAuthed() {
		return nil, errKeyDirAuth
	}
	if own {
		account = c.address().Account
		acct, err := c.s.st.Account(c.s.ctx, account)
		if err != nil {
			return nil, err
		}
		if err := c.s.kd.Ensure(c.s.ctx, account, acct.IdentityKey); err != nil {
			return nil, err
		}
		if err := c.ensureList(account); err != nil {
			return nil, err
		}
	} else if a, isList := keytrans.DeviceListAccount(account); !ValidAccountID(account) && !(isList && ValidAccountID(a)) {
		return nil, badRequest("account must be an account ID, or devices/ and an account ID")
	}
	sh, l, err := c.s.kd.Search(c.s.ctx, account, size)
	if err != nil {
		return nil, err
	}
	return &wire.Response{Result: &wire.Response_KeydirLookup{KeydirLookup: &wire.KeyDirLookup{
		Head: sh.Encode(), Lookup: l.Encode(),
	}}}, nil
}

func (c *conn) keyDirConsistency(r *wire.KeyDirConsistency) (*wire.Response, error) {
	if c.s.kd == nil {
		return nil, keydir.ErrNotCertified
	}
	to := r.GetTo()
	if to == 0 {
		sh, err := c.s.kd.Head()
		if err != nil {
			return nil, err
		}
		to = sh.Size
	}
	p, err := c.s.kd.Consistency(r.GetFrom(), to)
	if err != nil {
		return nil, err
	}
	sh, err := c.s.kd.SignedHead(c.s.ctx, to)
	if err != nil {
		return nil, err
	}
	return &wire.Response{Result: &wire.Response_KeydirProof{KeydirProof: &wire.KeyDirProof{
		Proof: logtree.EncodeProof(p), Head: sh.Encode(),
	}}}, nil
}

func (c *conn) keyDirLog(r *wire.KeyDirLog) (*wire.Response, error) {
	if c.s.kd == nil {
		return nil, keydir.ErrNotCertified
	}
	limit := int(min(max(r.GetLimit(), 1), maxKeyDirLog))
	es, err := c.s.kd.Log(c.s.ctx, r.GetFrom(), limit, wire.MaxServerFrameBytes-64<<10)
	if err != nil {
		return nil, err
	}
	out := &wire.KeyDirEpochs{}
	for _, e := range es {
		out.Epochs = append(out.Epochs, e.Record)
		out.Heads = append(out.Heads, e.Head)
	}
	return &wire.Response{Result: &wire.Response_KeydirEpochs{KeydirEpochs: out}}, nil
}

func (c *conn) keyDirCountersign(r *wire.KeyDirCountersign) (*wire.Response, error) {
	if c.s.kd == nil {
		return nil, keydir.ErrNotCertified
	}
	sig, err := keytrans.DecodeAuditorSignature(r.GetSignature())
	if err != nil {
		return nil, err
	}
	if err := c.s.kd.Countersign(c.s.ctx, r.GetSize(), sig); err != nil {
		return nil, err
	}
	return &wire.Response{Result: &wire.Response_KeydirCountersigned{KeydirCountersigned: &wire.KeyDirCountersigned{}}}, nil
}
