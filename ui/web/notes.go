package web

import (
	"net/http"
	"time"

	"github.com/skymsg/sky/client"
	"github.com/skymsg/sky/client/notes"
)

// The notes vault's calls (package client/notes).
var notesRoutes = map[string]route{
	"/api/notes":        {http.MethodGet, true, apiNotes},
	"/api/notes/save":   {http.MethodPost, true, apiNoteSave},
	"/api/notes/delete": {http.MethodPost, true, apiNoteDelete},
}

func noteJSON(n notes.Note) map[string]any {
	return map[string]any{"id": n.ID, "title": n.Title, "text": n.Text, "created": millis(n.Created), "updated": millis(n.Updated),
		"timer": int64(n.Timer / time.Second), "expires": millis(n.ExpiresAt)}
}

func apiNotes(s *Server, c *client.Client, _ *http.Request, _ *body) (any, error) {
	ns, err := c.Notes().List()
	out := []map[string]any{}
	for _, n := range ns {
		out = append(out, noteJSON(n))
	}
	return out, err
}

// apiNoteSave adds a note (no ID) or replaces one.
func apiNoteSave(s *Server, c *client.Client, _ *http.Request, in *body) (any, error) {
	d, err := timerOf(in.Seconds)
	if err != nil {
		return nil, err
	}
	var n notes.Note
	if in.ID == "" {
		n, err = c.Notes().Add(in.Title, in.Text, d)
	} else {
		n, err = c.Notes().Edit(in.ID, in.Title, in.Text, d)
	}
	if err != nil {
		return nil, err
	}
	return noteJSON(n), nil
}

func apiNoteDelete(s *Server, c *client.Client, _ *http.Request, in *body) (any, error) {
	return nil, c.Notes().Delete(in.ID)
}
