package store

import "fmt"

// Secret holds bytes that must never be printed: key pairs, session state,
// credentials and message content. Formatting it with fmt shows only its
// length. Convert with []byte(s) or string(s) where the value is really
// needed.
type Secret []byte

// Zero overwrites the bytes.
func (s Secret) Zero() { clear(s) }

// String, GoString and Format redact the bytes for every fmt verb.
func (s Secret) String() string                { return fmt.Sprintf("store.Secret{%d bytes redacted}", len(s)) }
func (s Secret) GoString() string              { return s.String() }
func (s Secret) Format(f fmt.State, verb rune) { fmt.Fprint(f, s.String()) }
