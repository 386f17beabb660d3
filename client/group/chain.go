package group

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/skymsg/sky/protocol/curve"
)

// Signed group versions (issue 22). Every state of a group is a Version
// signed by an admin; who is an admin is itself decided by signed versions
// reaching back to the group's creation, whose signature is by the group
// key, to which the group's ID commits. So nobody — a member, a stranger,
// the server — can show a member a copy of the group that its admins did
// not sign: a rival copy under the same ID fails verification.
//
// A version is a small header: the group ID, the state's version number,
// the digest of the version it follows (Prev), the digest of the last
// version that changed the admins (AdminPrev), the SHA-256 of the whole
// state it makes (StateDigest), the admins it adds (with the key each signs
// with: the admin's identity key) and removes, and its signer. The state
// itself travels beside it. A Proof is what a member or an invitee needs
// to check a state: the genesis, every version that changed the admins
// since, and the head (the version that made the state). Verifying it
// replays the admin set from the genesis and checks each signature by an
// admin of the set before it, so its cost grows with the number of admin
// changes, not with the number of changes.
//
// The group key signs only the genesis and is then thrown away: no one,
// not even the creator once removed, can sign another creation.

// checkSignatures is false only in tests that show what each check
// refuses: then signatures and admin rights go unchecked, as before groups
// were signed.
var checkSignatures = true

// Limits of signed versions.
const (
	// MaxProofVersions bounds the versions in a proof (admin changes
	// since the creation, plus the head).
	MaxProofVersions = 2048
	// MaxProofBytes bounds an encoded proof, so it fits in one message
	// with the state beside it.
	MaxProofBytes = 64 << 10
	// MaxRecent is how many of the latest versions a member keeps to
	// judge a competing change made from one of them.
	MaxRecent = 8
)

// More errors of signed groups; test with errors.Is.
var (
	ErrBadSignature = errors.New("the group change is not signed by an admin of the group (forged, or by a removed admin); it was ignored")
	ErrRival        = errors.New("the group change belongs to another copy of the group than yours (a rival copy under the same ID, made by someone who is not one of its admins); it was ignored")
	ErrUnsigned     = errors.New("the group change is not signed; this version of Sky accepts only signed groups from new groups and signed ones")
	ErrFork         = errors.New("the group change forks from an older version of the group that your copy has moved on from; it was ignored")
)

// AdminKey is an admin and the public key its versions are signed with
// (its identity key when it was made admin).
type AdminKey struct {
	ID  string
	Key curve.PublicKey
}

// Version is a signed version of a group. Its digest (Digest) covers every
// field but Sig.
type Version struct {
	ID          ID
	Number      uint64   // the state's Version
	Prev        [32]byte // digest of the version this one follows; zero in a genesis
	AdminPrev   [32]byte // digest of the last version that changed the admins; zero in a genesis
	StateDigest [32]byte // StateDigest of the state this version makes
	Added       []AdminKey
	Removed     []string // admins it removes, sorted
	Signer      string
	// GroupKey is set only in a genesis: the public key the group ID
	// commits to, which signs the genesis.
	GroupKey curve.PublicKey
	// From is set only in the genesis of a group that replaces one made
	// before versions were signed: the old group's ID. Its members move
	// to the new group when an admin of the old one sends it to them.
	From ID
	Sig  [curve.SignatureSize]byte
}

// Genesis reports whether v starts its group's chain.
func (v *Version) Genesis() bool { return v.Prev == [32]byte{} && v.AdminPrev == [32]byte{} }

// changesAdmins reports whether v adds or removes admins (every genesis
// does).
func (v *Version) changesAdmins() bool { return v.Genesis() || len(v.Added)+len(v.Removed) > 0 }

const (
	versionLabel  = "sky/v2 group version"
	stateLabel    = "sky/v2 group state"
	groupKeyLabel = "sky/v2 group key"
)

// sigLabel starts what a version's signature signs (then its digest), so
// a signature by an identity key made for anything else — a signed
// prekey, a device list — is never a version's.
var sigLabel = []byte("sky/v2 group version signature\x00")

