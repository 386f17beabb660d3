//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package main

// disableCoreDumps has nothing to do where there are no core files to limit.
func disableCoreDumps() {}
