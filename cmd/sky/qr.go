package main

import (
	"fmt"
	"io"
	"strings"

	"rsc.io/qr"

	"github.com/skymsg/sky/client/store"
)

// renderQR prints data as a QR code with Unicode half blocks, two modules
// per character cell, light modules drawn (so it scans on dark terminals
// too) with a quiet zone of two modules.
func renderQR(w io.Writer, data []byte) error {
	code, err := qr.Encode(string(data), qr.M)
	if err != nil {
		return fmt.Errorf("making the QR code failed: %w", err)
	}
	const quiet = 2
	light := func(x, y int) bool {
		if x < 0 || y < 0 || x >= code.Size || y >= code.Size {
			return true
		}
		return !code.Black(x, y)
	}
	var b strings.Builder
	for y := -quiet; y < code.Size+quiet; y += 2 {
		for x := -quiet; x < code.Size+quiet; x++ {
			top, bottom := light(x, y), light(x, y+1)
			switch {
			case top && bottom:
				b.WriteString("█")
			case top:
				b.WriteString("▀")
			case bottom:
				b.WriteString("▄")
			default:
				b.WriteString(" ")
			}
		}
		b.WriteString("\n")
	}
	_, err = io.WriteString(w, b.String())
	return err
}

func storeExists(home string) (bool, error) { return store.Exists(storeDir(home)) }