// Digest identifies v: SHA-256 of a label and v's encoding without its
// signature. It is what v signs.
func (v *Version) Digest() [32]byte {
	return sha256.Sum256(append([]byte(versionLabel+"\x00"), v.appendSigned(nil)...))
}

// IDFor returns the group ID that commits to a group key: the first 16
// bytes of SHA-256 of a label and the key.
func IDFor(key curve.PublicKey) ID {
	h := sha256.Sum256(append([]byte(groupKeyLabel+"\x00"), key.Bytes()...))
	var id ID
	copy(id[:], h[:])
	return id
}

// StateDigest is the SHA-256 of a state's canonical encoding, the one every
// member computes alike.
func StateDigest(s *State) [32]byte {
	h := sha256.New()
	var n [8]byte
	str := func(s string) {
		binary.BigEndian.PutUint32(n[:4], uint32(len(s)))
		h.Write(n[:4])
		h.Write([]byte(s))
	}
	list := func(l []string) {
		binary.BigEndian.PutUint32(n[:4], uint32(len(l)))
		h.Write(n[:4])
		for _, s := range l {
			str(s)
		}
	}
	h.Write([]byte(stateLabel + "\x00"))
	h.Write(s.ID[:])
	binary.BigEndian.PutUint64(n[:], s.Version)
	h.Write(n[:])
	str(s.Name)
	list(s.Members)
	list(s.Admins)
	binary.BigEndian.PutUint64(n[:], uint64(s.Timer/time.Second))
	h.Write(n[:])
	h.Write(s.Link[:])
	var d [32]byte
	h.Sum(d[:0])
	return d
}

// Proof is what shows a state is the group's: Chain is the genesis, every
// later version that changed the admins, in order, and last the head (the
// version that made the state) unless the head is one of them.
type Proof struct {
	Chain []Version
}

// Head returns the version that made the proven state.
func (p *Proof) Head() *Version { return &p.Chain[len(p.Chain)-1] }

// authority is the admin set a proof ends with: each admin's key and
// rank (the index, in versions, of the version that last made them admin:
// the lower, the longer-standing), and the admin-changing versions in
// order (genesis first) with their digests.
type authority struct {
	keys     map[string]curve.PublicKey
	rank     map[string]int
	chain    [][32]byte
	versions []*Version
}

func newAuthority() *authority {
	return &authority{keys: map[string]curve.PublicKey{}, rank: map[string]int{}}
}

// key returns an admin's signing key.
func (a *authority) key(id string) (curve.PublicKey, bool) {
	k, ok := a.keys[id]
	return k, ok
}

// add applies an admin-changing version (its digest d).
func (a *authority) add(v *Version, d [32]byte) {
	for _, r := range v.Removed {
		delete(a.keys, r)
		delete(a.rank, r)
	}
	for _, k := range v.Added {
		a.keys[k.ID], a.rank[k.ID] = k.Key, len(a.chain)
	}
	a.chain = append(a.chain, d)
	a.versions = append(a.versions, v)
}

// Verify checks that p proves s: the genesis commits to s's ID, every
// version is signed by an admin of the set before it, and the head makes s
// with the admins the chain ends with. It returns that authority;
// ErrBadSignature or ErrInvalid say why not.
func (p *Proof) Verify(s *State) (*authority, error) { return p.verify(s, nil) }

