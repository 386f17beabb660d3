package strip

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"testing"
)

// The canaries the test images carry in their metadata.
const (
	canaryGPS     = "CANARY-GPS-52.3676N"
	canaryCamera  = "CANARY-CAMERA-SERIAL-0042"
	canaryXMP     = "CANARY-XMP-CREATOR"
	canaryIPTC    = "CANARY-IPTC-BYLINE"
	canaryComment = "CANARY-COMMENT"
	canaryTrailer = "CANARY-AFTER-THE-IMAGE"
	canaryText    = "CANARY-PNG-TEXT"
)

var canaries = []string{canaryGPS, canaryCamera, canaryXMP, canaryIPTC, canaryComment, canaryTrailer, canaryText}

// TestGenerateTestdata rewrites testdata/gps.jpg and testdata/meta.png
// (and meta.webp from plain.webp, a 432-byte WebP from CPython's test
// suite) when SKY_REGEN_TESTDATA=1.
func TestGenerateTestdata(t *testing.T) {
	if os.Getenv("SKY_REGEN_TESTDATA") != "1" {
		t.Skip("set SKY_REGEN_TESTDATA=1 to rewrite the test images")
	}
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for y := range 48 {
		for x := range 64 {
			img.Set(x, y, color.RGBA{uint8(4 * x), uint8(5 * y), 128, 255})
		}
	}
	var j bytes.Buffer
	jpeg.Encode(&j, img, &jpeg.Options{Quality: 90})
	jb := j.Bytes()
	var out []byte
	out = append(out, jb[:2]...) // SOI
	out = append(out, segment(0xe1, exifWithGPS())...)
	out = append(out, segment(0xe1, []byte("http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta><dc:creator>"+canaryXMP+"</dc:creator></x:xmpmeta>"))...)
	out = append(out, segment(0xed, []byte("Photoshop 3.0\x008BIM\x04\x04\x00\x00\x00\x00\x00\x20\x1c\x02\x50\x00\x12"+canaryIPTC))...)
	out = append(out, segment(0xfe, []byte(canaryComment))...)
	out = append(out, jb[2:]...)
	out = append(out, canaryTrailer...)
	os.WriteFile("testdata/gps.jpg", out, 0o644)

	var p bytes.Buffer
	png.Encode(&p, img)
	pb := p.Bytes()
	ihdrEnd := 8 + 8 + 13 + 4
	var po []byte
	po = append(po, pb[:ihdrEnd]...)
	po = append(po, chunk("tEXt", []byte("Author\x00"+canaryText))...)
	po = append(po, chunk("iTXt", []byte("XML:com.adobe.xmp\x00\x00\x00\x00\x00<x:xmpmeta>"+canaryXMP+"</x:xmpmeta>"))...)
	po = append(po, chunk("eXIf", exifWithGPS()[6:])...)
	po = append(po, chunk("tIME", []byte{0x07, 0xea, 12, 6, 22, 0, 0})...)
	po = append(po, pb[ihdrEnd:]...)
	os.WriteFile("testdata/meta.png", po, 0o644)

	wb, _ := os.ReadFile("testdata/plain.webp")
	wo := append([]byte(nil), wb[:12]...)
	wo = append(wo, wb[12:12+18]...) // VP8X
	wo[12+8] |= 0x08 | 0x04
	wo = append(wo, wb[30:]...)
	wo = append(wo, riffChunk("EXIF", exifWithGPS()[6:])...)
	wo = append(wo, riffChunk("XMP ", []byte("<x:xmpmeta>"+canaryXMP+"</x:xmpmeta>"))...)
	binary.LittleEndian.PutUint32(wo[4:], uint32(len(wo)-8))
	os.WriteFile("testdata/meta.webp", wo, 0o644)
}

func segment(m byte, data []byte) []byte {
	b := []byte{0xff, m, 0, 0}
	binary.BigEndian.PutUint16(b[2:], uint16(len(data)+2))
	return append(b, data...)
}

func chunk(typ string, data []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	b = append(b, typ...)
	b = append(b, data...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[4:]))
}

func riffChunk(typ string, data []byte) []byte {
	b := append([]byte(typ), 0, 0, 0, 0)
	binary.LittleEndian.PutUint32(b[4:], uint32(len(data)))
	b = append(b, data...)
	if len(data)%2 == 1 {
		b = append(b, 0)
	}
	return b
}

// exifWithGPS is "Exif\0\0" and a big-endian TIFF structure: IFD0 with
// Orientation 6 (turned 90°), Make and BodySerialNumber, and a GPS IFD
// whose latitude reference holds a canary.
func exifWithGPS() []byte {
	be := binary.BigEndian
	t := []byte("MM\x00\x2a\x00\x00\x00\x08")
	// IFD0 at 8: 3 entries (12 bytes each) + next-IFD 0 = 2+36+4 = 42 → ends at 50.
	strOff := 50
	serial := canaryCamera + "\x00"
	gpsOff := strOff + len(serial)
	t = be.AppendUint16(t, 3)
	t = append(t, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0) // Orientation 6
	t = append(t, 0xa4, 0x31, 0, 2)                         // BodySerialNumber, ASCII
	t = be.AppendUint32(t, uint32(len(serial)))
	t = be.AppendUint32(t, uint32(strOff))
	t = append(t, 0x88, 0x25, 0, 4, 0, 0, 0, 1) // GPS IFD pointer, LONG
	t = be.AppendUint32(t, uint32(gpsOff))
	t = be.AppendUint32(t, 0)
	t = append(t, serial...)
	// GPS IFD: one entry, GPSAreaInformation-like ASCII canary.
	gps := canaryGPS + "\x00"
	t = be.AppendUint16(t, 1)
	t = append(t, 0x00, 0x1c, 0, 2)
	t = be.AppendUint32(t, uint32(len(gps)))
	t = be.AppendUint32(t, uint32(gpsOff+2+12+4))
	t = be.AppendUint32(t, 0)
	t = append(t, gps...)
	return append([]byte("Exif\x00\x00"), t...)
}
