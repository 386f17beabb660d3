// Package redact lets secret types print a fixed placeholder instead of
// their bytes under every fmt verb, so that no key reaches a log, an error
// or a crash report by accident.
package redact

import (
	"fmt"
	"io"
)

// Format writes "<name: redacted>" whatever the verb and flags.
// Secret types call it from their Format method.
func Format(f fmt.State, name string) {
	io.WriteString(f, "<"+name+": redacted>")
}

// String returns the same placeholder for String and GoString methods.
func String(name string) string { return "<" + name + ": redacted>" }