// verify is Verify, trusting the signatures of the versions p shares, from
// its start, with known, a proof the member verified before (so a member
// checks only what is new to it).
func (p *Proof) verify(s *State, known *Proof) (*authority, error) {
	if len(p.Chain) == 0 || len(p.Chain) > MaxProofVersions {
		return nil, malformed("a proof of no versions, or too many")
	}
	g := &p.Chain[0]
	if g.ID != s.ID {
		return nil, fmt.Errorf("%w (the creation of the group does not match its ID)", ErrBadSignature)
	}
	if !g.Genesis() || len(g.Removed) > 0 || len(g.Added) == 0 {
		return nil, malformed("the proof does not start with the group's creation")
	}
	trusted := sharedPrefix(p, known)
	d := g.Digest()
	switch {
	case !checkSignatures || trusted > 0:
	case IDFor(g.GroupKey) != g.ID || !g.GroupKey.Verify(g.Sig[:], sigLabel, d[:]) || !containsAdmin(g.Added, g.Signer):
		return nil, fmt.Errorf("%w (the creation of the group does not match its ID)", ErrBadSignature)
	}
	a := newAuthority()
	a.add(g, d)
	last := g
	for i := 1; i < len(p.Chain); i++ {
		v := &p.Chain[i]
		head := i == len(p.Chain)-1
		d, err := a.check(v, last, i < trusted)
		if err != nil {
			return nil, err
		}
		if !v.changesAdmins() && !head {
			return nil, malformed("a version in the proof that changes no admin")
		}
		if v.changesAdmins() {
			a.add(v, d)
			if len(a.keys) == 0 {
				return nil, malformed("a version that leaves no admin")
			}
		}
		last = v
	}
	return a, p.matches(s, a)
}

// sharedPrefix returns how many admin-changing versions p starts with that
// known has too, in the same places.
func sharedPrefix(p, known *Proof) int {
	if known == nil {
		return 0
	}
	n := 0
	for n < len(p.Chain) && n < len(known.Chain) && known.Chain[n].changesAdmins() && p.Chain[n].Digest() == known.Chain[n].Digest() {
		n++
	}
	return n
}

// check verifies that v follows prev (the last admin-changing version
// before it) under the admin set a, and is signed by one of them.
// trusted skips the signature (checked when the member accepted it
// before). It returns v's digest.
func (a *authority) check(v, prev *Version, trusted bool) ([32]byte, error) {
	key, ok := a.key(v.Signer)
	d := v.Digest()
	switch {
	case v.Genesis() || v.ID != prev.ID || !v.GroupKey.IsZero() || v.From != (ID{}):
		return d, malformed("a second creation in the proof")
	case v.AdminPrev != a.chain[len(a.chain)-1] || v.Number <= prev.Number:
		return d, malformed("the proof's versions are not linked in order")
	case !checkSignatures:
	case !ok:
		return d, fmt.Errorf("%w (%s is no admin of the version before)", ErrBadSignature, v.Signer)
	case !trusted && !key.Verify(v.Sig[:], sigLabel, d[:]):
		return d, fmt.Errorf("%w (a bad signature)", ErrBadSignature)
	}
	for _, r := range v.Removed {
		if _, ok := a.keys[r]; !ok {
			return d, malformed("a version removes someone who is no admin")
		}
	}
	return d, nil
}

// matches checks that the head of p makes s with the admins of a.
func (p *Proof) matches(s *State, a *authority) error {
	h := p.Head()
	if h.Number != s.Version || h.StateDigest != StateDigest(s) {
		return fmt.Errorf("%w (the state is not the one its version signs)", ErrBadSignature)
	}
	if len(a.keys) != len(s.Admins) {
		return malformed("the state's admins are not those its versions made")
	}
	for _, id := range s.Admins {
		if _, ok := a.keys[id]; !ok {
			return malformed("the state's admins are not those its versions made")
		}
	}
	return nil
}

func containsAdmin(l []AdminKey, id string) bool {
	return slices.ContainsFunc(l, func(k AdminKey) bool { return k.ID == id })
}

// Signer is what an admin signs versions with: its identity key pair, and
// how it finds the identity key of a member it makes admin (the one pinned
// for them; false if it has none).
type Signer struct {
	ID   string
	Key  curve.KeyPair
	Keys func(id string) (curve.PublicKey, bool)
}

// ErrNoKey: an admin cannot be made before their identity key is known.
var ErrNoKey = errors.New("the identity key of a member to make admin is not known yet; exchange a message with them first")

