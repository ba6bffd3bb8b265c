//go:build !linux

package tunnel

import (
	"net"
	"time"
)

// tune does nothing elsewhere: the TCP options are Linux's.
func (s *sockTuning) tune(net.Conn, time.Duration) {}

func setUserTimeout(net.Conn, time.Duration) {}
