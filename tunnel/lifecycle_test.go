package tunnel

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/handshake"
	"github.com/tlsvpn/tlsvpn/internal/certtest"
	"github.com/tlsvpn/tlsvpn/internal/testutil"
	"github.com/tlsvpn/tlsvpn/netif/netiftest"
)

// heldAuth is a real Authenticator that holds every session it completes
// until the engine has stopped the session's peer, then hands it over: the
// handshake ends after Close took the peer out of service.
type heldAuth struct {
	Authenticator
	eng *Engine
}

func (h *heldAuth) hold(ctx context.Context, s *handshake.Session) *handshake.Session {
	<-ctx.Done() // Close cancels the engine's context first
	p := h.eng.peers.get(s.Peer)
	for {
		p.slot.mu.Lock()
		stopped := p.slot.state == peerStopped
		p.slot.mu.Unlock()
		if stopped {
			return s
		}
		time.Sleep(time.Millisecond)
	}
}

func (h *heldAuth) Server(ctx context.Context, raw net.Conn, local handshake.Params) (*handshake.Session, error) {
	s, err := h.Authenticator.Server(context.Background(), raw, local)
	if err != nil {
		return nil, err
	}
	return h.hold(ctx, s), nil
}

func (h *heldAuth) Client(ctx context.Context, raw net.Conn, peer string, local handshake.Params) (*handshake.Session, error) {
	s, err := h.Authenticator.Client(context.Background(), raw, peer, local)
	if err != nil {
		return nil, err
	}
	return h.hold(ctx, s), nil
}

// closeWithin closes e and reports an error if Close does not return
// within 10 s (it would be waiting for a connection nobody closes). Any
// goroutine may call it.
func closeWithin(t *testing.T, e *Engine) {
	done := make(chan struct{})
	go func() { e.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		buf := make([]byte, 1<<20)
		t.Errorf("Close did not return within 10s; goroutines:\n%s", buf[:runtime.Stack(buf, true)])
	}
}

// TestAHandshakeEndingAfterCloseIsRefused: a handshake that completes
// after Close has stopped its peer gets no connection: the other side is
// told the node is shutting down, and Close returns.
func TestAHandshakeEndingAfterCloseIsRefused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		dialer bool // the held engine dials (else it accepts)
	}{
		{"a handshake the node accepted", false},
		{"a handshake the node dialed", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testutil.CheckLeaks(t)
			f := certtest.New(t, time.Now())
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			// The other side: a plain engine whose log tells what it was told.
			otherLog, logs := testutil.CaptureLogs(t)
			other := newSiteWith(t, f, "office-a", netiftest.New("a", 1500, 0),
				PeerConfig{Name: "office-b", AllowedIPs: []netip.Prefix{tunB}}, false, nil,
				func(c *Config) {
					c.Log = otherLog
					if tc.dialer {
						c.Listener = ln // the held engine dials this one
					} else {
						c.Peers[0].Endpoint = ln.Addr().String()
					}
				})
			peer := PeerConfig{Name: "office-a", AllowedIPs: []netip.Prefix{tunA}}
			var held net.Listener = ln
			if tc.dialer {
				peer.Endpoint, held = ln.Addr().String(), nil
			}
			log := testutil.Logger(t)
			auth := &heldAuth{Authenticator: handshake.New("office-b", creds(f, "office-b"),
				[]handshake.PeerPolicy{{Name: "office-a", AllowedIPs: peer.AllowedIPs}}, log, nil)}
			e, err := New(Config{Name: "office-b", Device: netiftest.New("b", 1500, 0), Auth: auth,
				Listener: held, Peers: []PeerConfig{peer}, Log: log})
			if err != nil {
				t.Fatal(err)
			}
			auth.eng = e
			e.Start()
			// Let a handshake complete and be held, then close.
			testutil.Eventually(t, 10*time.Second, "office-a connected", func() bool { return strings.Contains(logs.String(), "peer connected") })
			closeWithin(t, e)
			if t.Failed() {
				t.FailNow()
			}
			if c := e.peers.get("office-a").current(); c != nil {
				t.Fatalf("a stopped peer holds a connection in state %v", c.state())
			}
			testutil.Eventually(t, 10*time.Second, "office-a told of the shutdown", func() bool {
				return strings.Contains(logs.String(), `msg="peer closed the connection" peer=office-b`) &&
					strings.Contains(logs.String(), "reason=shutdown")
			})
			other.eng.Close()
		})
	}
}

