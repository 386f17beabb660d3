// Package transparency is the client's side of key transparency: every key
// the server hands out for a contact is checked against the server's key
// directory (a lookup proof under a head signed by the directory key the
// pinned trust root certified), each new head must extend the newest one
// seen (a consistency proof, or an alarm), the account's own entry is
// watched on every connection and at an interval (an alarm on a key or a
// key change the user did not make), and a client can require that heads
// were countersigned by a named auditor. A failed check keeps the contact's
// messages queued, exactly like an unaccepted key change.
//
// It checks silently: nothing shows unless something is wrong.
package transparency

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/skymsg/sky/keytrans"
	"github.com/skymsg/sky/keytrans/logtree"
	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/wire"
)

// ErrAlarm marks a check that failed in a way only a misbehaving server
// (or directory) explains: a key the directory does not show, a fork, a
// rewritten history, a withheld proof, a key the user did not publish.
var ErrAlarm = errors.New("key directory alarm")

func alarm(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrAlarm, fmt.Sprintf(format, args...))
}

// ErrNotYet says that a contact's key is not in the directory yet (it is
// added within an interval of registering); messages wait and are retried
// (errors.Is(err, ErrNotYet); RetryAfter says when).
var ErrNotYet error = notYet{}

type notYet struct{}

func (notYet) Error() string {
	return "the contact's key is not in the key directory yet; the message waits and is retried"
}

// RetryAfter is how soon to ask again.
func (notYet) RetryAfter() time.Duration { return 3 * time.Second }

// A Caller sends a request to the server (a *conn.Conn).
type Caller interface {
	Call(ctx context.Context, req *wire.Request) (*wire.Response, error)
}

// Persist keeps the checker's state in the client's encrypted store.
type Persist interface {
	Load() ([]byte, error) // nil, nil when nothing was saved
	Save([]byte) error
}

// Auditor is an auditor the user requires: heads are used only once it
// countersigned them.
type Auditor struct {
	Name string
	Key  curve.PublicKey
}

// Config configures a Checker.
type Config struct {
	Own      string            // the account's ID
	OwnKey   []byte            // the account's identity key as published
	Roots    []curve.PublicKey // the pinned trust root
	Auditor  *Auditor          // nil: no auditor required
	Interval time.Duration     // monitoring; default 10 minutes
	Now      func() time.Time
	Persist  Persist
	// MaxAge is how old the head used may be (the newest, or the newest
	// the required auditor countersigned) before it counts as withheld;
	// default 1 hour.
	MaxAge time.Duration
}

// Checker runs the checks. It is safe for concurrent use.
type Checker struct {
	cfg Config
	mu  sync.Mutex
	st  state
	// signed is the newest head seen as the directory signed it, which
	// goes to contacts (Head); heard holds the heads contacts sent, until
	// the next Monitor checks them.
	signed []byte
	heard  []heard
}

type heard struct {
	peer string
	head []byte
}

// maxHeard bounds the contacts' heads waiting for a check.
const maxHeard = 64

