package web

import (
	"cmp"
	"context"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/skymsg/sky/client"
)

// jsonMessage is a message as the page gets it. Every string in it may be
// chosen by a peer; the page renders them as text.
type jsonMessage struct {
	LocalID   int64            `json:"lid"`
	ID        string           `json:"id"`
	Conv      string           `json:"conv"`
	From      string           `json:"from"`
	Out       bool             `json:"out"`
	Kind      string           `json:"kind"`
	Text      string           `json:"text"`
	Timer     int64            `json:"timer"` // seconds
	SentAt    int64            `json:"sent"`  // Unix milliseconds
	ExpiresAt int64            `json:"expires,omitempty"`
	State     string           `json:"state"`
	Request   bool             `json:"request,omitempty"`
	Group     string           `json:"group,omitempty"`
	Change    *jsonChange      `json:"change,omitempty"`
	GroupName string           `json:"groupName,omitempty"`
	Files     []jsonAttachment `json:"files,omitempty"`
	Quote     *jsonQuote       `json:"quote,omitempty"`
	Reactions []jsonReaction   `json:"reactions,omitempty"`
	Edited    int64            `json:"edited,omitempty"` // Unix milliseconds
}

type jsonChange struct {
	By            string   `json:"by"`
	Name          string   `json:"name"`
	Joined        bool     `json:"joined,omitempty"`
	Added         []string `json:"added,omitempty"`
	Removed       []string `json:"removed,omitempty"`
	Left          []string `json:"left,omitempty"`
	AdminsAdded   []string `json:"adminsAdded,omitempty"`
	AdminsRemoved []string `json:"adminsRemoved,omitempty"`
	Renamed       bool     `json:"renamed,omitempty"`
	TimerChanged  bool     `json:"timerChanged,omitempty"`
	Timer         int64    `json:"timer,omitempty"`
	LinkChanged   bool     `json:"linkChanged,omitempty"`
	InviteLink    bool     `json:"inviteLink,omitempty"`
	JoinRequests  []string `json:"joinRequests,omitempty"`
}

func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func toJSON(m client.Message) jsonMessage {
	j := jsonMessage{LocalID: m.LocalID, ID: m.ID, Conv: m.Conversation, From: m.From, Out: m.Outgoing, Kind: string(m.Kind),
		Text: m.Text, Timer: int64(m.Timer / time.Second), SentAt: millis(m.SentAt), ExpiresAt: millis(m.ExpiresAt),
		State: m.State.String(), Request: m.Request, Group: m.Group, GroupName: m.GroupName, Files: attachmentsJSON(m.Attachments)}
	socialJSON(&j, m)
	if ch := m.Change; ch != nil {
		j.Change = &jsonChange{By: ch.By, Name: ch.Name, Joined: ch.Joined, Added: ch.Added, Removed: ch.Removed, Left: ch.Left,
			AdminsAdded: ch.AdminsAdded, AdminsRemoved: ch.AdminsRemoved, Renamed: ch.Renamed, TimerChanged: ch.TimerChanged,
			Timer: int64(ch.Timer / time.Second), LinkChanged: ch.LinkChanged, InviteLink: ch.InviteLink, JoinRequests: ch.JoinRequests}
	}
	return j
}

// conversation is one entry of the page's conversation list.
type conversation struct {
	ID       string       `json:"id"`
	Group    bool         `json:"group,omitempty"`
	Name     string       `json:"name"`              // the user's nickname
	Profile  string       `json:"profile,omitempty"` // the name the contact's profile claims
	Clash    bool         `json:"clash,omitempty"`   // it equals another's name
	Verified bool         `json:"verified,omitempty"`
	Member   bool         `json:"member,omitempty"`
	Unread   int          `json:"unread"`
	Timer    int64        `json:"timer"`
	Last     *jsonMessage `json:"last,omitempty"`
	At       int64        `json:"at"` // the last message's time, else when it began
}

type jsonRequest struct {
	ID       string        `json:"id"`
	FirstAt  int64         `json:"firstAt"`
	Messages int           `json:"messages"`
	Preview  []jsonMessage `json:"preview"`
}

