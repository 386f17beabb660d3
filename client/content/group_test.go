package content

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

var gid = GroupID{0xAA, 1, 2, 3}

func groupSample(kind Kind) *Content {
	c := &Content{Version: Version, Sender: "abcdefghjk", SenderDevice: 1, Recipient: "mnpqrstuvw", ID: ID{1, 2, 3},
		SentAt: t0, Kind: kind, GroupID: gid, Seq: 4}
	switch kind {
	case KindGroupText:
		c.Recipient, c.Text, c.Timer = "", "hello, group", time.Minute
		c.GroupHead = bytes.Repeat([]byte{0x4E}, GroupHeadSize)
	case KindGroupSync:
		c.GroupHead = bytes.Repeat([]byte{0x4F}, GroupHeadSize)
	case KindGroupJoin:
		c.JoinSecret = bytes.Repeat([]byte{0x5E}, JoinSecretSize)
	case KindGroupUpdate:
		c.Timer = time.Hour
		c.AccessKey = bytes.Repeat([]byte{0xAC}, AccessKeySize)
		c.Group = &Group{Version: 3, Name: "Newsroom", Members: []string{"abcdefghjk", "mnpqrstuvw", "xyz2345678"},
			Admins: []string{"abcdefghjk"}, AccessKeys: []MemberKey{{ID: "mnpqrstuvw", Key: bytes.Repeat([]byte{7}, AccessKeySize)}},
			Distribution: []byte{0x33, 1, 2, 3}, NextSeq: 12, Proof: []byte{0x0a, 1, 2}, Link: [32]byte{9, 9}, Ancestry: []byte{0x0a, 3}}
	case KindGroupLeave:
	case KindSenderKey:
		c.Distribution, c.NextSeq = []byte{0x33, 9, 9, 9}, 7
	case KindGroupNotice:
		c.Recipient, c.Seq, c.Timer = "", 0, 5*time.Minute
		c.Notice = &GroupNotice{Version: 3, Name: "Newsroom", Joined: true, Added: []string{"xyz2345678"}, Removed: []string{"a", "b"},
			Left: []string{"c"}, AdminsAdded: []string{"d"}, AdminsRemoved: []string{"e"}, Renamed: true, TimerChanged: true}
	}
	return c
}

var groupKinds = []Kind{KindGroupText, KindGroupUpdate, KindGroupLeave, KindSenderKey, KindGroupNotice, KindGroupSync, KindGroupJoin}

func TestGroupRoundTrip(t *testing.T) {
	for _, k := range groupKinds {
		c := groupSample(k)
		b, err := Encode(c)
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		got.Version = c.Version
		if !reflect.DeepEqual(got, c) {
			t.Errorf("%s: round trip changed the content:\n got %#v\nwant %#v", k, got, c)
		}
		if !IsGroup(k) || k.String() == fmt.Sprintf("kind(%d)", k) {
			t.Errorf("%s: not a named group kind", k)
		}
	}
}

// TestGroupTextHasNoRecipient: a group text is addressed to the group; its
// encoding has no recipient field, and one with a recipient is refused.
func TestGroupTextHasNoRecipient(t *testing.T) {
	b, err := Encode(groupSample(KindGroupText))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte("mnpqrstuvw")) {
		t.Fatal("a group text names a recipient")
	}
	c := groupSample(KindGroupText)
	c.Recipient = "mnpqrstuvw"
	if _, err := Encode(c); !errors.Is(err, ErrMalformed) {
		t.Fatalf("a group text with a recipient: %v", err)
	}
	// The 1:1 kinds still need one; an update may go without, as the one
	// sender-key message all members holding the key get (the 1:1 path
	// refuses it: its recipient must be the receiver).
	for _, k := range []Kind{KindGroupLeave, KindSenderKey} {
		u := groupSample(k)
		u.Recipient = ""
		if _, err := Encode(u); !errors.Is(err, ErrMalformed) {
			t.Fatalf("a %s without a recipient: %v", k, err)
		}
	}
	u := groupSample(KindGroupUpdate)
	u.Recipient = ""
	if _, err := Encode(u); err != nil {
		t.Fatalf("a shared update: %v", err)
	}
}

