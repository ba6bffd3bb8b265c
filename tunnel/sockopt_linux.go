package tunnel

import (
	"net"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// notsentLowat bounds the data queued in the socket but not yet sent:
// beyond it a write waits, so packets queue where we can still order them
// (express first) instead of behind megabytes in the kernel.
const notsentLowat = 128 << 10

// tune sets TCP_USER_TIMEOUT (unacknowledged data for DeadAfter
// keepalive intervals ends the connection), TCP_NOTSENT_LOWAT and the
// congestion control.
func (s *sockTuning) tune(c net.Conn, keepalive time.Duration) {
	setUserTimeout(c, keepalive)
	control(c, func(fd int) {
		unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT, notsentLowat)
		if s.congestion == "" {
			return
		}
		if err := unix.SetsockoptString(fd, unix.IPPROTO_TCP, unix.TCP_CONGESTION, s.congestion); err != nil {
			s.warnOnce.Do(func() {
				s.log.Warn("congestion control not available; connections use the host's default",
					"key", "transport.congestion_control", "value", s.congestion, "err", err,
					"available", "/proc/sys/net/ipv4/tcp_available_congestion_control")
			})
		}
	})
}

// control runs f on the socket's descriptor; sockets that are not
// syscall.Conns (tests' pipes) are left alone.
func control(c net.Conn, f func(fd int)) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return
	}
	raw.Control(func(fd uintptr) { f(int(fd)) })
}

func setUserTimeout(c net.Conn, keepalive time.Duration) {
	ms := int(DeadAfter * keepalive / time.Millisecond)
	control(c, func(fd int) { unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, ms) })
}
