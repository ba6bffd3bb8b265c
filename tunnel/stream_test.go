package tunnel

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/handshake"
	"github.com/tlsvpn/tlsvpn/internal/certtest"
	"github.com/tlsvpn/tlsvpn/internal/record"
	"github.com/tlsvpn/tlsvpn/internal/testutil"
	"github.com/tlsvpn/tlsvpn/internal/wire"
	"github.com/tlsvpn/tlsvpn/netif"
	"github.com/tlsvpn/tlsvpn/netif/netiftest"
	"golang.org/x/sys/unix"
)

// sealed returns content sealed as records of typ on st.
func sealed(t *testing.T, st *handshake.Stream, content []byte, typ record.ContentType) []byte {
	t.Helper()
	c := append(content[:len(content):len(content)], 0)[:len(content)]
	out, err := st.Seal.Append(nil, c, typ)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestMalformedStreamEndsTheConnection: a peer with a valid certificate
// that sends broken records or frames after the handshake gets its
// connection closed, and the node logs why, naming the peer.
func TestMalformedStreamEndsTheConnection(t *testing.T) {
	var ping [wire.PingLen]byte
	partial := func(t *testing.T, st *handshake.Stream) []byte { // half a ping frame
		return sealed(t, st, wire.AppendFrame(nil, wire.TypePing, ping[:])[:6], record.TypeApplicationData)
	}
	tests := []struct {
		name       string
		send       func(t *testing.T, st *handshake.Stream) []byte
		log        string
		closeWrite bool // then end the stream
	}{
		{"a record with a changed byte", func(t *testing.T, st *handshake.Stream) []byte {
			w := sealed(t, st, wire.AppendFrame(nil, wire.TypePing, ping[:]), record.TypeApplicationData)
			w[len(w)-3] ^= 0x10
			return w
		}, "bad_record_mac", false},
		{"plain text instead of a record", func(*testing.T, *handshake.Stream) []byte {
			return []byte("GET / HTTP/1.1\r\nHost: office-a\r\n\r\n")
		}, "malformed TLS record header", false},
		{"a record longer than TLS allows", func(*testing.T, *handshake.Stream) []byte {
			return append([]byte{23, 3, 3, 0x50, 0}, make([]byte, 0x5000)...)
		}, "record_overflow", false},
		{"an unknown mandatory frame type", func(t *testing.T, st *handshake.Stream) []byte {
			return sealed(t, st, wire.AppendFrame(nil, 0x42, nil), record.TypeApplicationData)
		}, "unknown frame type 0x42", false},
		{"a frame longer than any packet", func(t *testing.T, st *handshake.Stream) []byte {
			return sealed(t, st, []byte{byte(wire.TypePacket), 0xff, 0xff, 0xff}, record.TypeApplicationData)
		}, "frame", false},
		{"a KeyUpdate", func(t *testing.T, st *handshake.Stream) []byte {
			return sealed(t, st, []byte{24, 0, 0, 1, 0}, record.TypeHandshake)
		}, "unexpected TLS record of type 22", false},
		{"a fatal alert", func(t *testing.T, st *handshake.Stream) []byte {
			return sealed(t, st, []byte{2, 40}, record.TypeAlert)
		}, "TLS alert 40", false},
		{"a stream cut inside a record", func(t *testing.T, st *handshake.Stream) []byte {
			w := sealed(t, st, wire.AppendFrame(nil, wire.TypePing, ping[:]), record.TypeApplicationData)
			return w[:len(w)-4]
		}, "ended inside a TLS record", true},
		{"a stream cut inside a frame", partial, "ended inside a frame", true},
		{"close_notify inside a frame", func(t *testing.T, st *handshake.Stream) []byte {
			return append(partial(t, st), sealed(t, st, []byte{1, 0}, record.TypeAlert)...)
		}, "close_notify inside a frame", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			testutil.CheckLeaks(t)
			f := certtest.New(t, time.Now())
			log, logs := testutil.CaptureLogs(t)
			a := newSiteWith(t, f, "office-a", netiftest.New("a", 1500, netif.AllOffloads),
				PeerConfig{Name: "office-b", AllowedIPs: []netip.Prefix{tunB}}, true, nil,
				func(c *Config) { c.Log = log })

			hs := handshake.New("office-b", creds(f, "office-b"), []handshake.PeerPolicy{{Name: "office-a"}}, testutil.Logger(t), nil)
			raw, err := net.Dial("tcp", a.ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			s, err := hs.Client(context.Background(), raw, "office-a",
				handshake.Params{Version: handshake.ProtocolVersion, BootID: "hostile", MTU: 1500, Purpose: handshake.PurposeConnect})
			if err != nil {
				t.Fatal(err)
			}
			waitConnected(t, a, "office-b")
			if _, err := raw.Write(tc.send(t, s.Stream)); err != nil {
				t.Fatal(err)
			}
			if tc.closeWrite {
				raw.(*net.TCPConn).CloseWrite()
			}
			// The node closes the connection: reading ends within the deadline.
			raw.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, err = io.Copy(io.Discard, raw)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("the node kept the connection open")
			}
			testutil.Eventually(t, 10*time.Second, "the connection closed", func() bool { return a.eng.peers.get("office-b").current() == nil })
			testutil.Eventually(t, 10*time.Second, "log line "+tc.log, func() bool { return strings.Contains(logs.String(), tc.log) })
			for _, line := range strings.Split(logs.String(), "\n") {
				if strings.Contains(line, tc.log) {
					if !strings.Contains(line, "peer=office-b") {
						t.Errorf("log line does not name the peer: %s", line)
					}
					t.Logf("log: %s", line)
				}
			}
		})
	}
}

// TestCongestionControlIsSetOnEveryConnection: both ends of a connection
// use the configured congestion control; a name the kernel lacks is logged
// once and the connection still comes up with the host's default.
func TestCongestionControlIsSetOnEveryConnection(t *testing.T) {
	testutil.CheckLeaks(t)
	f := certtest.New(t, time.Now())
	log, logs := testutil.CaptureLogs(t)
	withCC := func(cc string, log *slog.Logger) func(*Config) {
		return func(c *Config) {
			c.CongestionControl = cc
			if log != nil {
				c.Log = log
			}
		}
	}
	a := newSiteWith(t, f, "office-a", netiftest.New("a", 1500, 0), PeerConfig{Name: "office-b", AllowedIPs: []netip.Prefix{tunB}}, true, nil, withCC("reno", nil))
	b := newSiteWith(t, f, "office-b", netiftest.New("b", 1500, 0), PeerConfig{Name: "office-a", Endpoint: a.ln.Addr().String(), AllowedIPs: []netip.Prefix{tunA}}, false, nil,
		withCC("no_such_cc", log))
	waitConnected(t, a, "office-b")
	waitConnected(t, b, "office-a")
	cc := func(c *conn) string {
		var name string
		control(c.st.Conn, func(fd int) { name, _ = unix.GetsockoptString(fd, unix.IPPROTO_TCP, unix.TCP_CONGESTION) })
		return strings.TrimRight(name, "\x00")
	}
	if got := cc(a.eng.peers.get("office-b").current()); got != "reno" {
		t.Errorf("listener's connection uses %q, want reno", got)
	}
	if got := cc(b.eng.peers.get("office-a").current()); got == "no_such_cc" || got == "" {
		t.Errorf("dialer's connection uses %q, want the host's default", got)
	}
	if n := strings.Count(logs.String(), "congestion control not available"); n != 1 ||
		!strings.Contains(logs.String(), "key=transport.congestion_control") {
		t.Errorf("want one warning naming the key, got %d:\n%s", n, logs.String())
	}
}
