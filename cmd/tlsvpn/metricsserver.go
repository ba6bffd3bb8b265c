package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tlsvpn/tlsvpn/config"
)

// Limits of the metrics endpoint: a scraper is served within these, and a
// client that dawdles is cut off.
const (
	metricsReadTimeout  = 10 * time.Second
	metricsWriteTimeout = 30 * time.Second
	metricsIdleTimeout  = 2 * time.Minute
	metricsGatherLimit  = 20 * time.Second // one scrape's collection
	metricsInFlight     = 4                // scrapes at once; more get 503
	metricsStopTimeout  = 2 * time.Second  // scrapes under way may finish at stop
)

// metricsServer serves Prometheus text at /metrics on [metrics] listen.
// The node owns it: it listens at start, serves once the engine runs,
// and close stops it and waits for its goroutine.
type metricsServer struct {
	ln   net.Listener
	srv  *http.Server
	done chan struct{}
}

// listenMetrics binds the metrics address of cfg; nil when there is no
// [metrics]. An address that cannot be bound fails the start, named.
func listenMetrics(cfg *config.Config) (*metricsServer, error) {
	if cfg.Metrics == nil {
		return nil, nil
	}
	ln, err := net.Listen("tcp", cfg.Metrics.Listen)
	if err != nil {
		return nil, fmt.Errorf("serve metrics on %s (metrics.listen in %s): %w", cfg.Metrics.Listen, cfg.Path, err)
	}
	return &metricsServer{ln: ln, done: make(chan struct{})}, nil
}

// serve starts answering with the series of c, the Go runtime and the
// process.
func (m *metricsServer) serve(c prometheus.Collector, log *slog.Logger) error {
	reg := prometheus.NewRegistry()
	for _, col := range []prometheus.Collector{c, collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		if err := reg.Register(col); err != nil {
			return fmt.Errorf("register metrics: %w", err)
		}
	}
	errLog := slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog: errLog, MaxRequestsInFlight: metricsInFlight, Timeout: metricsGatherLimit,
	}))
	m.srv = &http.Server{
		Handler: mux, ErrorLog: errLog, MaxHeaderBytes: 16 << 10,
		ReadHeaderTimeout: metricsReadTimeout, ReadTimeout: metricsReadTimeout,
		WriteTimeout: metricsWriteTimeout, IdleTimeout: metricsIdleTimeout,
	}
	go func() {
		defer close(m.done)
		if err := m.srv.Serve(m.ln); !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server", "listen", m.ln.Addr().String(), "err", err)
		}
	}()
	return nil
}

// close stops the server, letting scrapes under way finish for a moment,
// and waits for it. Before serve it closes the listener. A nil server is
// no server.
func (m *metricsServer) close() {
	if m == nil {
		return
	}
	if m.srv == nil {
		m.ln.Close()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), metricsStopTimeout)
	defer cancel()
	if m.srv.Shutdown(ctx) != nil {
		m.srv.Close()
	}
	<-m.done
}
