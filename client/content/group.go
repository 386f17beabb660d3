package content

import (
	"encoding/hex"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
)

// Groups. A group is a list of members kept only by its members' clients;
// the server never learns it. Its bodies:
//
//   - KindGroupUpdate: a group's whole new state (version, name, members,
//     admins, timer), made by an admin and sent to every member inside the
//     1:1 session, so the receiver knows who made it. It may carry the
//     author's sender key, and the access keys the author knows of members.
//   - KindGroupLeave: the sender leaves the group (1:1).
//   - KindSenderKey: the sender's sender key for the group, a libsignal
//     SenderKeyDistributionMessage (1:1), and the sequence number of the
//     sender's next group text, so a new member expects nothing before it.
//   - KindGroupText: a text to the group, encrypted once with the sender's
//     sender key and sent to each member; it names the group instead of a
//     recipient.
//   - KindGroupNotice: never sent. What a client stores for itself to show
//     a change it accepted (who was added, removed, ...).
//   - KindGroupSync: the sender's head of the group's signed versions,
//     which differs from one the receiver showed (1:1): asks the receiver
//     for its current state and proof (sent back as a KindGroupUpdate).
//   - KindGroupJoin: asks an admin to be let into a group, with the secret
//     of the group's invite link (1:1, usually from a stranger).
const (
	KindGroupText   Kind = 13
	KindGroupUpdate Kind = 14
	KindGroupLeave  Kind = 15
	KindSenderKey   Kind = 16
	KindGroupNotice Kind = 17
	KindGroupSync   Kind = 50
	KindGroupJoin   Kind = 51
)

// Limits of group bodies.
const (
	// GroupIDSize is the size of a group ID.
	GroupIDSize = 16
	// MaxGroupMembers bounds a group, its creator and admins included.
	MaxGroupMembers = 1000
	// MaxGroupNameBytes bounds a group's name.
	MaxGroupNameBytes = 200
	// MaxDistributionBytes bounds a sender key distribution message
	// (libsignal's are about 100 bytes).
	MaxDistributionBytes = 512
	// MaxGroupProofBytes bounds the signed versions that prove a group's
	// state (package client/group checks what they prove).
	MaxGroupProofBytes = 64 << 10
	// MaxGroupAncestryBytes bounds the recent versions an update carries
	// beside its proof (so a full group's update still fits the largest
	// padding bucket).
	MaxGroupAncestryBytes = 8 << 10
	// GroupHeadSize is the size of a head of a group's signed versions:
	// its version number (8 bytes, big-endian) and digest (32).
	GroupHeadSize = 40
	// JoinSecretSize is the size of an invite link's secret.
	JoinSecretSize = 16
)

// GroupID names a group. It is chosen at random by the group's creator.
type GroupID [GroupIDSize]byte

// String returns the ID in hex (32 digits).
func (id GroupID) String() string { return hex.EncodeToString(id[:]) }

// ParseGroupID decodes a group ID as String writes it.
func ParseGroupID(s string) (GroupID, error) {
	var id GroupID
	if len(s) != 2*GroupIDSize {
		return id, fmt.Errorf("%w: a group ID is %d hex digits", ErrMalformed, 2*GroupIDSize)
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("%w: a group ID is hex digits", ErrMalformed)
	}
	return id, nil
}

// Group is the body of a KindGroupUpdate: the state its author gives the
// group. Members and Admins are sorted and unique; every admin is a
// member. The group's timer is Content.Timer.
type Group struct {
	Version uint64
	Name    string
	Members []string
	Admins  []string
	// AccessKeys are members' access keys the author knows, so that
	// members can send each other sealed messages with delivery tokens.
	AccessKeys []MemberKey
	// Distribution, when set, is the author's sender key for the group,
	// and NextSeq the sequence number of the author's next group text.
	Distribution []byte
	NextSeq      uint64
	// Proof is the encoded chain of signed versions that proves this
	// state (client/group.Proof); empty only for a group made before
	// versions were signed. Link is the digest of the group's invite
	// link, zero when it has none.
	Proof []byte
	Link  [32]byte
	// Ancestry is the encoded versions before Proof's head on its
	// author's branch (client/group.Change.Ancestry), at most
	// MaxGroupAncestryBytes.
	Ancestry []byte
}

