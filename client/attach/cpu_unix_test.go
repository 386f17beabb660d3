//go:build unix

package attach_test

import (
	"syscall"
	"time"
)

// processCPU is the CPU time (user and system) the process has used so far:
// client and server together, as both run in the benchmark's process. It
// does not depend on how busy the machine is, unlike MB/s.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
