//go:build unix

package loadgen

import (
	"errors"
	"net"
	"syscall"
)

// alive peeks at c's socket without blocking and without consuming
// anything.
func alive(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return aliveByDeadline(c)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	var (
		buf  [4096]byte
		n    int
		rerr error
	)
	if err := rc.Control(func(fd uintptr) {
		n, _, rerr = syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	}); err != nil {
		return false
	}
	switch {
	case errors.Is(rerr, syscall.EAGAIN) || errors.Is(rerr, syscall.EWOULDBLOCK):
		return true // nothing to read: open and quiet
	case rerr != nil || n == 0:
		return false // an error, or end of stream
	}
	return !closing(buf[:n])
}