// apiConversations lists the chats (newest first) and the message requests
// apart, with unread counts.
func apiConversations(s *Server, c *client.Client, _ *http.Request, _ *body) (any, error) {
	unread, err := c.Unread()
	if err != nil {
		return nil, err
	}
	counts := map[string]int{}
	for _, m := range unread {
		counts[m.Conversation]++
	}
	var out []conversation
	contacts, err := c.Contacts()
	if err != nil {
		return nil, err
	}
	dn := displayNames(c)
	for _, ct := range contacts {
		cv := conversation{ID: ct.ID, Name: ct.Name, Profile: dn[ct.ID].Profile, Clash: dn[ct.ID].Clash, Verified: ct.Verified,
			Unread: counts[ct.ID], At: millis(ct.AddedAt)}
		if d, err := c.Timer(ct.ID); err == nil {
			cv.Timer = int64(d / time.Second)
		}
		if err := lastOf(c, &cv); err != nil {
			return nil, err
		}
		out = append(out, cv)
	}
	groups, err := c.Groups()
	if err != nil {
		return nil, err
	}
	for _, g := range groups {
		cv := conversation{ID: g.ID, Group: true, Name: g.Name, Member: g.Member, Unread: counts[g.ID], Timer: int64(g.Timer / time.Second)}
		if err := lastOf(c, &cv); err != nil {
			return nil, err
		}
		out = append(out, cv)
	}
	slices.SortStableFunc(out, func(a, b conversation) int { return cmp.Compare(b.At, a.At) })
	reqs, err := c.Requests()
	if err != nil {
		return nil, err
	}
	jr := []jsonRequest{}
	for _, r := range reqs {
		ms, err := c.History(r.ID, 3)
		if err != nil {
			return nil, err
		}
		q := jsonRequest{ID: r.ID, FirstAt: millis(r.FirstAt), Messages: r.Messages, Preview: []jsonMessage{}}
		for _, m := range ms {
			q.Preview = append(q.Preview, toJSON(m))
		}
		jr = append(jr, q)
	}
	if out == nil {
		out = []conversation{}
	}
	typing, _ := c.TypingIndicators()
	return map[string]any{"chats": out, "requests": jr, "me": c.ID(), "typing": typing}, nil
}

func lastOf(c *client.Client, cv *conversation) error {
	ms, err := c.History(cv.ID, 1)
	if err != nil || len(ms) == 0 {
		return err
	}
	j := toJSON(ms[0])
	cv.Last, cv.At = &j, max(cv.At, j.SentAt)
	return nil
}

