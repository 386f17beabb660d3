package web

import (
	"bytes"
	"fmt"
	"image"
	_ "image/jpeg" // camera frames and photos
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"github.com/skymsg/sky/client"
)

// Starting a chat by scanning a QR code. The page sends what it scanned —
// a frame from the camera (getUserMedia, drawn to a canvas) or a picture
// file — to the local process, which decodes the QR code in Go
// (github.com/makiuchi-d/gozxing, a port of ZXing) and answers the Sky ID
// it holds ("sky:" and the ID, what sky id --qr and the page's own code
// show). Nothing leaves the machine. The image is bounded in bytes and in
// pixels before it is decoded, since a picture file may come from anyone.

// Bounds of an image to scan.
const (
	maxScanBytes  = 8 << 20
	maxScanPixels = 4096 * 4096
)

var errNoQR = &apiError{status: http.StatusUnprocessableEntity, msg: "No QR code found in the picture. Hold the code flat and well lit, filling most of the frame."}

// scan answers {"id": ID} for a picture holding a Sky ID's QR code.
func (s *Server) scan(w http.ResponseWriter, r *http.Request) {
	s.touch()
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "image/png" && mt != "image/jpeg" {
		writeJSON(w, http.StatusUnsupportedMediaType, map[string]any{"error": "send the picture as image/png or image/jpeg"})
		return
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxScanBytes+1))
	if err != nil {
		writeError(w, fmt.Errorf("reading the picture failed: %w", err))
		return
	}
	if len(b) > maxScanBytes {
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]any{"error": fmt.Sprintf("the picture is over %d MiB; take a smaller one", maxScanBytes>>20)})
		return
	}
	text, err := decodeQR(b)
	if err != nil {
		writeError(w, err)
		return
	}
	id, err := skyIDOf(text)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id})
}

// decodeQR returns the text of the QR code in an encoded picture (PNG or
// JPEG), checking its size before decoding it.
func decodeQR(b []byte) (text string, err error) {
	cfg, _, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return "", badRequest("that is not a PNG or JPEG picture")
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width*cfg.Height > maxScanPixels {
		return "", badRequest("the picture is %d×%d pixels; at most %d pixels in all", cfg.Width, cfg.Height, maxScanPixels)
	}
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return "", badRequest("the picture does not decode: %v", err)
	}
	defer func() {
		if recover() != nil { // the decoder must never take the process down
			text, err = "", errNoQR
		}
	}()
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		return "", errNoQR
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true})
	if err != nil {
		return "", errNoQR
	}
	return res.GetText(), nil
}

// skyIDOf reads a Sky ID from a QR code's text: "sky:ID" (or the bare ID).
func skyIDOf(text string) (string, error) {
	id := strings.ToLower(strings.TrimSpace(text))
	id = strings.TrimPrefix(id, "sky:")
	if !client.ValidID(id) {
		return "", badRequest("this QR code is not a Sky ID (a Sky ID's code holds sky: and the ID); ask for the code their Sky shows under New chat")
	}
	return id, nil
}
