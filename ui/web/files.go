package web

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/skymsg/sky/client"
	"github.com/skymsg/sky/client/attach"
)

// Attachments in the page (package client/attach): the page uploads a file
// as the body of a POST, sky sends it; the page shows images, video and
// audio inline and offers every file for download.

// maxUpload bounds a file the page sends (skyd's default limit).
const maxUpload = 100 << 20

type jsonAttachment struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Type     string `json:"type"` // as the sender claimed; the page shows only known media inline
	Size     int64  `json:"size"`
	Width    int    `json:"width,omitempty"`
	Height   int    `json:"height,omitempty"`
	Duration int64  `json:"duration,omitempty"` // milliseconds
	Preview  string `json:"preview,omitempty"`  // a data: URL of the tiny JPEG preview
}

func attachmentsJSON(as []client.Attachment) []jsonAttachment {
	var out []jsonAttachment
	for _, a := range as {
		j := jsonAttachment{ID: a.ID, Name: a.Name, Type: a.Type, Size: a.Size, Width: a.Width, Height: a.Height,
			Duration: a.Duration.Milliseconds()}
		if len(a.Preview) > 0 && len(a.Preview) <= 16<<10 {
			j.Preview = "data:image/jpeg;base64," + base64.StdEncoding.EncodeToString(a.Preview)
		}
		out = append(out, j)
	}
	return out
}

// inlineTypes are the types the page may show inline, and the only ones
// served with their own Content-Type; anything else is a download.
var inlineTypes = map[string]bool{
	"image/jpeg": true, "image/png": true, "image/gif": true, "image/webp": true,
	"video/mp4": true, "video/webm": true,
	"audio/mpeg": true, "audio/mp4": true, "audio/ogg": true, "audio/webm": true, "audio/wav": true,
}

// sendFile sends the request's body as a file to the conversation ?id=,
// named ?name=, with ?text= as its caption.
func (s *Server) sendFile(w http.ResponseWriter, r *http.Request, c *client.Client) {
	s.touch()
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/octet-stream" {
		writeJSON(w, http.StatusUnsupportedMediaType, map[string]any{"error": "send the file as application/octet-stream"})
		return
	}
	q := r.URL.Query()
	name := attach.SafeName(q.Get("name"))
	if name == "" || name == "." {
		name = "file"
	}
	dir, err := os.MkdirTemp("", "sky-web-upload-")
	if err != nil {
		writeError(w, err)
		return
	}
	defer os.RemoveAll(dir) // the plaintext lives here only while it is encrypted
	path := filepath.Join(dir, name)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		writeError(w, err)
		return
	}
	n, err := io.Copy(f, io.LimitReader(r.Body, maxUpload+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	switch {
	case err != nil:
		writeError(w, fmt.Errorf("reading the file failed: %w", err))
		return
	case n > maxUpload:
		writeError(w, badRequest("The file is larger than %d MiB; Sky cannot send it.", maxUpload>>20))
		return
	case n == 0:
		writeError(w, badRequest("The file is empty."))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Minute)
	defer cancel()
	id, text := q.Get("id"), q.Get("text")
	var (
		m     client.Message
		preps []*attach.Prepared
	)
	if len(id) == 32 {
		m, preps, err = c.SendGroupFiles(ctx, id, text, []string{path}, nil)
	} else {
		m, preps, err = c.SendFiles(ctx, id, text, []string{path}, nil)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	out := sentFile{jsonMessage: toJSON(m)}
	if len(preps) == 1 {
		out.AsIs, out.Removed = preps[0].AsIs, preps[0].Removed
	}
	writeJSON(w, http.StatusOK, out)
}

// sentFile is the message a file went in, and what the page tells the
// user of its metadata: removed (what), or sent as it is.
type sentFile struct {
	jsonMessage
	AsIs    bool     `json:"as_is,omitempty"`
	Removed []string `json:"removed,omitempty"`
}

// attachment answers an attachment's bytes (downloading it first if this
// device does not hold it). Known media types go inline for the page's
// <img>, <video> and <audio>; everything else, and ?download, as a
// download. The answer is sandboxed: even a file that claims to be HTML
// can run nothing on this origin.
func (s *Server) attachment(w http.ResponseWriter, r *http.Request, c *client.Client) {
	id := r.URL.Query().Get("id")
	if _, _, err := parseAttachmentID(id); err != nil {
		writeError(w, badRequest("%q is not an attachment ID.", id))
		return
	}
	dir, err := os.MkdirTemp("", "sky-web-file-")
	if err != nil {
		writeError(w, err)
		return
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Minute)
	defer cancel()
	path, err := c.SaveAttachment(ctx, id, dir, false, nil)
	if err != nil {
		writeError(w, err)
		return
	}
	f, err := os.Open(path)
	if err != nil {
		writeError(w, err)
		return
	}
	defer f.Close()
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	// The type is the one the message claims (the page passes it back);
	// only known media types are served as themselves.
	typ := r.URL.Query().Get("type")
	if !inlineTypes[typ] || r.URL.Query().Has("download") {
		typ = "application/octet-stream"
		h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": filepath.Base(path)}))
	}
	h.Set("Content-Type", typ)
	http.ServeContent(w, r, "", time.Time{}, f)
}

func parseAttachmentID(id string) (int64, int, error) {
	a, b, ok := strings.Cut(id, ".")
	if !ok {
		return 0, 0, errors.New("bad attachment ID")
	}
	lid, err1 := strconv.ParseInt(a, 10, 64)
	n, err2 := strconv.Atoi(b)
	if err1 != nil || err2 != nil || lid <= 0 || n < 1 {
		return 0, 0, errors.New("bad attachment ID")
	}
	return lid, n, nil
}