func TestGroupEncodeRefuses(t *testing.T) {
	many := func(n int) []string {
		var out []string
		for i := range n {
			out = append(out, fmt.Sprintf("m%06d", i))
		}
		return out
	}
	for name, tc := range map[string]struct {
		kind   Kind
		mutate func(*Content)
	}{
		"text without group":      {KindGroupText, func(c *Content) { c.GroupID = GroupID{} }},
		"text without seq":        {KindGroupText, func(c *Content) { c.Seq = 0 }},
		"text too long":           {KindGroupText, func(c *Content) { c.Text = strings.Repeat("a", MaxTextBytes+1) }},
		"text bad timer":          {KindGroupText, func(c *Content) { c.Timer = time.Second }},
		"update without state":    {KindGroupUpdate, func(c *Content) { c.Group = nil }},
		"update version 0":        {KindGroupUpdate, func(c *Content) { c.Group.Version = 0 }},
		"update no members":       {KindGroupUpdate, func(c *Content) { c.Group.Members, c.Group.Admins, c.Group.AccessKeys = nil, nil, nil }},
		"update unsorted":         {KindGroupUpdate, func(c *Content) { c.Group.Members[0], c.Group.Members[1] = c.Group.Members[1], c.Group.Members[0] }},
		"update duplicate":        {KindGroupUpdate, func(c *Content) { c.Group.Members[1] = c.Group.Members[0] }},
		"update no admin":         {KindGroupUpdate, func(c *Content) { c.Group.Admins = nil }},
		"update admin not member": {KindGroupUpdate, func(c *Content) { c.Group.Admins = []string{"zzzzzzzzzz"} }},
		"update too many":         {KindGroupUpdate, func(c *Content) { c.Group.Members = many(MaxGroupMembers + 1); c.Group.Admins = c.Group.Members[:1] }},
		"update long name":        {KindGroupUpdate, func(c *Content) { c.Group.Name = strings.Repeat("n", MaxGroupNameBytes+1) }},
		"update key of stranger":  {KindGroupUpdate, func(c *Content) { c.Group.AccessKeys[0].ID = "zzzzzzzzzz" }},
		"update short key":        {KindGroupUpdate, func(c *Content) { c.Group.AccessKeys[0].Key = c.Group.AccessKeys[0].Key[:31] }},
		"update long sender key":  {KindGroupUpdate, func(c *Content) { c.Group.Distribution = make([]byte, MaxDistributionBytes+1) }},
		"leave without seq":       {KindGroupLeave, func(c *Content) { c.Seq = 0 }},
		"update long proof":       {KindGroupUpdate, func(c *Content) { c.Group.Proof = make([]byte, MaxGroupProofBytes+1) }},
		"update long ancestry":    {KindGroupUpdate, func(c *Content) { c.Group.Ancestry = make([]byte, MaxGroupAncestryBytes+1) }},
		"text short head":         {KindGroupText, func(c *Content) { c.GroupHead = c.GroupHead[:39] }},
		"sync without head":       {KindGroupSync, func(c *Content) { c.GroupHead = nil }},
		"join short secret":       {KindGroupJoin, func(c *Content) { c.JoinSecret = c.JoinSecret[:15] }},
		"sender key empty":        {KindSenderKey, func(c *Content) { c.Distribution = nil }},
		"notice without changes":  {KindGroupNotice, func(c *Content) { c.Notice = nil }},
		"notice unsorted":         {KindGroupNotice, func(c *Content) { c.Notice.Removed = []string{"b", "a"} }},
	} {
		c := groupSample(tc.kind)
		tc.mutate(c)
		if _, err := Encode(c); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// The largest group encodes and fits the largest padding bucket, with
	// an access key for every member.
	c := groupSample(KindGroupUpdate)
	c.Group.Members = many(MaxGroupMembers)
	c.Group.Admins = c.Group.Members[:3]
	c.Group.AccessKeys = nil
	c.Group.Proof = make([]byte, MaxGroupProofBytes) // as long as signed versions may be
	c.Group.Ancestry = make([]byte, MaxGroupAncestryBytes)
	for _, m := range c.Group.Members {
		c.Group.AccessKeys = append(c.Group.AccessKeys, MemberKey{ID: m, Key: make([]byte, AccessKeySize)})
	}
	b, err := Encode(c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := PadForSealing(b); err != nil {
		t.Fatalf("a full group's update (%d bytes) does not fit: %v", len(b), err)
	}
	t.Logf("a 1000-member update with every access key: %d bytes", len(b))
}

// TestGroupDecodeRefuses: bodies that are not well formed are refused with
// ErrMalformed, never guessed at.
func TestGroupDecodeRefuses(t *testing.T) {
	head := func(k Kind, body []byte) []byte {
		c := groupSample(k)
		b := appendVarint(nil, fVersion, Version)
		b = appendString(b, fSender, c.Sender)
		b = appendVarint(b, fSenderDevice, 1)
		if !groupWide(k) {
			b = appendString(b, fRecipient, c.Recipient)
		}
		b = appendBytes(b, fID, c.ID[:])
		b = appendVarint(b, fSentAt, uint64(t0.UnixMilli()))
		b = appendVarint(b, fSeq, 4)
		b = protowire.AppendTag(b, protowire.Number(k), protowire.BytesType)
		return protowire.AppendBytes(b, body)
	}
	id := appendBytes(nil, gID, gid[:])
	var tooMany []byte
	for i := 0; i <= MaxGroupMembers; i++ {
		tooMany = appendString(tooMany, gMember, fmt.Sprintf("m%06d", i))
	}
	for name, b := range map[string][]byte{
		"short group ID":     head(KindGroupText, appendBytes(nil, gID, gid[:15])),
		"group ID twice":     head(KindGroupText, append(append([]byte(nil), id...), id...)),
		"text as a number":   head(KindGroupText, appendVarint(id, gText, 1)),
		"timer out of range": head(KindGroupText, appendVarint(id, gTimer, 1<<40)),
		"too many members":   head(KindGroupUpdate, append(appendVarint(id, gVersion, 1), tooMany...)),
		"access key twice":   head(KindGroupUpdate, appendBytes(appendVarint(id, gVersion, 1), gAccessKey, appendString(appendString(nil, 1, "a"), 1, "b"))),
		"flag of 2":          head(KindGroupNotice, appendVarint(id, gJoined, 2)),
		"truncated":          head(KindGroupUpdate, append(appendVarint(id, gVersion, 1), byte(gMember<<3|2), 10)),
	} {
		if _, err := Decode(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestParseGroupID(t *testing.T) {
	got, err := ParseGroupID(gid.String())
	if err != nil || got != gid {
		t.Fatalf("ParseGroupID(%s) = %x, %v", gid, got, err)
	}
	for _, bad := range []string{"", "zz", strings.Repeat("g", 32), strings.Repeat("a", 31)} {
		if _, err := ParseGroupID(bad); err == nil {
			t.Errorf("ParseGroupID(%q) accepted", bad)
		}
	}
}