// Format shows only the group's version and sizes under every fmt verb:
// a Group carries access keys, its author's sender key and its name.
func (g Group) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "content.Group{version %d, %d members, %d admins, %d access keys, sender key %t, keys and name redacted}",
		g.Version, len(g.Members), len(g.Admins), len(g.AccessKeys), len(g.Distribution) > 0)
}

// MemberKey is a member's access key.
type MemberKey struct {
	ID  string
	Key []byte
}

// Format shows only whose key it is under every fmt verb.
func (k MemberKey) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "content.MemberKey{%s, key redacted}", k.ID)
}

// GroupNotice is the body of a KindGroupNotice: what an accepted change
// changed, as the storing client saw it. Content.Sender is who made it.
type GroupNotice struct {
	Version                    uint64
	Name                       string
	Joined                     bool // the group is new to this client (created, or the user was added)
	Added, Removed, Left       []string
	AdminsAdded, AdminsRemoved []string
	Renamed                    bool
	TimerChanged               bool // the new timer is Content.Timer
	LinkChanged                bool // the invite link was made, replaced or revoked
	Link                       bool // the group has an invite link after it
	JoinRequests               []string
}

// groupWide reports whether k is addressed to a group rather than to one
// recipient (its Recipient is empty).
func groupWide(k Kind) bool { return k == KindGroupText || k == KindGroupNotice }

// IsGroup reports whether k is one of the group kinds.
func IsGroup(k Kind) bool {
	return k >= KindGroupText && k <= KindGroupNotice || k == KindGroupSync || k == KindGroupJoin
}

// Field numbers of the group bodies.
const (
	gID = 1
	// KindGroupText
	gText       = 2
	gTimer      = 3 // seconds; also in updates (6) and notices (11)
	gAttachment = 4 // repeated: an encoded attachment pointer
	gHead       = 20
	// KindGroupSync: gID, gSyncHead; KindGroupJoin: gID, gJoinSecret
	gSyncHead   = 2
	gJoinSecret = 3
	// KindGroupUpdate
	gVersion      = 2
	gName         = 3
	gMember       = 4
	gAdmin        = 5
	gUpdateTimer  = 6
	gAccessKey    = 7 // {1: id, 2: key}
	gDistribution = 8 // also KindSenderKey's field 2
	gNextSeq      = 9 // also KindSenderKey's field 3
	gProof        = 10
	gLink         = 11
	gAncestry     = 12
	// KindGroupNotice
	gJoined        = 4
	gAdded         = 5
	gRemoved       = 6
	gLeft          = 7
	gAdminsAdded   = 8
	gAdminsRemoved = 9
	gRenamed       = 10
	gNoticeTimer   = 11
	gTimerChanged  = 12
	gLinkChanged   = 13
	gLinkOn        = 14
	gJoinRequests  = 15 // repeated
)

