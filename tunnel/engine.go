// Package tunnel carries IP packets between a TUN device and the
// connections to configured peers: routing by destination to the peer
// whose allowed IPs hold it, one framed, batched, encrypted stream per
// peer, and the dialing, accepting, keepalive, replacement and redial
// rules of DESIGN.md.
//
// It sees the device through netif.Device and a connection through
// handshake.Session; it never reads the configuration file.
package tunnel

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tlsvpn/tlsvpn/handshake"
	"github.com/tlsvpn/tlsvpn/internal/wire"
	"github.com/tlsvpn/tlsvpn/netif"
)

// PeerConfig is one configured peer.
type PeerConfig struct {
	Name       string
	Endpoint   string // host:port to dial; "" to wait for the peer to dial in
	AllowedIPs []netip.Prefix
	Keepalive  time.Duration // 0: DefaultKeepalive
}

// DefaultKeepalive is the keepalive interval when none is configured; a
// peer silent for DeadAfter intervals is dropped.
const (
	DefaultKeepalive = 10 * time.Second
	DeadAfter        = 3
)

// Authenticator runs handshakes; *handshake.Handshaker is one.
type Authenticator interface {
	Client(ctx context.Context, raw net.Conn, peer string, local handshake.Params) (*handshake.Session, error)
	Server(ctx context.Context, raw net.Conn, local handshake.Params) (*handshake.Session, error)
	Verify(s *handshake.Session) error
}

// Config is what an Engine needs.
type Config struct {
	Name     string // this node's name
	Device   netif.Device
	Auth     Authenticator
	Listener net.Listener // nil: accept no connections
	Peers    []PeerConfig
	Log      *slog.Logger
	// Dial opens TCP connections (nil: a net.Dialer); tests replace it.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// RotateAge is the age at which a connection is replaced by a fresh
	// one (0: DefaultRotateAge); RotateRecords the number of TLS records
	// either way after which it is (0: DefaultRotateRecords).
	RotateAge     time.Duration
	RotateRecords uint64
	// CongestionControl is set on every connection's socket ("": the
	// host's default); a kernel that lacks it is logged once.
	CongestionControl string
}

// Rotation defaults. Go's TLS never initiates a KeyUpdate, so a connection
// is replaced well before AES-GCM's per-key limit of 2^24.5 records
// (RFC 8446 section 5.5), and at least hourly.
const (
	DefaultRotateAge     = time.Hour
	DefaultRotateRecords = 1 << 23
)

// Engine moves packets. Start it with Start; Close stops every goroutine
// it started, closes its connections, the listener and the device, and
// waits for them. Methods are safe for concurrent use.
type Engine struct {
	name     string
	dev      netif.Device
	batchDev netif.BatchWriter // dev, when it coalesces batches of writes
	auth     Authenticator
	ln       net.Listener
	log      *slog.Logger
	dial     func(ctx context.Context, network, addr string) (net.Conn, error)
	bootID   string
	mtu      int
	accept   netif.Offload // GSO types we accept from peers

	rotateAge     time.Duration
	rotateRecords uint64
	congestion    string
	ccWarn        sync.Once

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex // guards peers and offload
	peers  map[string]*peer
	routes atomic.Pointer[routes]
	offNow netif.Offload // offloads set on the device now

	noRoute   atomic.Uint64
	dropLog   [numDrops]logSlot
	hsMu      sync.Mutex // guards the handshake counts
	hsTotal   int
	hsPerIP   map[netip.Addr]int
	closeOnce sync.Once
}

// New checks cfg and returns an Engine that has not started yet. The
// Engine owns the device and the listener from now on.
func New(cfg Config) (*Engine, error) {
	if cfg.Device == nil || cfg.Auth == nil || cfg.Log == nil {
		return nil, errors.New("tunnel: device, authenticator and logger are required")
	}
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return nil, fmt.Errorf("make boot id: %w", err)
	}
	e := &Engine{
		name: cfg.Name, dev: cfg.Device, auth: cfg.Auth, ln: cfg.Listener, log: cfg.Log,
		dial: cfg.Dial, bootID: hex.EncodeToString(id), mtu: cfg.Device.MTU(),
		accept: cfg.Device.Offload(), offNow: cfg.Device.Offload(),
		peers: map[string]*peer{}, hsPerIP: map[netip.Addr]int{},
		rotateAge: cfg.RotateAge, rotateRecords: cfg.RotateRecords, congestion: cfg.CongestionControl,
	}
	if e.rotateAge <= 0 {
		e.rotateAge = DefaultRotateAge
	}
	if e.rotateRecords == 0 {
		e.rotateRecords = DefaultRotateRecords
	}
	e.batchDev, _ = cfg.Device.(netif.BatchWriter)
	if e.dial == nil {
		d := &net.Dialer{Timeout: handshake.TLSTimeout}
		e.dial = d.DialContext
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	for _, pc := range cfg.Peers {
		e.peers[pc.Name] = newPeer(e, pc)
	}
	e.rebuildRoutes()
	return e, nil
}

// maxHandshakes bounds the inbound handshakes in progress; more
// connections are closed at once.
const maxHandshakes = 64

// Start launches the TUN reader, the acceptor and a dialer per peer with
// an endpoint.
func (e *Engine) Start() {
	e.goroutine(e.readTUN)
	if e.ln != nil {
		e.goroutine(e.acceptLoop)
	}
	e.mu.Lock()
	for _, p := range e.peers {
		p.start()
	}
	e.mu.Unlock()
}

func (e *Engine) goroutine(f func()) {
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		f()
	}()
}

// Close says goodbye to every peer (a Close frame after the data already
// queued), then stops everything and waits. It returns when no goroutine
// of the engine is left.
func (e *Engine) Close() error {
	e.closeOnce.Do(func() {
		e.cancel()
		if e.ln != nil {
			e.ln.Close()
		}
		e.mu.Lock()
		var conns []*conn
		for _, p := range e.peers {
			if c := p.detachAll(); c != nil {
				conns = append(conns, c)
			}
		}
		e.mu.Unlock()
		for _, c := range conns {
			c.retire(wire.CloseShutdown)
		}
		waitRetired(conns, time.Second)
		e.dev.Close()
	})
	e.wg.Wait()
	return nil
}

// params is what this node announces on a new connection.
func (e *Engine) params(purpose handshake.Purpose) handshake.Params {
	return handshake.Params{
		Version: handshake.ProtocolVersion, BootID: e.bootID, MTU: e.mtu,
		GSO: e.accept.Names(), Purpose: purpose,
	}
}

func (e *Engine) peer(name string) *peer {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.peers[name]
}

func (e *Engine) rebuildRoutes() {
	list := make([]*peer, 0, len(e.peers))
	for _, p := range e.peers {
		list = append(list, p)
	}
	e.routes.Store(newRoutes(list))
}

// updateOffload sets the device's offloads to the GSO types every
// connected peer accepts, so the kernel never hands us a super-packet a
// peer cannot take.
func (e *Engine) updateOffload() {
	e.mu.Lock()
	defer e.mu.Unlock()
	want := e.dev.Offload()
	for _, p := range e.peers {
		if c := p.current(); c != nil {
			want &= c.accept
		}
	}
	if want == e.offNow {
		return
	}
	if err := e.dev.SetOffload(want); err != nil {
		e.log.Error("set TUN offloads", "offload", want.String(), "err", err)
		return
	}
	e.log.Info("TUN offloads changed", "offload", want.String())
	e.offNow = want
}
