//go:build unix

package client

import (
	"syscall"
	"time"
)

// processCPU is the CPU time (user and system) the process has used so far.
// Receive's share of it does not depend on how busy the machine is, unlike
// wall time; it includes the garbage collector's work that Receive causes.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