func (c *Content) checkGroup() error {
	bad := func(why string) error { return fmt.Errorf("%w: %s", ErrMalformed, why) }
	if c.GroupID == (GroupID{}) {
		return bad("no group ID")
	}
	if !ValidTimer(c.Timer) {
		return bad("bad timer")
	}
	switch c.Kind {
	case KindGroupText:
		if len(c.Text) > MaxTextBytes || !utf8.ValidString(c.Text) {
			return bad("the text is too long or not UTF-8")
		}
		if c.Seq == 0 {
			return bad("a group text without a sequence number")
		}
		if len(c.GroupHead) != 0 && len(c.GroupHead) != GroupHeadSize {
			return bad("a group text with a malformed head")
		}
	case KindGroupUpdate:
		if c.Group == nil || c.Seq == 0 {
			return bad("a group update without a state or sequence number")
		}
		return c.Group.check()
	case KindGroupLeave:
		if c.Seq == 0 {
			return bad("a group leave without a sequence number")
		}
	case KindGroupSync:
		if c.Seq == 0 || len(c.GroupHead) != GroupHeadSize {
			return bad("a group sync without a sequence number or head")
		}
	case KindGroupJoin:
		if c.Seq == 0 || len(c.JoinSecret) != JoinSecretSize {
			return bad("a join request without a sequence number or secret")
		}
	case KindSenderKey:
		if c.Seq == 0 || len(c.Distribution) == 0 || len(c.Distribution) > MaxDistributionBytes {
			return bad("a sender key without a sequence number or distribution message")
		}
	case KindGroupNotice:
		if c.Notice == nil {
			return bad("a group notice without its changes")
		}
		return c.Notice.check()
	}
	return nil
}

func validMemberID(s string) bool {
	return s != "" && len(s) <= MaxAccountBytes && utf8.ValidString(s)
}

// sortedIDs reports whether ids are valid, strictly ascending and at most
// max.
func sortedIDs(ids []string, max int) bool {
	if len(ids) > max {
		return false
	}
	for i, id := range ids {
		if !validMemberID(id) || (i > 0 && ids[i-1] >= id) {
			return false
		}
	}
	return true
}

func (g *Group) check() error {
	bad := func(why string) error { return fmt.Errorf("%w: %s", ErrMalformed, why) }
	switch {
	case g.Version == 0:
		return bad("a group state without a version")
	case len(g.Name) > MaxGroupNameBytes || !utf8.ValidString(g.Name):
		return bad("the group name is too long or not UTF-8")
	case len(g.Members) == 0 || !sortedIDs(g.Members, MaxGroupMembers):
		return bad("the members are not 1 to 1000 sorted, unique IDs")
	case len(g.Admins) == 0 || !sortedIDs(g.Admins, len(g.Members)):
		return bad("the admins are not sorted, unique IDs")
	case len(g.AccessKeys) > len(g.Members):
		return bad("more access keys than members")
	case len(g.Distribution) > MaxDistributionBytes:
		return bad("the sender key is too long")
	case len(g.Proof) > MaxGroupProofBytes || len(g.Ancestry) > MaxGroupAncestryBytes:
		return bad("the group's signed versions are too long")
	}
	for _, a := range g.Admins {
		if _, ok := slices.BinarySearch(g.Members, a); !ok {
			return bad("an admin who is not a member")
		}
	}
	for i, k := range g.AccessKeys {
		if _, ok := slices.BinarySearch(g.Members, k.ID); !ok || len(k.Key) != AccessKeySize || (i > 0 && g.AccessKeys[i-1].ID >= k.ID) {
			return bad("an access key of a non-member, of the wrong size, or out of order")
		}
	}
	return nil
}

func (n *GroupNotice) check() error {
	if len(n.Name) > MaxGroupNameBytes || !utf8.ValidString(n.Name) {
		return fmt.Errorf("%w: the group name is too long or not UTF-8", ErrMalformed)
	}
	for _, ids := range [][]string{n.Added, n.Removed, n.Left, n.AdminsAdded, n.AdminsRemoved, n.JoinRequests} {
		if !sortedIDs(ids, MaxGroupMembers) {
			return fmt.Errorf("%w: a notice's member list is not sorted, unique IDs", ErrMalformed)
		}
	}
	return nil
}

