package web

import (
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"net/http"

	"github.com/skymsg/sky/client"
	"github.com/skymsg/sky/client/profile"
)

// Replies, reactions, edits and deletion for everyone (package
// client/actions), profiles (client/profile) and typing indicators
// (client/typing) in the page. "id" is the conversation (a contact's ID or
// a group's), "msg" the message's stable ID.
var socialRoutes = map[string]route{
	"/api/reply":            {http.MethodPost, true, apiReply},
	"/api/react":            {http.MethodPost, true, apiReact},
	"/api/edit":             {http.MethodPost, true, apiEdit},
	"/api/unsend":           {http.MethodPost, true, apiUnsend},
	"/api/typing":           {http.MethodPost, true, apiTyping},
	"/api/profile":          {http.MethodGet, true, apiProfile},
	"/api/profile/save":     {http.MethodPost, true, apiProfileSave},
	"/api/profile/avatar":   {http.MethodPost, true, nil}, // a picture as the body: profileAvatar
	"/api/settings/typing":  {http.MethodPost, true, apiTypingSetting},
	"/api/broadcast/edit":   {http.MethodPost, true, apiBroadcastEdit},
	"/api/broadcast/unsend": {http.MethodPost, true, apiBroadcastUnsend},
}

// apiBroadcastEdit edits every copy of a broadcast ("msg": any copy's ID).
func apiBroadcastEdit(s *Server, c *client.Client, _ *http.Request, in *body) (any, error) {
	if in.Text == "" {
		return nil, badRequest("An edit needs a text; to take a broadcast back, delete it for everyone.")
	}
	return nil, c.EditBroadcast(in.Name, in.Msg, in.Text)
}

// apiBroadcastUnsend deletes every copy of a broadcast for everyone.
func apiBroadcastUnsend(s *Server, c *client.Client, _ *http.Request, in *body) (any, error) {
	return nil, c.UnsendBroadcast(in.Name, in.Msg)
}

type jsonQuote struct {
	ID      string `json:"id"`
	From    string `json:"from"`
	Excerpt string `json:"excerpt,omitempty"`
	Missing bool   `json:"missing,omitempty"`
}

type jsonReaction struct {
	By    string `json:"by"`
	Emoji string `json:"emoji"`
}

// socialJSON adds what actions made of m to its JSON.
func socialJSON(j *jsonMessage, m client.Message) {
	if q := m.Quote; q != nil {
		j.Quote = &jsonQuote{ID: q.ID, From: q.From, Excerpt: q.Excerpt, Missing: q.Missing}
	}
	for _, r := range m.Reactions {
		j.Reactions = append(j.Reactions, jsonReaction{By: r.By, Emoji: r.Emoji})
	}
	j.Edited = millis(m.EditedAt)
}

func apiReply(s *Server, c *client.Client, _ *http.Request, in *body) (any, error) {
	if in.Text == "" {
		return nil, badRequest("Type a reply first.")
	}
	m, err := c.Reply(in.ID, in.Msg, in.Text)
	if err != nil {
		return nil, err
	}
	return toJSON(m), nil
}

func apiReact(s *Server, c *client.Client, _ *http.Request, in *body) (any, error) {
	return nil, c.React(in.ID, in.Msg, in.Emoji)
}

func apiEdit(s *Server, c *client.Client, _ *http.Request, in *body) (any, error) {
	if in.Text == "" {
		return nil, badRequest("An edit needs a text; to take a message back, delete it for everyone.")
	}
	return nil, c.Edit(in.ID, in.Msg, in.Text)
}

func apiUnsend(s *Server, c *client.Client, _ *http.Request, in *body) (any, error) {
	return nil, c.DeleteForEveryone(in.ID, in.Msg)
}

func apiTyping(s *Server, c *client.Client, _ *http.Request, in *body) (any, error) {
	return nil, c.Typing(in.ID, in.On)
}

func apiTypingSetting(s *Server, c *client.Client, _ *http.Request, in *body) (any, error) {
	return nil, c.SetTypingIndicators(in.On)
}

// apiProfile answers the user's profile (no ?id=) or the one a peer
// shared, its picture as a data: URL (an image, never a document).
func apiProfile(s *Server, c *client.Client, r *http.Request, _ *body) (any, error) {
	id := r.URL.Query().Get("id")
	p, err := c.OwnProfile()
	if id != "" {
		p, err = c.ProfileOf(id)
	}
	out := map[string]any{"name": "", "version": 0}
	if on, err := c.TypingIndicators(); err == nil && id == "" {
		out["typing"] = on
	}
	if errors.Is(err, client.ErrNoProfile) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	out["name"], out["version"] = p.Name, p.Version
	if len(p.Avatar) > 0 {
		out["avatar"] = avatarURL(p)
	}
	return out, nil
}

// avatarURL is a profile's picture as a data: URL of its checked type
// (JPEG, PNG or WebP: content.Profile.Check matched it to the bytes).
func avatarURL(p client.Profile) string {
	return "data:" + p.AvatarType + ";base64," + base64.StdEncoding.EncodeToString(p.Avatar)
}

// apiProfileSave sets the display name, keeping the picture (clear: none).
func apiProfileSave(s *Server, c *client.Client, _ *http.Request, in *body) (any, error) {
	var avatar []byte
	if p, err := c.OwnProfile(); err == nil && !in.Clear {
		avatar = p.Avatar
	}
	p, err := c.SetProfile(in.Name, avatar)
	if err != nil {
		return nil, err
	}
	return map[string]any{"version": p.Version}, nil
}

// profileAvatar sets the picture from the request's body (the name stays).
func (s *Server) profileAvatar(w http.ResponseWriter, r *http.Request, c *client.Client) {
	s.touch()
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/octet-stream" {
		writeJSON(w, http.StatusUnsupportedMediaType, map[string]any{"error": "send the picture as application/octet-stream"})
		return
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, profile.MaxPictureBytes+1))
	if err == nil && len(data) > profile.MaxPictureBytes {
		err = badRequest("The picture is larger than %d MiB; pick a smaller one.", profile.MaxPictureBytes>>20)
	}
	var avatar []byte
	if err == nil {
		avatar, err = profile.AvatarOf(data)
	}
	name := ""
	if p, perr := c.OwnProfile(); perr == nil {
		name = p.Name
	}
	if err == nil {
		_, err = c.SetProfile(name, avatar)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, true)
}

// displayNames maps IDs to what the page shows for them: the nickname,
// else "~" and the profile name (marked when it clashes).
func displayNames(c *client.Client) map[string]client.Name {
	n, _ := c.Names()
	return n
}

// typingJSON is a typing indicator as the page gets it.
func typingJSON(e *client.TypingEvent) map[string]any {
	conv := e.Group
	if conv == "" {
		conv = e.Peer
	}
	return map[string]any{"conv": conv, "peer": e.Peer, "typing": e.Typing, "until": millis(e.Until)}
}
