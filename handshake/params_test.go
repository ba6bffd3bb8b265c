package handshake

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/certtest"
)

// TestCheckParams: each way a peer's parameters can fail is refused with a
// detail that names what is wrong and, where there is one, the fix.
func TestCheckParams(t *testing.T) {
	local := params(1500)
	with := func(mod func(*Params)) Params {
		p := params(1500)
		p.Node = "office-b"
		mod(&p)
		return p
	}
	for _, tc := range []struct {
		name   string
		remote Params
		detail string // "": accepted
	}{
		{"a peer of this version is accepted", with(func(*Params) {}), ""},
		{"a rotation is accepted", with(func(p *Params) { p.Purpose = PurposeRotate }), ""},
		{"a peer of version 2 is told to upgrade", with(func(p *Params) { p.Version = 2 }),
			"peer speaks protocol version 2, this node 3; upgrade tlsvpn on the peer to a release that speaks version 3"},
		{"a peer of version 4 tells this node to upgrade", with(func(p *Params) { p.Version = 4 }),
			"peer speaks protocol version 4, this node 3; upgrade tlsvpn on this node to a release that speaks version 4"},
		{"a message without a version is refused", with(func(p *Params) { p.Version = 0 }), "peer sent no protocol version"},
		{"a peer calling itself by another name is refused", with(func(p *Params) { p.Node = "office-c" }),
			`peer calls itself "office-c" but its certificate names "office-b"`},
		{"another MTU is refused with both values", with(func(p *Params) { p.MTU = 1400 }),
			"MTU mismatch: this node 1500, peer 1400; set the same interface.mtu on both"},
		{"a TAP peer is refused by a TUN node, naming both modes", with(func(p *Params) { p.Mode = ModeTAP }),
			`mode mismatch: this node runs "tun", peer "tap"; set the same interface.mode on both`},
		{"a message without a mode is a TUN peer", with(func(p *Params) { p.Mode = "" }), ""},
		{"a message without boot id is refused", with(func(p *Params) { p.BootID = "" }), "peer sent no boot id"},
		{"an unknown purpose is refused", with(func(p *Params) { p.Purpose = "relay" }), `unknown connection purpose "relay"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkParams(local, tc.remote, "office-b")
			switch {
			case tc.detail == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.detail == "":
			case ReasonOf(err) != ReasonParams:
				t.Fatalf("got %v, want a parameters refusal", err)
			case err.(*Refusal).Detail != tc.detail:
				t.Fatalf("detail %q, want %q", err.(*Refusal).Detail, tc.detail)
			}
		})
	}
}

// TestPeerOfAnotherVersionIsRefused: a node refuses a peer that announces
// another protocol version with one log line naming the peer, both
// versions and the side to upgrade.
func TestPeerOfAnotherVersionIsRefused(t *testing.T) {
	f := certtest.New(t, now)
	for _, tc := range []struct {
		name    string
		version int
		want    string
	}{
		{"an older peer", ProtocolVersion - 1, "peer speaks protocol version 2, this node 3; upgrade tlsvpn on the peer"},
		{"a newer peer", ProtocolVersion + 1, "peer speaks protocol version 4, this node 3; upgrade tlsvpn on this node"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs logBuf
			server := New("office-a", credsFor(t, f.Leaf(certtest.LeafOpts{Names: []string{"office-a"}, EKU: bothEKU}), f, nil),
				[]PeerPolicy{{Name: "office-b"}}, slog.New(slog.NewTextHandler(&logs, nil)), func() time.Time { return now })
			_, err := serve(t, server, func(c net.Conn) error {
				client := New("office-b", credsFor(t, f.Leaf(certtest.LeafOpts{Names: []string{"office-b"}, EKU: bothEKU}), f, nil),
					[]PeerPolicy{{Name: "office-a"}}, slog.New(slog.NewTextHandler(io.Discard, nil)), func() time.Time { return now })
				p := params(1500)
				p.Version = tc.version
				_, err := client.Client(context.Background(), c, "office-a", p)
				return err
			})
			if ReasonOf(err) != ReasonParams || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want a refusal saying %q", err, tc.want)
			}
			line := logs.String()
			if strings.Count(line, `msg="handshake refused"`) != 1 || !strings.Contains(line, "peer=office-b") ||
				!strings.Contains(line, "reason=parameters") || !strings.Contains(line, tc.want) {
				t.Fatalf("want one log line naming the peer, the reason and %q:\n%s", tc.want, line)
			}
			t.Logf("log: %s", strings.TrimSpace(line))
		})
	}
}

// TestModeMismatchIsRefusedByBoth: a TUN node and a TAP node refuse each
// other at the parameter exchange, and each logs one line naming both
// modes.
func TestModeMismatchIsRefusedByBoth(t *testing.T) {
	f := certtest.New(t, now)
	var serverLog, clientLog logBuf
	server := New("office-a", credsFor(t, f.Leaf(certtest.LeafOpts{Names: []string{"office-a"}, EKU: bothEKU}), f, nil),
		[]PeerPolicy{{Name: "office-b"}}, slog.New(slog.NewTextHandler(&serverLog, nil)), func() time.Time { return now })
	var clientErr error
	_, err := serve(t, server, func(c net.Conn) error {
		client := New("office-b", credsFor(t, f.Leaf(certtest.LeafOpts{Names: []string{"office-b"}, EKU: bothEKU}), f, nil),
			[]PeerPolicy{{Name: "office-a"}}, slog.New(slog.NewTextHandler(&clientLog, nil)), func() time.Time { return now })
		p := params(1500)
		p.Mode = ModeTAP
		_, clientErr = client.Client(context.Background(), c, "office-a", p)
		return clientErr
	})
	for _, side := range []struct {
		name string
		err  error
		log  *logBuf
		want string
	}{
		{"the TUN node", err, &serverLog, `mode mismatch: this node runs \"tun\", peer \"tap\"`},
		{"the TAP node", clientErr, &clientLog, `mode mismatch: this node runs \"tap\", peer \"tun\"`},
	} {
		if ReasonOf(side.err) != ReasonParams {
			t.Errorf("%s: got %v, want a parameters refusal", side.name, side.err)
		}
		line := side.log.String()
		if strings.Count(line, `msg="handshake refused"`) != 1 || !strings.Contains(line, "reason=parameters") ||
			!strings.Contains(line, side.want) {
			t.Errorf("%s: want one log line saying %s:\n%s", side.name, side.want, line)
		}
	}
}
