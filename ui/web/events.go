package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"rsc.io/qr"

	"github.com/skymsg/sky/client"
)

// events streams the client's events to the page (server-sent events): the
// page updates live, without polling. The stream ends with a "locked" event
// when the account locks (the client closes, and with it the subscription).
func (s *Server) events(w http.ResponseWriter, r *http.Request, c *client.Client) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	sub := c.Subscribe()
	defer sub.Close()
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	send := func(name string, v any) bool {
		b, err := json.Marshal(v)
		if err != nil {
			return false
		}
		_, err = fmt.Fprintf(w, "event: %s\ndata: %s\n\n", name, b)
		fl.Flush()
		return err == nil
	}
	if !send("hello", map[string]any{"id": c.ID(), "connected": c.Connected()}) {
		return
	}
	keep := time.NewTicker(25 * time.Second)
	defer keep.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-keep.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
			fl.Flush()
		case ev, ok := <-sub.Events():
			if !ok {
				send("locked", map[string]any{})
				return
			}
			if name, v := eventJSON(ev); name != "" && !send(name, v) {
				return
			}
		}
	}
}

// eventJSON is an event as the page gets it: its name and data.
func eventJSON(ev client.Event) (string, any) {
	switch e := ev.(type) {
	case *client.MessageEvent:
		return "message", toJSON(e.Message)
	case *client.AttachmentEvent:
		if e.Err == nil {
			return "", nil
		}
		return "attachment", map[string]any{"conv": e.Conversation, "id": e.Attachment.ID, "name": e.Attachment.Name, "error": e.Err.Error()}
	case *client.ReceiptEvent:
		return "receipt", map[string]any{"conv": e.Conversation, "ids": e.MessageIDs, "state": e.State.String()}
	case *client.SentEvent:
		return "receipt", map[string]any{"conv": e.Conversation, "ids": []string{e.MessageID}, "state": client.Sent.String()}
	case *client.FailedEvent:
		return "failed", map[string]any{"conv": e.Conversation, "id": e.MessageID, "error": e.Err.Error()}
	case *client.TimerEvent:
		return "timer", map[string]any{"conv": e.Conversation, "timer": int64(e.Timer / time.Second), "by": e.By}
	case *client.IdentityChangedEvent:
		return "identity", map[string]any{"conv": e.Peer, "verified": e.Verified}
	case *client.GroupEvent:
		return "group", map[string]any{"conv": e.Group}
	case *client.ConnectionEvent:
		out := map[string]any{"connected": e.Connected}
		if e.Err != nil {
			out["error"] = e.Err.Error()
		}
		return "connection", out
	case *client.LaggedEvent:
		return "lagged", map[string]any{"missed": e.Missed}
	case *client.ActionEvent:
		return "action", map[string]any{"conv": e.Conversation, "id": e.MessageID, "by": e.By, "action": e.Action, "emoji": e.Emoji, "text": e.Text}
	case *client.ProfileEvent:
		return "profile", map[string]any{"peer": e.Peer}
	case *client.TypingEvent:
		return "typing", typingJSON(e)
	case *client.GapEvent:
		return "gap", map[string]any{"conv": e.Peer, "missing": e.Missing, "group": e.Group}
	}
	return "", nil
}

// qr answers a QR code as a PNG: ?me for the user's own Sky ID (to start a
// chat), ?id=PEER for the safety number with PEER, ?link=GROUP for the
// group's invite link (made on this device).
func (s *Server) qr(w http.ResponseWriter, r *http.Request, c *client.Client) {
	var data string
	if g := r.URL.Query().Get("link"); g != "" {
		link, err := c.InviteLink(g)
		if err != nil {
			writeError(w, err)
			return
		}
		data = link
	} else if id := r.URL.Query().Get("id"); id != "" {
		sn, err := c.SafetyNumber(id)
		if err != nil {
			writeError(w, err)
			return
		}
		data = string(sn.Scannable)
	} else {
		data = c.ContactURI()
	}
	code, err := qr.Encode(data, qr.M)
	if err != nil {
		writeError(w, fmt.Errorf("making the QR code failed: %w", err))
		return
	}
	code.Scale = 6
	w.Header().Set("Content-Type", "image/png")
	w.Write(code.PNG())
}
