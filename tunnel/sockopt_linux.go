package tunnel

import (
	"net"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// tuneSocket sets TCP_USER_TIMEOUT (unacknowledged data for DeadAfter
// keepalive intervals ends the connection) and wraps the socket for
// corked writes.
func tuneSocket(c net.Conn, keepalive time.Duration) *corkConn {
	setUserTimeout(c, keepalive)
	return &corkConn{Conn: c}
}

func setUserTimeout(c net.Conn, keepalive time.Duration) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return
	}
	ms := int(DeadAfter * keepalive / time.Millisecond)
	raw.Control(func(fd uintptr) {
		unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, ms)
	})
}
