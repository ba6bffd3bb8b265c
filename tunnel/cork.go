package tunnel

import (
	"net"
	"sync"
)

// corkConn sits between crypto/tls and the TCP socket. While corked it
// gathers the records that tls.Conn writes (one Write per record) and hands
// them to the socket in one write when uncorked: a batch of packets then
// costs one syscall instead of one per 16 KiB record. Records written while
// uncorked (handshake, alerts, replies from the reading side) pass straight
// through. The mutex orders those against a corked batch.
type corkConn struct {
	net.Conn
	mu     sync.Mutex
	corked bool
	buf    []byte
}

func (c *corkConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.corked {
		c.buf = append(c.buf, b...)
		return len(b), nil
	}
	return c.Conn.Write(b)
}

// Cork starts gathering writes.
func (c *corkConn) Cork() {
	c.mu.Lock()
	c.corked = true
	c.mu.Unlock()
}

// Uncork writes what was gathered, in one write, and stops gathering.
func (c *corkConn) Uncork() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked = false
	if len(c.buf) == 0 {
		return nil
	}
	_, err := c.Conn.Write(c.buf)
	c.buf = c.buf[:0]
	return err
}
