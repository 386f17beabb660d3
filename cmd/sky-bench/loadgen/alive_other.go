//go:build !unix

package loadgen

import "net"

func alive(c net.Conn) bool { return aliveByDeadline(c) }