// New returns a checker with its saved state.
func New(cfg Config) (*Checker, error) {
	if cfg.Interval <= 0 {
		cfg.Interval = 10 * time.Minute
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	k := &Checker{cfg: cfg}
	if cfg.Persist != nil {
		b, err := cfg.Persist.Load()
		if err != nil {
			return nil, err
		}
		if b != nil {
			if k.st, err = decodeState(b); err != nil {
				return nil, fmt.Errorf("the key directory's saved state: %w", err)
			}
		}
	}
	return k, nil
}

// Interval is how often Monitor should run.
func (k *Checker) Interval() time.Duration { return k.cfg.Interval }

// A view is a head the checks use and what vouches for it.
type view struct {
	cert    *keytrans.DirectoryCertificate
	head    keytrans.Head
	auditor string // the auditor that countersigned it, if one is required
}

// current fetches the newest head (or the newest one the required auditor
// countersigned), checks it, and checks that it extends the newest head
// seen before.
func (k *Checker) current(ctx context.Context, c Caller) (*view, error) {
	r, err := c.Call(ctx, &wire.Request{Op: &wire.Request_KeydirGetHead{KeydirGetHead: &wire.KeyDirGetHead{}}})
	if errors.Is(err, wire.ErrUnsupported) {
		k.mu.Lock()
		seen := k.st.head != nil
		k.mu.Unlock()
		if seen || k.cfg.Auditor != nil {
			return nil, alarm("the server no longer answers for its key directory (it did before, or an auditor is required)")
		}
		return nil, nil // a server without a directory: nothing to check
	}
	if errors.Is(err, wire.ErrUnavailable) {
		k.mu.Lock()
		seen := k.st.head != nil
		k.mu.Unlock()
		if !seen {
			return nil, nil // no head published yet: nothing to check against
		}
	}
	if err != nil {
		return nil, err
	}
	h := r.GetKeydirHead()
	cert, err := keytrans.DecodeCertificate(h.GetCertificate())
	if err != nil {
		return nil, alarm("the directory's certificate does not decode")
	}
	if err := cert.Verify(k.cfg.Roots...); err != nil {
		return nil, alarm("the directory's certificate is not signed by the trust root you pinned")
	}
	newest, err := keytrans.DecodeSignedHead(h.GetHead())
	if err != nil || newest.Verify(cert) != nil {
		return nil, alarm("the directory's newest head is not signed by its certified key")
	}
	v := &view{cert: cert, head: newest.Head}
	signed := h.GetHead()
	if a := k.cfg.Auditor; a != nil {
		if v.head, signed, err = k.audited(h, a); err != nil {
			return nil, err
		}
		v.auditor = a.Name
		if newest.TimeMillis > v.head.TimeMillis+uint64(k.cfg.MaxAge.Milliseconds()) {
			return nil, alarm("auditor %s has not countersigned the directory for over %v", a.Name, k.cfg.MaxAge)
		}
	}
	if now := uint64(k.cfg.Now().UnixMilli()); now > newest.TimeMillis+uint64(k.cfg.MaxAge.Milliseconds()) {
		return nil, alarm("the directory's newest head is over %v old: it is withholding newer ones", k.cfg.MaxAge)
	}
	if err := k.extend(ctx, c, v.head, signed); err != nil {
		return nil, err
	}
	return v, nil
}

// audited returns the head the required auditor countersigned.
func (k *Checker) audited(h *wire.KeyDirHead, a *Auditor) (keytrans.Head, []byte, error) {
	for _, au := range h.GetAudits() {
		sig, err := keytrans.DecodeAuditorSignature(au.GetSignature())
		if err != nil || sig.Key != a.Key {
			continue
		}
		sh, err := keytrans.DecodeSignedHead(au.GetHead())
		if err != nil {
			continue
		}
		if err := sig.Verify(&sh.Head, a.Key); err != nil {
			return keytrans.Head{}, nil, alarm("auditor %s's countersignature does not verify", a.Name)
		}
		return sh.Head, au.GetHead(), nil
	}
	return keytrans.Head{}, nil, fmt.Errorf("%w: %s", errNoAudit, a.Name)
}

var errNoAudit = alarm("no head countersigned by the required auditor")

// extend checks that head and the newest head seen are one log, and keeps
// the larger.
func (k *Checker) extend(ctx context.Context, c Caller, head keytrans.Head, signed []byte) error {
	k.mu.Lock()
	old := k.st.head
	k.mu.Unlock()
	if old != nil && old.Size != head.Size {
		from, to := old, &head
		if head.Size < old.Size {
			from, to = &head, old
		}
		if err := consistent(ctx, c, from, to); err != nil {
			return alarm("head %d does not extend head %d: the directory forked or rewrote its log, or withheld the proof (%v)", to.Size, from.Size, err)
		}
	} else if old != nil && *old != head {
		return alarm("two different heads of %d epochs: the directory forked", head.Size)
	}
	if old == nil || head.Size >= old.Size {
		k.mu.Lock()
		k.signed = append([]byte(nil), signed...)
		var b []byte
		if old == nil || head.Size > old.Size {
			k.st.head = &head
			b = k.st.encode()
		}
		k.mu.Unlock()
		if b != nil {
			return k.save(b)
		}
	}
	return nil
}

// consistent checks, with a proof from the server, that heads a and b
// (in either order) are one log.
func consistent(ctx context.Context, c Caller, a, b *keytrans.Head) error {
	if a.Size == b.Size {
		if *a != *b {
			return keytrans.ErrInconsistent
		}
		return nil
	}
	from, to := a, b
	if b.Size < a.Size {
		from, to = b, a
	}
	r, err := c.Call(ctx, &wire.Request{Op: &wire.Request_KeydirConsistency{KeydirConsistency: &wire.KeyDirConsistency{From: from.Size, To: to.Size}}})
	if err != nil {
		return fmt.Errorf("the proof was withheld (%w)", err)
	}
	p, err := logtree.DecodeProof(r.GetKeydirProof().GetProof())
	if err != nil {
		return err
	}
	return keytrans.VerifyConsistency(from, to, p)
}

// Head returns the newest head seen as the directory signed it, to send to
// contacts (nil before the first check).
func (k *Checker) Head() []byte {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.signed
}

// Gossip keeps a head peer sent for the next Monitor to check. A head
// already waiting is not kept twice: every message carries one, and
// repeats of one head would fill the bound and crowd out another
// contact's different head, the one that may prove a fork.
func (k *Checker) Gossip(peer string, head []byte) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, h := range k.heard {
		if bytes.Equal(h.head, head) {
			return
		}
	}
	if len(k.heard) < maxHeard {
		k.heard = append(k.heard, heard{peer: peer, head: append([]byte(nil), head...)})
	}
}