// adminLink is the group's invite link for an admin whose device made it.
func adminLink(c *client.Client, g client.Group) string {
	if !g.Admin || !g.InviteLink {
		return ""
	}
	return currentLink(c, g.ID)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// apiChat describes a conversation for its header and info panel.
func apiChat(s *Server, c *client.Client, r *http.Request, _ *body) (any, error) {
	id := r.URL.Query().Get("id")
	if g, err := c.Group(id); err == nil && len(id) == 32 {
		return map[string]any{"id": g.ID, "group": true, "name": g.Name, "members": g.Members, "admins": g.Admins,
			"departed": g.Departed, "timer": int64(g.Timer / time.Second), "member": g.Member, "admin": g.Admin, "names": names(c),
			"inviteLink": g.InviteLink, "link": adminLink(c, g), "joinRequests": nonNil(g.JoinRequests)}, nil
	}
	if !client.ValidID(id) {
		return nil, badRequest("%q is not a Sky ID or a group.", id)
	}
	out := map[string]any{"id": id, "group": false}
	if cs, err := c.Contacts(); err == nil {
		for _, ct := range cs {
			if ct.ID == id {
				out["name"], out["contact"], out["verified"] = ct.Name, true, ct.Verified
			}
		}
	}
	if n, ok := displayNames(c)[id]; ok && n.Profile != "" {
		out["profile"], out["clash"] = n.Profile, n.Clash
	}
	if p, err := c.ProfileOf(id); err == nil && len(p.Avatar) > 0 {
		out["avatar"] = avatarURL(p) // an image in <img>: inert whatever the bytes
	}
	if d, err := c.Timer(id); err == nil {
		out["timer"] = int64(d / time.Second)
	}
	if sn, err := c.SafetyNumber(id); err == nil {
		out["changed"] = sn.Changed
	}
	if reqs, err := c.Requests(); err == nil {
		for _, q := range reqs {
			if q.ID == id {
				out["request"] = true
			}
		}
	}
	return out, nil
}

// names maps IDs to what the page calls them (for group members): the
// nickname, else "~" and the name their profile claims.
func names(c *client.Client) map[string]string {
	out := map[string]string{}
	for id, n := range displayNames(c) {
		if n.Nickname != "" || n.Profile != "" {
			out[id] = n.Display()
		}
	}
	return out
}

// pageSize is how many messages the page loads at a time.
const pageSize = 100

// apiHistory returns a page of a conversation, oldest first: the last
// "limit" messages before the local ID "before" (all the latest without it).
func apiHistory(s *Server, c *client.Client, r *http.Request, _ *body) (any, error) {
	q := r.URL.Query()
	limit, _ := strconv.Atoi(q.Get("limit"))
	if limit <= 0 || limit > 1000 {
		limit = pageSize
	}
	before, _ := strconv.ParseInt(q.Get("before"), 10, 64)
	ms, err := s.history(c, q.Get("id"), before, limit)
	if err != nil {
		return nil, err
	}
	out := make([]jsonMessage, 0, len(ms))
	for _, m := range ms {
		out = append(out, toJSON(m))
	}
	return map[string]any{"messages": out, "more": len(ms) == limit}, nil
}

// history returns up to limit messages before the local ID before (0: the
// latest). The SDK reads the latest N; older pages read more and cut.
func (s *Server) history(c *client.Client, id string, before int64, limit int) ([]client.Message, error) {
	if before <= 0 {
		return c.History(id, limit)
	}
	for n := limit * 2; ; n *= 2 {
		ms, err := c.History(id, n)
		if err != nil {
			return nil, err
		}
		// Sender order is not local-ID order: find the page's first
		// message itself. If it expired since, there is nothing older to
		// show in order.
		i := slices.IndexFunc(ms, func(m client.Message) bool { return m.LocalID == before })
		if i < 0 {
			if len(ms) < n {
				return nil, nil
			}
			continue
		}
		if i >= limit || len(ms) < n {
			return ms[max(0, i-limit):i], nil
		}
	}
}

func apiSend(s *Server, c *client.Client, _ *http.Request, in *body) (any, error) {
	if in.Text == "" {
		return nil, badRequest("Type a message first.")
	}
	var m client.Message
	var err error
	if len(in.ID) == 32 {
		m, err = c.SendGroup(in.ID, in.Text)
	} else {
		m, err = c.Send(in.ID, in.Text)
	}
	if err != nil {
		return nil, err
	}
	return toJSON(m), nil
}

// apiRead marks the unread messages of a conversation read (the page shows
// them).
func apiRead(s *Server, c *client.Client, _ *http.Request, in *body) (any, error) {
	ms, err := c.Unread()
	if err != nil {
		return nil, err
	}
	var ids []int64
	for _, m := range ms {
		if m.Conversation == in.ID {
			ids = append(ids, m.LocalID)
		}
	}
	// The countdowns of disappearing messages start now: the page shows
	// them.
	expires := map[string]int64{}
	if len(ids) > 0 {
		read, err := c.MarkRead(ids...)
		if err != nil {
			return nil, err
		}
		for _, m := range read {
			if !m.ExpiresAt.IsZero() {
				expires[strconv.FormatInt(m.LocalID, 10)] = millis(m.ExpiresAt)
			}
		}
	}
	return map[string]any{"expires": expires}, nil
}

func apiContactAdd(s *Server, c *client.Client, _ *http.Request, in *body) (any, error) {
	return nil, c.AddContact(in.ID, in.Name)
}

func apiContactRemove(s *Server, c *client.Client, _ *http.Request, in *body) (any, error) {
	return nil, c.RemoveContact(in.ID)
}

func apiAccept(s *Server, c *client.Client, _ *http.Request, in *body) (any, error) {
	return nil, c.Accept(in.ID)
}

func apiReject(s *Server, c *client.Client, _ *http.Request, in *body) (any, error) {
	return nil, c.Reject(in.ID)
}

func apiSafety(s *Server, c *client.Client, r *http.Request, _ *body) (any, error) {
	sn, err := c.SafetyNumber(r.URL.Query().Get("id"))
	if err != nil {
		return nil, err
	}
	out := map[string]any{"id": sn.Peer, "digits": sn.Digits, "groups": sn.Groups(), "verified": sn.Verified, "changed": sn.Changed}
	// The key directory's word counts only for the key the number is
	// computed from, never for a changed key waiting for the user.
	if kd, err := c.KeyDirectoryStatus(sn.Peer); err == nil && kd.Confirmed && !sn.Changed {
		out["directory"] = map[string]any{"confirmed": true, "auditor": kd.Auditor}
	}
	return out, nil
}

func apiVerify(s *Server, c *client.Client, r *http.Request, in *body) (any, error) {
	ctx, cancel := context.WithTimeout(r.Context(), 15*time.Second)
	defer cancel()
	return nil, c.Verify(ctx, in.ID, in.Number)
}

func apiKeepOld(s *Server, c *client.Client, _ *http.Request, in *body) (any, error) {
	return nil, c.KeepIdentity(in.ID)
}

// timerOf checks a timer the page sends: 0 (off), or 5 s to 4 weeks.
func timerOf(sec int64) (time.Duration, error) {
	if sec != 0 && (sec < 5 || sec > 4*7*24*3600) {
		return 0, badRequest("A disappearing timer is off, or between 5 seconds and 4 weeks.")
	}
	return time.Duration(sec) * time.Second, nil
}

func apiTimer(s *Server, c *client.Client, _ *http.Request, in *body) (any, error) {
	d, err := timerOf(in.Seconds)
	if err != nil {
		return nil, err
	}
	if len(in.ID) == 32 {
		_, err = c.SetGroupTimer(in.ID, d)
		return nil, err
	}
	return nil, c.SetTimer(in.ID, d)
}
