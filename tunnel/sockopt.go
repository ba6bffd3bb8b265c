package tunnel

import (
	"log/slog"
	"sync"
)

// sockTuning is what the engine sets on every connection's socket
// (sockopt_linux.go): the congestion control of Config.CongestionControl,
// TCP_NOTSENT_LOWAT and TCP_USER_TIMEOUT. A congestion control the kernel
// lacks is logged once. tune may run on several sockets at once.
type sockTuning struct {
	congestion string // "": the host's default
	log        *slog.Logger
	warnOnce   sync.Once
}
