package server

import "time"

// ParkedConnections returns how many connections wait in the poller with no
// goroutine of their own (-1 without a poller).
func ParkedConnections(s *Server) int {
	if s.poller == nil {
		return -1
	}
	return s.poller.Len()
}

// FrameBytesHeld returns the bytes charged to the frame budget now.
func FrameBytesHeld(s *Server) int64 { return s.frames.used.Load() }

// SlowAuthAnswer delays, until the test ends, what follows the start of
// delivery on a newly authenticated connection by d.
func SlowAuthAnswer(t interface{ Cleanup(func()) }, d time.Duration) {
	hook := func() { time.Sleep(d) }
	testHookAuthed.Store(&hook)
	t.Cleanup(func() { testHookAuthed.Store(nil) })
}
