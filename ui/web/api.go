package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/skymsg/sky/client"
	"github.com/skymsg/sky/client/store"
)

// The page's API: GET for reads, POST with a JSON object for changes, JSON
// answers; an error answers {"error": what failed and what to do}.

// maxBody bounds a request's JSON (a message's text is at most 64 KiB,
// escaped up to six times).
const maxBody = 512 << 10

// apiError is an error answer with its status.
type apiError struct {
	status int
	msg    string
	extra  map[string]any
}

func (e *apiError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &apiError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

var errLocked = &apiError{status: http.StatusUnauthorized, msg: "Sky is locked; unlock it with your passphrase.", extra: map[string]any{"locked": true}}

// handler answers one API call. c is the unlocked client (nil for the calls
// that work while locked).
type handler func(s *Server, c *client.Client, r *http.Request, in *body) (any, error)

type route struct {
	method   string
	unlocked bool // needs the unlocked client
	fn       handler
}

var routes map[string]route

func init() {
	routes = map[string]route{
		"/api/state":  {http.MethodGet, false, apiState},
		"/api/unlock": {http.MethodPost, false, apiUnlock},
		"/api/lock":   {http.MethodPost, false, apiLock},
		"/api/events": {http.MethodGet, true, nil}, // events.go

		"/api/conversations": {http.MethodGet, true, apiConversations},
		"/api/chat":          {http.MethodGet, true, apiChat},
		"/api/history":       {http.MethodGet, true, apiHistory},
		"/api/send":          {http.MethodPost, true, apiSend},
		"/api/read":          {http.MethodPost, true, apiRead},
		"/api/qr":            {http.MethodGet, true, nil},  // events.go
		"/api/scan":          {http.MethodPost, true, nil}, // scan.go
		"/api/send-file":     {http.MethodPost, true, nil}, // files.go
		"/api/attachment":    {http.MethodGet, true, nil},  // files.go

		"/api/contacts/add":    {http.MethodPost, true, apiContactAdd},
		"/api/contacts/remove": {http.MethodPost, true, apiContactRemove},
		"/api/requests/accept": {http.MethodPost, true, apiAccept},
		"/api/requests/reject": {http.MethodPost, true, apiReject},

		"/api/safety":   {http.MethodGet, true, apiSafety},
		"/api/verify":   {http.MethodPost, true, apiVerify},
		"/api/keep-old": {http.MethodPost, true, apiKeepOld},
		"/api/timer":    {http.MethodPost, true, apiTimer},

		"/api/group/create": {http.MethodPost, true, apiGroupCreate},
		"/api/group/add":    {http.MethodPost, true, apiGroupAdd},
		"/api/group/remove": {http.MethodPost, true, apiGroupRemove},
		"/api/group/rename": {http.MethodPost, true, apiGroupRename},
		"/api/group/admin":  {http.MethodPost, true, apiGroupAdmin},
		"/api/group/leave":  {http.MethodPost, true, apiGroupLeave},
		"/api/group/link":   {http.MethodPost, true, apiGroupLink},
		"/api/group/revoke": {http.MethodPost, true, apiGroupRevokeLink},
		"/api/group/join":   {http.MethodPost, true, apiGroupJoin},
		"/api/group/answer": {http.MethodPost, true, apiGroupAnswer},

		"/api/broadcast/list":   {http.MethodGet, true, apiBroadcastList},
		"/api/broadcast/save":   {http.MethodPost, true, apiBroadcastSave},
		"/api/broadcast/delete": {http.MethodPost, true, apiBroadcastDelete},
		"/api/broadcast/send":   {http.MethodPost, true, apiBroadcastSend},

		"/api/account":             {http.MethodGet, true, apiAccount},
		"/api/settings":            {http.MethodGet, true, apiSettings},
		"/api/settings/timer":      {http.MethodPost, true, apiDefaultTimer},
		"/api/settings/idle":       {http.MethodPost, true, apiIdle},
		"/api/settings/panic":      {http.MethodPost, true, apiPanic},
		"/api/settings/wipe-after": {http.MethodPost, true, apiWipeAfter},
		"/api/settings/passphrase": {http.MethodPost, true, apiPassphrase},
		"/api/activity":            {http.MethodPost, false, func(*Server, *client.Client, *http.Request, *body) (any, error) { return true, nil }},
	}
	for path, r := range notesRoutes {
		routes[path] = r
	}
	for path, r := range socialRoutes {
		routes[path] = r
	}
	for path, r := range backupRoutes {
		routes[path] = r
	}
}

// body is what a POST carries; each call reads the fields it needs.
type body struct {
	ID            string   `json:"id"`
	Name          string   `json:"name"`
	Text          string   `json:"text"`
	Title         string   `json:"title"`
	Number        string   `json:"number"`
	Members       []string `json:"members"`
	Seconds       int64    `json:"seconds"`
	N             int      `json:"n"`
	Admin         bool     `json:"admin"`
	Passphrase    string   `json:"passphrase"`
	Next          string   `json:"next"`
	Clear         bool     `json:"clear"`
	DeleteAccount bool     `json:"deleteAccount"`
	Msg           string   `json:"msg"`          // a message's stable ID (social.go)
	Emoji         string   `json:"emoji"`        // a reaction
	On            bool     `json:"on"`           // typing
	Path          string   `json:"path"`         // a backup's file or folder (backup.go)
	Disappearing  bool     `json:"disappearing"` // a backup includes messages with a timer
}

func (s *Server) api(w http.ResponseWriter, r *http.Request) {
	rt, ok := routes[r.URL.Path]
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]any{"error": "no such API call"})
		return
	}
	if r.Method != rt.method {
		writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"error": "use " + rt.method})
		return
	}
	var c *client.Client
	if rt.unlocked {
		if c = s.opts.Host.Client(); c == nil {
			writeError(w, errLocked)
			return
		}
	}
	switch r.URL.Path {
	case "/api/events":
		s.events(w, r, c)
		return
	case "/api/qr":
		s.qr(w, r, c)
		return
	case "/api/scan":
		s.scan(w, r)
		return
	case "/api/send-file":
		s.sendFile(w, r, c)
		return
	case "/api/attachment":
		s.attachment(w, r, c)
		return
	case "/api/profile/avatar":
		s.profileAvatar(w, r, c)
		return
	}
	s.touch()
	in := &body{}
	if r.Method == http.MethodPost {
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
			writeJSON(w, http.StatusUnsupportedMediaType, map[string]any{"error": "send JSON (Content-Type: application/json)"})
			return
		}
		dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
		if err := dec.Decode(in); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "the request is not a JSON object: " + err.Error()})
			return
		}
		in.ID = strings.ToLower(strings.TrimSpace(in.ID))
	}
	out, err := rt.fn(s, c, r, in)
	if err != nil {
		writeError(w, err)
		return
	}
	if out == nil {
		out = true
	}
	writeJSON(w, http.StatusOK, out)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// writeError answers err: an apiError as it says, a closed client as
