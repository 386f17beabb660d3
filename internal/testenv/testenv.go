// Package testenv decides what a test does when something it needs from the
// machine (Node.js, PostgreSQL, NATS, Chromium for the web UI's browser
// tests) is missing.
//
// Locally such a test skips with a message that says what is missing and how to
// provide it. CI sets SKY_REQUIRE_<NAME>=1 (see .ci/run), which turns the same
// skip into a failure, so a suite can never be skipped silently there.
package testenv

import (
	"os"
	"strings"
	"testing"
)

// Required reports whether the environment demands the named facility, by
// SKY_REQUIRE_<NAME>=1 or SKY_REQUIRE_ALL=1. Names are upper case, for example
// "INTEROP", "POSTGRES", "NATS" or "BROWSER".
func Required(name string) bool {
	return os.Getenv("SKY_REQUIRE_"+strings.ToUpper(name)) == "1" || os.Getenv("SKY_REQUIRE_ALL") == "1"
}

// Unavailable stops the test because the facility name is unreachable. It
// skips, or fails when Required(name) is true. why says what was missing and
// what to do, for example "node not found in PATH: install Node.js 20+".
func Unavailable(t testing.TB, name, why string) {
	t.Helper()
	if Required(name) {
		t.Fatalf("%s is required here (SKY_REQUIRE_%s=1) but unavailable: %s", name, strings.ToUpper(name), why)
	}
	t.Skipf("skipping: %s unavailable: %s (set SKY_REQUIRE_%s=1 to make this a failure)", name, why, strings.ToUpper(name))
}