// appendGroupBody encodes the body of a group kind.
func appendGroupBody(b []byte, c *Content) []byte {
	b = appendBytes(b, gID, c.GroupID[:])
	switch c.Kind {
	case KindGroupText:
		b = appendString(b, gText, c.Text)
		if c.Timer != 0 {
			b = appendVarint(b, gTimer, uint64(c.Timer/time.Second))
		}
		b = appendAttachments(b, gAttachment, c.Attachments)
		b = appendQuote(b, gQuote, c.Quote)
		if len(c.GroupHead) > 0 {
			b = appendBytes(b, gHead, c.GroupHead)
		}
	case KindGroupSync:
		b = appendBytes(b, gSyncHead, c.GroupHead)
	case KindGroupJoin:
		b = appendBytes(b, gJoinSecret, c.JoinSecret)
	case KindGroupUpdate:
		g := c.Group
		b = appendVarint(b, gVersion, g.Version)
		if g.Name != "" {
			b = appendString(b, gName, g.Name)
		}
		for _, m := range g.Members {
			b = appendString(b, gMember, m)
		}
		for _, a := range g.Admins {
			b = appendString(b, gAdmin, a)
		}
		if c.Timer != 0 {
			b = appendVarint(b, gUpdateTimer, uint64(c.Timer/time.Second))
		}
		for _, k := range g.AccessKeys {
			b = appendBytes(b, gAccessKey, appendBytes(appendString(nil, 1, k.ID), 2, k.Key))
		}
		if len(g.Distribution) > 0 {
			b = appendBytes(b, gDistribution, g.Distribution)
		}
		if g.NextSeq != 0 {
			b = appendVarint(b, gNextSeq, g.NextSeq)
		}
		if len(g.Proof) > 0 {
			b = appendBytes(b, gProof, g.Proof)
		}
		if g.Link != ([32]byte{}) {
			b = appendBytes(b, gLink, g.Link[:])
		}
		if len(g.Ancestry) > 0 {
			b = appendBytes(b, gAncestry, g.Ancestry)
		}
	case KindSenderKey:
		b = appendBytes(b, 2, c.Distribution)
		if c.NextSeq != 0 {
			b = appendVarint(b, 3, c.NextSeq)
		}
	case KindGroupNotice:
		n := c.Notice
		if n.Version != 0 {
			b = appendVarint(b, gVersion, n.Version)
		}
		if n.Name != "" {
			b = appendString(b, gName, n.Name)
		}
		if n.Joined {
			b = appendVarint(b, gJoined, 1)
		}
		for _, l := range []struct {
			num protowire.Number
			ids []string
		}{{gAdded, n.Added}, {gRemoved, n.Removed}, {gLeft, n.Left}, {gAdminsAdded, n.AdminsAdded}, {gAdminsRemoved, n.AdminsRemoved}} {
			for _, id := range l.ids {
				b = appendString(b, l.num, id)
			}
		}
		if n.Renamed {
			b = appendVarint(b, gRenamed, 1)
		}
		if c.Timer != 0 {
			b = appendVarint(b, gNoticeTimer, uint64(c.Timer/time.Second))
		}
		if n.TimerChanged {
			b = appendVarint(b, gTimerChanged, 1)
		}
		if n.LinkChanged {
			b = appendVarint(b, gLinkChanged, 1)
		}
		if n.Link {
			b = appendVarint(b, gLinkOn, 1)
		}
		for _, id := range n.JoinRequests {
			b = appendString(b, gJoinRequests, id)
		}
	}
	return b
}