// locked, anything else as a 400 with the SDK's message (which says what to
// do).
func writeError(w http.ResponseWriter, err error) {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
	case errors.Is(err, client.ErrClosed), errors.Is(err, store.ErrClosed):
		ae = errLocked
	default:
		ae = &apiError{status: http.StatusBadRequest, msg: err.Error()}
		var ic *client.IdentityChangedError
		if errors.As(err, &ic) {
			ae.extra = map[string]any{"identityChanged": ic.Peer}
		}
	}
	out := map[string]any{"error": ae.msg}
	for k, v := range ae.extra {
		out[k] = v
	}
	writeJSON(w, ae.status, out)
}

// touch records the page's activity, which holds off the idle lock.
func (s *Server) touch() {
	s.mu.Lock()
	s.last = time.Now()
	s.mu.Unlock()
}

func apiState(s *Server, _ *client.Client, _ *http.Request, _ *body) (any, error) {
	c := s.opts.Host.Client()
	out := map[string]any{"account": c != nil || s.opts.Host.HasAccount(), "locked": c == nil, "version": s.opts.Version}
	if c != nil {
		out["id"] = c.ID()
		out["connected"] = c.Connected()
	}
	return out, nil
}

func apiUnlock(s *Server, _ *client.Client, _ *http.Request, in *body) (any, error) {
	s.unlocking.Lock()
	defer s.unlocking.Unlock()
	if in.Passphrase == "" {
		return nil, badRequest("Type your passphrase.")
	}
	if s.opts.Host.Client() != nil {
		return apiState(s, nil, nil, nil)
	}
	pass := []byte(in.Passphrase)
	defer clear(pass)
	_, err := s.opts.Host.Unlock(pass)
	var wrong *store.WrongPassphraseError
	switch {
	case errors.Is(err, client.ErrNoAccount):
		// After the panic passphrase, exactly what a fresh install shows.
		return map[string]any{"account": false, "locked": true, "version": s.opts.Version}, nil
	case errors.As(err, &wrong) && wrong.AttemptsLeft >= 0:
		return nil, &apiError{status: http.StatusUnauthorized, msg: fmt.Sprintf("Wrong passphrase. %d more wrong tries erase this account.", wrong.AttemptsLeft),
			extra: map[string]any{"attemptsLeft": wrong.AttemptsLeft}}
	case errors.Is(err, client.ErrWrongPassphrase):
		return nil, &apiError{status: http.StatusUnauthorized, msg: "Wrong passphrase. Try again."}
	case err != nil:
		return nil, err
	}
	s.touch()
	return apiState(s, nil, nil, nil)
}

func apiLock(s *Server, _ *client.Client, _ *http.Request, _ *body) (any, error) {
	s.opts.Host.Lock()
	return apiState(s, nil, nil, nil)
}

// watchIdle locks the host once the page has been idle for IdleLock, and
// deletes notes whose timer ran out.
func (s *Server) watchIdle(ctx context.Context) {
	tick := time.Second
	if d := s.opts.IdleLock; d > 0 && d < 4*time.Second {
		tick = max(d/4, 20*time.Millisecond) // a short idle time (tests) is kept to within a quarter
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if c := s.opts.Host.Client(); c != nil && i%10 == 0 {
			c.Notes().Expire()
		}
		s.mu.Lock()
		idle, d := time.Since(s.last), s.idleLock
		s.mu.Unlock()
		if d > 0 && idle >= d && s.opts.Host.Client() != nil {
			s.opts.Host.Lock()
		}
	}
}

func apiIdle(s *Server, _ *client.Client, _ *http.Request, in *body) (any, error) {
	if in.Seconds < 0 || in.Seconds > 7*24*3600 {
		return nil, badRequest("The idle time must be between 0 (never lock) and a week.")
	}
	d := time.Duration(in.Seconds) * time.Second
	s.mu.Lock()
	s.idleLock = d
	s.mu.Unlock()
	if s.opts.OnIdleLockChange != nil {
		s.opts.OnIdleLockChange(d)
	}
	return true, nil
}
