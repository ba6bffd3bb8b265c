//go:build !linux

package tunnel

import (
	"net"
	"time"
)

// tuneSocket does nothing elsewhere: the TCP options are Linux's.
func (e *Engine) tuneSocket(net.Conn, time.Duration) {}

func setUserTimeout(net.Conn, time.Duration) {}
