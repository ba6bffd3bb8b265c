// Package handshake turns a TCP connection into an authenticated Session:
// TLS 1.3 only, ALPN "tlsvpn/1", both certificates verified inside the TLS
// handshake (so a refused peer receives an alert), the peer identified by
// a DNS SAN among the configured peers, then the parameter exchange of
// docs/protocol.md.
package handshake

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/trust"
)

// ALPN is the application protocol both sides must negotiate.
const ALPN = "tlsvpn/1"

// Timeouts of the two phases.
const (
	TLSTimeout    = 10 * time.Second
	ParamsTimeout = 5 * time.Second
)

// Session is an authenticated connection to a configured peer, after the
// parameter exchange. The caller owns Stream.Conn and must close it.
type Session struct {
	Stream *Stream
	Peer   string // the configured peer's name
	Local  Params
	Remote Params
	Leaf   *x509.Certificate // the peer's certificate
	// Expires is when the first certificate of the peer's verified chain
	// expires: the session must end then.
	Expires time.Time
	State   tls.ConnectionState
	Dialed  bool // this node dialed the connection
}

// Handshaker authenticates connections. Its credentials and peers can be
// replaced at any time with Update; handshakes in progress keep the view
// they started with. It is safe for concurrent use.
type Handshaker struct {
	name string
	log  *slog.Logger
	now  func() time.Time
	pol  atomic.Pointer[policy]

	failed failures // refusals by reason (failures.go)
}

// New returns a Handshaker for the node called name, presenting and
// verifying with creds (loaded without problems). now is the clock (nil:
// time.Now).
func New(name string, creds *trust.Credentials, peers []PeerPolicy, log *slog.Logger, now func() time.Time) *Handshaker {
	if now == nil {
		now = time.Now
	}
	h := &Handshaker{name: name, log: log, now: now}
	h.Update(creds, peers)
	return h
}

// Update replaces the credentials and the configured peers.
func (h *Handshaker) Update(creds *trust.Credentials, peers []PeerPolicy) {
	m := make(map[string]PeerPolicy, len(peers))
	for _, p := range peers {
		m[p.Name] = p
	}
	h.pol.Store(&policy{creds: creds, peers: m})
}

// Credentials returns the credentials in force.
func (h *Handshaker) Credentials() *trust.Credentials { return h.pol.Load().creds }

// Verify re-checks a live session's peer against the credentials and
// peers in force now, as a reload does. A stale CRL does not fail it (it
// only refuses new handshakes). It returns nil or a *Refusal.
func (h *Handshaker) Verify(s *Session) error {
	_, err := h.pol.Load().verify(s.State, check{role: roleOf(s.Dialed), want: s.Peer, now: h.now(), live: true})
	return err
}

// roleOf is the EKU the peer needs: serverAuth when we dialed it.
func roleOf(dialed bool) x509.ExtKeyUsage {
	if dialed {
		return x509.ExtKeyUsageServerAuth
	}
	return x509.ExtKeyUsageClientAuth
}

// Client runs the client side over raw, expecting the peer called peer.
func (h *Handshaker) Client(ctx context.Context, raw net.Conn, peer string, local Params) (*Session, error) {
	return h.run(ctx, raw, peer, local)
}

// Server runs the server side over raw.
func (h *Handshaker) Server(ctx context.Context, raw net.Conn, local Params) (*Session, error) {
	return h.run(ctx, raw, "", local)
}

func (h *Handshaker) run(ctx context.Context, raw net.Conn, want string, local Params) (*Session, error) {
	dialed := want != ""
	pol := h.pol.Load()
	s := &Session{Local: local, Dialed: dialed}
	cfg := h.tlsConfig(pol, s, want)
	bc := &boundedConn{Conn: raw}
	var conn *tls.Conn
	if dialed {
		conn = tls.Client(bc, cfg)
	} else {
		conn = tls.Server(bc, cfg)
	}
	remote := raw.RemoteAddr().String()
	if err := h.tls(ctx, conn); err != nil {
		err = h.refused(err, remote, want)
		conn.Close()
		return nil, err
	}
	s.State = conn.ConnectionState()
	if err := h.exchange(s, conn, bc); err != nil {
		err = h.refused(err, remote, s.Peer)
		if bc.handedOff {
			// The peer may have moved on to the record layer, where a
			// close_notify from crypto/tls would read as a forged record.
			raw.Close()
		} else {
			conn.Close()
		}
		return nil, err
	}
	st, err := s.stream(bc)
	if err != nil {
		conn.Close()
		return nil, err
	}
	s.Stream = st
	return s, nil
}

