//go:build race

package client

// raceEnabled makes the heaviest tests smaller under the race detector,
// which slows the client about tenfold.
const raceEnabled = true
