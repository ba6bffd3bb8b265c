//go:build !linux

package tunnel

import (
	"net"
	"time"
)

// tuneSocket only wraps the socket elsewhere: the TCP options are Linux's.
func tuneSocket(c net.Conn, keepalive time.Duration) *corkConn { return &corkConn{Conn: c} }

func setUserTimeout(net.Conn, time.Duration) {}