func (h *Handshaker) tlsConfig(pol *policy, s *Session, want string) *tls.Config {
	cert := pol.creds.Certificate()
	return &tls.Config{
		MinVersion:                  tls.VersionTLS13,
		MaxVersion:                  tls.VersionTLS13,
		NextProtos:                  []string{ALPN},
		Certificates:                []tls.Certificate{cert},
		ClientAuth:                  tls.RequireAnyClientCert,
		InsecureSkipVerify:          true, // verification is ours, in VerifyConnection
		SessionTicketsDisabled:      true, // nothing to resume: every connection is a full handshake
		DynamicRecordSizingDisabled: true,
		ServerName:                  want,
		VerifyConnection: func(cs tls.ConnectionState) error {
			v, err := pol.verify(cs, check{role: roleOf(want != ""), want: want, now: h.now()})
			s.Peer, s.Leaf, s.Expires = v.peer, v.leaf, v.expires
			return err
		},
	}
}

func (h *Handshaker) tls(ctx context.Context, conn *tls.Conn) error {
	ctx, cancel := context.WithTimeout(ctx, TLSTimeout)
	defer cancel()
	return conn.HandshakeContext(ctx)
}

// exchange sends our parameters and reads the peer's through conn, the
// last use of crypto/tls's record layer: the Stream continues after it.
// The peer's parameter record must hold nothing else, since crypto/tls
// would keep the rest.
func (h *Handshaker) exchange(s *Session, conn *tls.Conn, bc *boundedConn) error {
	s.Local.Node = h.name
	if err := conn.SetDeadline(time.Now().Add(ParamsTimeout)); err != nil {
		return fmt.Errorf("set deadline: %w", err)
	}
	errc := make(chan error, 1)
	go func() { errc <- writeParams(conn, s.Local) }()
	remote, rerr := readParams(conn)
	werr := <-errc
	if err := errors.Join(rerr, werr); err != nil {
		return err
	}
	bc.handedOff = true
	if err := checkParams(s.Local, remote, s.Peer); err != nil {
		return err
	}
	if n, err := conn.Read(make([]byte, 1)); n != 0 || !errors.Is(err, errHandedOver) {
		return refuse(ReasonParams, "the parameter message shares its TLS record with other data")
	}
	s.Remote = remote
	return conn.SetDeadline(time.Time{})
}

// refused logs one line for a failed handshake and returns a *Refusal
// (or the error itself when it is no refusal, e.g. a reset connection).
func (h *Handshaker) refused(err error, remote, peer string) error {
	var r *Refusal
	if !errors.As(err, &r) {
		r = classifyTLS(err)
	}
	attrs := []any{"remote", remote, "reason", r.Reason, "detail", r.Detail}
	if peer != "" {
		attrs = append(attrs, "peer", peer)
	}
	h.log.Warn("handshake refused", attrs...)
	h.failed.add(r.Reason)
	return r
}

// classifyTLS names the refusals that crypto/tls makes before our
// VerifyConnection runs.
func classifyTLS(err error) *Refusal {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "didn't provide a certificate"), strings.Contains(msg, "certificate required"):
		return &Refusal{Reason: ReasonNoCertificate, Detail: msg}
	case strings.Contains(msg, "unsupported versions"), strings.Contains(msg, "protocol version"):
		return &Refusal{Reason: ReasonTLSVersion, Detail: msg}
	case strings.Contains(msg, "application protocol"):
		return &Refusal{Reason: ReasonALPN, Detail: msg}
	case strings.Contains(msg, "bad certificate"), strings.Contains(msg, "unknown certificate authority"),
		strings.Contains(msg, "certificate expired"):
		return &Refusal{Reason: ReasonInvalid, Detail: "the peer refused our certificate: " + msg}
	}
	return &Refusal{Reason: ReasonHandshake, Detail: msg}
}
