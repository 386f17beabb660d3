//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package main

import "syscall"

// disableCoreDumps keeps keys and messages out of core files.
func disableCoreDumps() {
	syscall.Setrlimit(syscall.RLIMIT_CORE, &syscall.Rlimit{Cur: 0, Max: 0})
}