// checkHeard compares the heads contacts sent with the own view: a head
// signed by the directory that cannot be one log with the own newest head
// proves that the server shows different people different trees.
func (k *Checker) checkHeard(ctx context.Context, c Caller, v *view) error {
	k.mu.Lock()
	hs, mine := k.heard, k.st.head
	k.heard = nil
	k.mu.Unlock()
	for _, h := range hs {
		sh, err := keytrans.DecodeSignedHead(h.head)
		if err != nil || sh.Verify(v.cert) != nil || mine == nil {
			continue // not signed by the directory's current key: proves nothing
		}
		if err := consistent(ctx, c, mine, &sh.Head); err != nil {
			return alarm("%s was shown a key directory that cannot be the one you see (%v): the server shows different people different keys", h.peer, err)
		}
	}
	return nil
}

// save stores an encoded state. It is never called with k.mu held: the
// store may be busy with a received message that hands over a head
// (Gossip, which takes k.mu).
func (k *Checker) save(b []byte) error {
	if k.cfg.Persist == nil {
		return nil
	}
	return k.cfg.Persist.Save(b)
}

// lookup asks for account's entry at v's head and checks it.
func (k *Checker) lookup(ctx context.Context, c Caller, v *view, account string, own bool) (*keytrans.Entry, error) {
	var req *wire.Request
	if own {
		req = &wire.Request{Op: &wire.Request_KeydirMonitor{KeydirMonitor: &wire.KeyDirMonitor{Size: v.head.Size}}}
	} else {
		req = &wire.Request{Op: &wire.Request_KeydirSearch{KeydirSearch: &wire.KeyDirSearch{Account: account, Size: v.head.Size}}}
	}
	r, err := c.Call(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("asking the key directory: %w", err)
	}
	sh, err := keytrans.DecodeSignedHead(r.GetKeydirLookup().GetHead())
	if err != nil || sh.Head != v.head {
		return nil, alarm("the directory answered at another head than asked")
	}
	l, err := keytrans.DecodeLookup(r.GetKeydirLookup().GetLookup())
	if err != nil {
		return nil, alarm("the directory's lookup proof does not decode")
	}
	e, err := keytrans.VerifyLookup(v.cert, &v.head, account, l)
	if err != nil {
		return nil, alarm("the directory's proof for %s does not verify (%v)", account, err)
	}
	return e, nil
}

// CheckKey checks the identity key the server handed out for peer against
// the directory. It returns nil when the directory shows that very key,
// ErrNotYet when it has no entry for peer yet, an ErrAlarm otherwise.
func (k *Checker) CheckKey(ctx context.Context, c Caller, peer string, key []byte) error {
	v, err := k.current(ctx, c)
	if err != nil || v == nil {
		return err
	}
	e, err := k.lookup(ctx, c, v, peer, false)
	if err != nil {
		return err
	}
	if e == nil {
		return ErrNotYet
	}
	if !bytes.Equal(e.Value, key) {
		return alarm("the server handed out a key for %s that the key directory does not show: it may be trying to read your messages to %s; nothing is sent to that key", peer, peer)
	}
	k.mu.Lock()
	k.st.confirmed(peer, key, v.head.Size, v.auditor)
	b := k.st.encode()
	k.mu.Unlock()
	return k.save(b)
}

// Monitor checks the account's own entry: it must hold the user's key,
// and its version must not change without the user.
func (k *Checker) Monitor(ctx context.Context, c Caller) error {
	v, err := k.current(ctx, c)
	if err != nil || v == nil {
		return err
	}
	if err := k.checkHeard(ctx, c, v); err != nil {
		return err
	}
	e, err := k.lookup(ctx, c, v, k.cfg.Own, true)
	if err != nil || e == nil {
		return err // no entry yet: monitoring asked the server to add it
	}
	if !bytes.Equal(e.Value, k.cfg.OwnKey) {
		return alarm("the key directory shows a key for you that is not yours: someone may receive messages meant for you; tell your contacts and the operator")
	}
	k.mu.Lock()
	if k.st.ownVersion != 0 && e.Version != k.st.ownVersion {
		n := e.Version - k.st.ownVersion
		k.mu.Unlock()
		return alarm("the key directory shows %d key changes for you that you did not make: someone may have received messages meant for you", n)
	}
	k.st.ownVersion = e.Version
	b := k.st.encode()
	k.mu.Unlock()
	return k.save(b)
}

// A Confirmation says that the directory showed a contact's key.
type Confirmation struct {
	Key     []byte
	Head    uint64 // the head (in epochs) it was seen at
	Auditor string // the auditor that countersigned that head, if required
}

// Confirmed returns the last confirmation of peer's key, if any.
func (k *Checker) Confirmed(peer string) (Confirmation, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	c, ok := k.st.peers[peer]
	return c, ok
}

// OwnVersion returns the version of the own entry last seen (0: none yet).
func (k *Checker) OwnVersion() uint32 {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.st.ownVersion
}