// TestCloseRacesCompletingHandshakes closes two engines, many times, while
// handshakes complete on both sides (one dials the other, and raw clients
// keep replacing its connection): every Close returns and no goroutine is
// left.
func TestCloseRacesCompletingHandshakes(t *testing.T) {
	testutil.CheckLeaks(t)
	const iterations = 200
	f := certtest.New(t, time.Now())
	credA, credB := creds(f, "office-a"), creds(f, "office-b")
	log := slog.New(slog.DiscardHandler) // 200 rounds of connects and closes
	polA := []handshake.PeerPolicy{{Name: "office-b", AllowedIPs: []netip.Prefix{tunB}}}
	polB := []handshake.PeerPolicy{{Name: "office-a", AllowedIPs: []netip.Prefix{tunA}}}
	for i := range iterations {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		a, err := New(Config{Name: "office-a", Device: netiftest.New("a", 1500, 0), Auth: handshake.New("office-a", credA, polA, log, nil),
			Listener: ln, Peers: []PeerConfig{{Name: "office-b", AllowedIPs: []netip.Prefix{tunB}}}, Log: log})
		if err != nil {
			t.Fatal(err)
		}
		hsB := handshake.New("office-b", credB, polB, log, nil)
		b, err := New(Config{Name: "office-b", Device: netiftest.New("b", 1500, 0), Auth: hsB,
			Peers: []PeerConfig{{Name: "office-a", Endpoint: ln.Addr().String(), AllowedIPs: []netip.Prefix{tunA}}}, Log: log})
		if err != nil {
			t.Fatal(err)
		}
		a.Start()
		b.Start()
		stop := make(chan struct{})
		var clients sync.WaitGroup
		for range 2 {
			clients.Add(1)
			go func() {
				defer clients.Done()
				rawClient(ln.Addr().String(), hsB, stop)
			}()
		}
		time.Sleep(time.Duration(rand.Int64N(int64(5 * time.Millisecond))))
		var closing sync.WaitGroup
		for _, e := range []*Engine{a, b} {
			closing.Add(1)
			go func() { defer closing.Done(); closeWithin(t, e) }()
		}
		closing.Wait()
		close(stop)
		clients.Wait()
		if t.Failed() {
			t.Fatalf("iteration %d failed", i)
		}
	}
}

// rawClient handshakes with addr as office-b again and again, each
// session a new process (a new boot id) that replaces the last, and
// closes each after a moment, until stop is closed or the node is gone.
// Every dial and handshake is bounded.
func rawClient(addr string, hs *handshake.Handshaker, stop <-chan struct{}) {
	for n := 0; n < 100; n++ {
		select {
		case <-stop:
			return
		default:
		}
		raw, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		s, err := hs.Client(ctx, raw, "office-a", handshake.Params{Version: handshake.ProtocolVersion,
			BootID: fmt.Sprintf("raw-%d", n), MTU: 1500, Purpose: handshake.PurposeConnect})
		cancel()
		if err != nil {
			raw.Close()
			continue
		}
		time.Sleep(time.Duration(rand.Int64N(int64(2 * time.Millisecond))))
		s.Stream.Conn.Close()
	}
}