// adminDelta returns the admins s adds (with their keys) and removes
// compared to the admin set a.
func (sg *Signer) adminDelta(a map[string]curve.PublicKey, s *State) ([]AdminKey, []string, error) {
	var added []AdminKey
	for _, id := range s.Admins {
		if _, ok := a[id]; ok {
			continue
		}
		k, ok := sg.lookup(id)
		if !ok {
			return nil, nil, fmt.Errorf("%w (%s)", ErrNoKey, id)
		}
		added = append(added, AdminKey{ID: id, Key: k})
	}
	var removed []string
	for id := range a {
		if !s.IsAdmin(id) {
			removed = append(removed, id)
		}
	}
	slices.Sort(removed)
	return added, removed, nil
}

func (sg *Signer) lookup(id string) (curve.PublicKey, bool) {
	if id == sg.ID {
		return sg.Key.Public, true
	}
	if sg.Keys == nil {
		return curve.PublicKey{}, false
	}
	return sg.Keys(id)
}

// Genesis makes the proof of a new group's first state s (its ID is
// replaced by the one the fresh group key commits to): a genesis signed by
// a group key made for it and then forgotten. Every admin's key must be
// known to sg.
func (sg *Signer) Genesis(s *State) (*Proof, error) {
	gk := curve.GenerateKeyPair()
	s.ID = IDFor(gk.Public)
	added, _, err := sg.adminDelta(nil, s)
	if err != nil {
		return nil, err
	}
	v := Version{ID: s.ID, Number: s.Version, StateDigest: StateDigest(s), Added: added, Signer: sg.ID, GroupKey: gk.Public}
	d := v.Digest()
	v.Sig = gk.Private.Sign(sigLabel, d[:])
	return &Proof{Chain: []Version{v}}, nil
}

// Migrate makes the proof of the first signed state s of a group made
// before versions were signed. Its ID commits to no key, so the signed
// group gets a new one (a genesis like Genesis's) that names the old ID in
// From; the admins of s whose keys sg does not know lose their admin right
// (s is changed to say so).
func (sg *Signer) Migrate(s *State) (*Proof, error) {
	from := s.ID
	s.Admins = slices.DeleteFunc(slices.Clone(s.Admins), func(id string) bool { _, ok := sg.lookup(id); return !ok })
	if !s.IsAdmin(sg.ID) {
		return nil, ErrNotAdmin
	}
	p, err := sg.Genesis(s)
	if err != nil {
		return nil, err
	}
	g := &p.Chain[0]
	g.From = from
	gk := curve.GenerateKeyPair() // sign again under a fresh key: From is signed too
	s.ID, g.ID, g.GroupKey = IDFor(gk.Public), IDFor(gk.Public), gk.Public
	g.StateDigest = StateDigest(s)
	d := g.Digest()
	g.Sig = gk.Private.Sign(sigLabel, d[:])
	return p, nil
}

// Next makes the proof of s, the state that follows the one p proves
// (whose head has digest prev): a version signed by sg, who must be an
// admin of p's authority.
func (sg *Signer) Next(p *Proof, prevState *State, s *State) (*Proof, error) {
	a, err := p.verify(prevState, p) // the user's own record: its versions were checked when accepted
	if err != nil {
		return nil, err
	}
	if k, ok := a.key(sg.ID); !ok || k != sg.Key.Public {
		return nil, fmt.Errorf("%w (your key is not the one the group lists for you: ask another admin to make you admin again)", ErrNotAdmin)
	}
	added, removed, err := sg.adminDelta(a.keys, s)
	if err != nil {
		return nil, err
	}
	v := Version{ID: s.ID, Number: s.Version, Prev: p.Head().Digest(), AdminPrev: a.chain[len(a.chain)-1],
		StateDigest: StateDigest(s), Added: added, Removed: removed, Signer: sg.ID}
	d := v.Digest()
	v.Sig = sg.Key.Private.Sign(sigLabel, d[:])
	// The new proof: the admin-changing versions of p, then v.
	chain := slices.Clone(p.Chain)
	if !p.Head().changesAdmins() {
		chain = chain[:len(chain)-1]
	}
	return &Proof{Chain: append(chain, v)}, nil
}