// decodeGroupBody parses the body of a group kind into c. Repeated fields
// are counted against their limits as they are read, so a hostile body
// cannot make it allocate more than its own size.
func decodeGroupBody(c *Content, b []byte) error {
	var seen uint64
	switch c.Kind {
	case KindGroupUpdate:
		c.Group = &Group{}
	case KindGroupNotice:
		c.Notice = &GroupNotice{}
	}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return malformed("bad tag in group body")
		}
		b = b[n:]
		if !groupRepeated(c.Kind, num) && num < 64 {
			if seen&(1<<num) != 0 {
				return malformed(fmt.Sprintf("group body field %d repeated", num))
			}
			seen |= 1 << num
		}
		var err error
		switch {
		case num == gID:
			var v []byte
			if v, err = consumeBytes(&b, typ); err == nil {
				if len(v) != GroupIDSize {
					return malformed("group ID size")
				}
				copy(c.GroupID[:], v)
			}
		case c.Kind == KindGroupText && num == gQuote:
			err = consumeQuote(c, typ, &b)
		case c.Kind == KindGroupText:
			err = decodeGroupText(c, num, typ, &b)
		case c.Kind == KindGroupUpdate:
			err = decodeGroupUpdate(c, num, typ, &b)
		case c.Kind == KindSenderKey && num == 2:
			var v []byte
			if v, err = consumeBytes(&b, typ); err == nil {
				c.Distribution = append([]byte(nil), v...)
			}
		case c.Kind == KindSenderKey && num == 3:
			c.NextSeq, err = consumeVarint(&b, typ)
		case c.Kind == KindGroupNotice:
			err = decodeGroupNotice(c, num, typ, &b)
		case c.Kind == KindGroupSync && num == gSyncHead:
			var v []byte
			if v, err = consumeBytes(&b, typ); err == nil {
				c.GroupHead = append([]byte(nil), v...)
			}
		case c.Kind == KindGroupJoin && num == gJoinSecret:
			var v []byte
			if v, err = consumeBytes(&b, typ); err == nil {
				c.JoinSecret = append([]byte(nil), v...)
			}
		default:
			err = skipField(num, typ, &b)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// groupRepeated reports whether field num of a group body may repeat.
func groupRepeated(k Kind, num protowire.Number) bool {
	switch k {
	case KindGroupText:
		return num == gAttachment
	case KindGroupUpdate:
		return num == gMember || num == gAdmin || num == gAccessKey
	case KindGroupNotice:
		return num >= gAdded && num <= gAdminsRemoved || num == gJoinRequests
	}
	return false
}

func skipField(num protowire.Number, typ protowire.Type, b *[]byte) error {
	n := protowire.ConsumeFieldValue(num, typ, *b)
	if n < 0 {
		return malformed("bad group body field")
	}
	*b = (*b)[n:]
	return nil
}

func consumeTimer(typ protowire.Type, b *[]byte) (time.Duration, error) {
	v, err := consumeVarint(b, typ)
	if err != nil {
		return 0, err
	}
	if v > uint64(MaxTimer/time.Second) {
		return 0, malformed("timer out of range")
	}
	return time.Duration(v) * time.Second, nil
}

func consumeFlag(typ protowire.Type, b *[]byte) (bool, error) {
	v, err := consumeVarint(b, typ)
	if err != nil {
		return false, err
	}
	if v > 1 {
		return false, malformed("a flag is 0 or 1")
	}
	return v == 1, nil
}

// appendID reads a member ID into *ids, at most max of them.
func appendID(ids *[]string, max int, typ protowire.Type, b *[]byte) error {
	v, err := consumeBytes(b, typ)
	if err != nil {
		return err
	}
	if len(*ids) >= max {
		return malformed("too many members")
	}
	*ids = append(*ids, string(v))
	return nil
}

func decodeGroupText(c *Content, num protowire.Number, typ protowire.Type, b *[]byte) error {
	switch num {
	case gText:
		v, err := consumeBytes(b, typ)
		c.Text = string(v)
		return err
	case gTimer:
		var err error
		c.Timer, err = consumeTimer(typ, b)
		return err
	case gAttachment:
		return consumeAttachment(c, typ, b)
	case gHead:
		v, err := consumeBytes(b, typ)
		c.GroupHead = append([]byte(nil), v...)
		return err
	}
	return skipField(num, typ, b)
}

func decodeGroupUpdate(c *Content, num protowire.Number, typ protowire.Type, b *[]byte) error {
	g := c.Group
	var err error
	switch num {
	case gVersion:
		g.Version, err = consumeVarint(b, typ)
	case gName:
		var v []byte
		v, err = consumeBytes(b, typ)
		g.Name = string(v)
	case gMember:
		err = appendID(&g.Members, MaxGroupMembers, typ, b)
	case gAdmin:
		err = appendID(&g.Admins, MaxGroupMembers, typ, b)
	case gUpdateTimer:
		c.Timer, err = consumeTimer(typ, b)
	case gAccessKey:
		var v []byte
		if v, err = consumeBytes(b, typ); err != nil {
			return err
		}
		if len(g.AccessKeys) >= MaxGroupMembers {
			return malformed("too many access keys")
		}
		k, kerr := decodeMemberKey(v)
		if kerr != nil {
			return kerr
		}
		g.AccessKeys = append(g.AccessKeys, k)
	case gDistribution:
		var v []byte
		v, err = consumeBytes(b, typ)
		g.Distribution = append([]byte(nil), v...)
	case gNextSeq:
		g.NextSeq, err = consumeVarint(b, typ)
	case gProof:
		var v []byte
		v, err = consumeBytes(b, typ)
		g.Proof = append([]byte(nil), v...)
	case gAncestry:
		var v []byte
		v, err = consumeBytes(b, typ)
		g.Ancestry = append([]byte(nil), v...)
	case gLink:
		var v []byte
		if v, err = consumeBytes(b, typ); err == nil && len(v) != len(g.Link) {
			return malformed("invite link digest size")
		}
		copy(g.Link[:], v)
	default:
		err = skipField(num, typ, b)
	}
	return err
}

func decodeMemberKey(b []byte) (MemberKey, error) {
	var k MemberKey
	var seen [3]bool
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return k, malformed("bad tag in an access key")
		}
		b = b[n:]
		if num == 1 || num == 2 {
			if seen[num] {
				return k, malformed("access key field repeated")
			}
			seen[num] = true
			v, err := consumeBytes(&b, typ)
			if err != nil {
				return k, err
			}
			if num == 1 {
				k.ID = string(v)
			} else {
				k.Key = append([]byte(nil), v...)
			}
			continue
		}
		if err := skipField(num, typ, &b); err != nil {
			return k, err
		}
	}
	return k, nil
}