// TestAPeerThatClosesGetsAnAnswer: a node that stops tells its peer so,
// and the peer answers with its own Close frame after what it had queued
// (docs/protocol.md, "Keepalive and close"), which the stopping node reads
// before its Close returns.
func TestAPeerThatClosesGetsAnAnswer(t *testing.T) {
	testutil.CheckLeaks(t)
	f := certtest.New(t, time.Now())
	a := newSite(t, f, "office-a", netiftest.New("a", 1500, 0), PeerConfig{Name: "office-b", AllowedIPs: []netip.Prefix{tunB}}, true)
	log, logs := testutil.CaptureLogs(t)
	b := newSiteWith(t, f, "office-b", netiftest.New("b", 1500, 0),
		PeerConfig{Name: "office-a", Endpoint: a.ln.Addr().String(), AllowedIPs: []netip.Prefix{tunA}}, false, nil,
		func(c *Config) { c.Log = log })
	waitConnected(t, a, "office-b")
	waitConnected(t, b, "office-a")
	b.eng.Close()
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, `msg="peer closed the connection"`) {
			if !strings.Contains(line, "reason=shutdown") {
				t.Fatalf("the answer gives another reason: %s", line)
			}
			return
		}
	}
	t.Fatalf("office-a did not answer office-b's Close:\n%s", logs)
}

// TestRemovingTheEndpointStopsTheDialer: a reload that takes a peer's
// endpoint away stops dialing it (the peer now dials in); one that gives
// it back dials again.
func TestRemovingTheEndpointStopsTheDialer(t *testing.T) {
	testutil.CheckLeaks(t)
	f := certtest.New(t, time.Now())
	gone, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gone.Close() // nobody answers there
	peer := PeerConfig{Name: "office-a", Endpoint: gone.Addr().String(), AllowedIPs: []netip.Prefix{tunA}}
	b := newSite(t, f, "office-b", netiftest.New("b", 1500, 0), peer, false)
	state := func() string { return b.eng.Status().Peers[0].State }
	testutil.Eventually(t, 10*time.Second, "office-b waiting to redial", func() bool { return state() == "waiting to redial" })

	peer.Endpoint = ""
	b.eng.SetPeers([]PeerConfig{peer})
	testutil.Eventually(t, 10*time.Second, "office-b's dialer stopped", func() bool {
		p := b.eng.peers.get("office-a")
		p.slot.mu.Lock()
		defer p.slot.mu.Unlock()
		return !p.slot.dialing
	})
	if got := state(); got != "waiting for the peer to dial in" {
		t.Fatalf("a peer without endpoint shows %q", got)
	}

	a := newSite(t, f, "office-a", netiftest.New("a", 1500, 0), PeerConfig{Name: "office-b", AllowedIPs: []netip.Prefix{tunB}}, true)
	peer.Endpoint = a.ln.Addr().String()
	b.eng.SetPeers([]PeerConfig{peer})
	waitConnected(t, b, "office-a")
}

// TestTheFirstCauseOfAnEndIsKept: a connection closed for its peer's
// expired certificate keeps that as its error when the goodbye then fails
// to write.
func TestTheFirstCauseOfAnEndIsKept(t *testing.T) {
	testutil.CheckLeaks(t)
	sock, other := net.Pipe()
	defer other.Close()
	c := &conn{e: &Engine{log: testutil.Logger(t)}, p: &peer{name: "office-b"}, st: &handshake.Stream{Conn: sock}}
	c.life.dead = make(chan struct{})
	c.life.state.Store(uint32(connDraining))
	c.setErr(errExpired)
	c.kill(&net.OpError{Op: "write", Net: "tcp", Err: io.ErrClosedPipe})
	if err := c.endErr(); err != errExpired {
		t.Fatalf("the connection ended with %v, want %v", err, errExpired)
	}
	if !c.isDead() {
		t.Fatalf("killed connection is %v", c.state())
	}
	select {
	case <-c.life.dead:
	default:
		t.Fatal("kill did not tell the goroutines")
	}
}
