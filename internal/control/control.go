// Package control is the node's local control socket: `tlsvpn status` and
// `tlsvpn reload` connect, send one request line and read one JSON reply.
// Only root and the node's own user are answered (SO_PEERCRED).
package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Requests a client may send.
const (
	RequestStatus = "status" // the node's status (internal/status.Node)
	RequestReload = "reload" // reload as SIGHUP does; the reply comes once it is done
)

// ioTimeout bounds one exchange on the socket; reloadTimeout a reload,
// which waits for one already under way.
const (
	ioTimeout     = 5 * time.Second
	reloadTimeout = time.Minute
)

// timeout is how long an exchange of req may take.
func timeout(req string) time.Duration {
	if req == RequestReload {
		return reloadTimeout
	}
	return ioTimeout
}

// ErrNoNode means nothing answers on the socket.
var ErrNoNode = errors.New("no running node")

// NodeError is the node's answer that a request failed (a reload that did
// not load, an unknown request), as Query returns it.
type NodeError struct {
	Addr string // the control socket
	Msg  string // what the node said
}

func (e *NodeError) Error() string { return fmt.Sprintf("node at %s: %s", e.Addr, e.Msg) }

// Listen opens the control socket at addr: "@name" is an abstract socket
// (per network namespace), anything else a path whose stale socket file is
// removed. It fails when a live node already answers there.
func Listen(addr string) (net.Listener, error) {
	if _, err := Query(addr, RequestStatus); err == nil {
		return nil, fmt.Errorf("control socket %s: another node is running there; stop it first or set [control].socket", addr)
	}
	if !strings.HasPrefix(addr, "@") {
		if err := os.MkdirAll(filepath.Dir(addr), 0o750); err != nil {
			return nil, fmt.Errorf("control socket %s: %w", addr, err)
		}
		if err := os.Remove(addr); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("remove stale control socket %s: %w", addr, err)
		}
	}
	ln, err := net.Listen("unix", addr)
	if err != nil {
		return nil, fmt.Errorf("control socket %s: %w", addr, err)
	}
	if ul, ok := ln.(*net.UnixListener); ok {
		ul.SetUnlinkOnClose(true)
	}
	return ln, nil
}

// Server answers requests on a listener until Close.
type Server struct {
	ln     net.Listener
	handle func(req string) (any, error)
	log    *slog.Logger
	wg     sync.WaitGroup
}

// Serve starts answering on ln; handle builds the reply for a request.
func Serve(ln net.Listener, handle func(req string) (any, error), log *slog.Logger) *Server {
	s := &Server{ln: ln, handle: handle, log: log}
	s.wg.Add(1)
	go s.loop()
	return s
}

// Close stops the server and waits for its goroutines.
func (s *Server) Close() error {
	err := s.ln.Close()
	s.wg.Wait()
	return err
}

func (s *Server) loop() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				s.log.Warn("control socket accept", "err", err)
			}
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			s.serve(c)
		}()
	}
}

func (s *Server) serve(c net.Conn) {
	c.SetDeadline(time.Now().Add(ioTimeout))
	if err := checkPeer(c); err != nil {
		s.log.Warn("control socket: refusing client", "err", err)
		json.NewEncoder(c).Encode(reply{Error: err.Error()})
		return
	}
	line, err := bufio.NewReader(io.LimitReader(c, 4096)).ReadString('\n')
	if err != nil {
		return
	}
	req := strings.TrimSpace(line)
	c.SetDeadline(time.Now().Add(timeout(req)))
	r := reply{}
	v, err := s.handle(req)
	if err != nil {
		r.Error = err.Error()
	} else if r.Result, err = json.Marshal(v); err != nil {
		r.Error = err.Error()
	}
	json.NewEncoder(c).Encode(r)
}

type reply struct {
	Result json.RawMessage `json:"result,omitempty"`
	Error  string          `json:"error,omitempty"`
}

// checkPeer admits root and the user the node runs as.
func checkPeer(c net.Conn) error {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return errors.New("not a unix socket")
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return err
	}
	var cred *unix.Ucred
	var cerr error
	raw.Control(func(fd uintptr) { cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED) })
	if cerr != nil {
		return fmt.Errorf("read peer credentials: %w", cerr)
	}
	if cred.Uid != 0 && int(cred.Uid) != os.Getuid() {
		return fmt.Errorf("uid %d may not use the control socket (root or uid %d only)", cred.Uid, os.Getuid())
	}
	return nil
}

// Query sends req to the node at addr and returns the JSON result. It
// fails with ErrNoNode when nothing answers there, and with a *NodeError
// when the node answers that the request failed.
func Query(addr, req string) (json.RawMessage, error) {
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", addr)
	if err != nil {
		return nil, fmt.Errorf("%w at %s: %v", ErrNoNode, addr, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout(req) + ioTimeout))
	if _, err := fmt.Fprintf(c, "%s\n", req); err != nil {
		return nil, fmt.Errorf("%w at %s: %v", ErrNoNode, addr, err)
	}
	var r reply
	if err := json.NewDecoder(c).Decode(&r); err != nil {
		return nil, fmt.Errorf("read reply from %s: %w", addr, err)
	}
	if r.Error != "" {
		return nil, &NodeError{Addr: addr, Msg: r.Error}
	}
	return r.Result, nil
}