func decodeGroupNotice(c *Content, num protowire.Number, typ protowire.Type, b *[]byte) error {
	n := c.Notice
	var err error
	switch num {
	case gVersion:
		n.Version, err = consumeVarint(b, typ)
	case gName:
		var v []byte
		v, err = consumeBytes(b, typ)
		n.Name = string(v)
	case gJoined:
		n.Joined, err = consumeFlag(typ, b)
	case gAdded:
		err = appendID(&n.Added, MaxGroupMembers, typ, b)
	case gRemoved:
		err = appendID(&n.Removed, MaxGroupMembers, typ, b)
	case gLeft:
		err = appendID(&n.Left, MaxGroupMembers, typ, b)
	case gAdminsAdded:
		err = appendID(&n.AdminsAdded, MaxGroupMembers, typ, b)
	case gAdminsRemoved:
		err = appendID(&n.AdminsRemoved, MaxGroupMembers, typ, b)
	case gRenamed:
		n.Renamed, err = consumeFlag(typ, b)
	case gNoticeTimer:
		c.Timer, err = consumeTimer(typ, b)
	case gTimerChanged:
		n.TimerChanged, err = consumeFlag(typ, b)
	case gLinkChanged:
		n.LinkChanged, err = consumeFlag(typ, b)
	case gLinkOn:
		n.Link, err = consumeFlag(typ, b)
	case gJoinRequests:
		err = appendID(&n.JoinRequests, MaxGroupMembers, typ, b)
	default:
		err = skipField(num, typ, b)
	}
	return err
}
