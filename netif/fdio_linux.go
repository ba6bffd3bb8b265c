package netif

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// fdio is the packet path of a TUN or TAP file descriptor: one read(2) or
// write(2) per packet or frame, parked on Go's poller, allocating nothing.
// TUN and TAP embed it and add what their packets look like.
type fdio struct {
	name string
	rc   syscall.RawConn

	// Writes hold wmu for reading around their write(2) on fd; closeFile
	// holds it for writing while it closes fd, so fd is never reused
	// under a Write.
	wmu    sync.RWMutex
	fd     int
	closed atomic.Bool

	// Read state: one reader at a time, so plain fields suffice. The
	// method values are made once so that read creates no closure.
	rbuf     []byte
	rn       int
	rerr     error
	rgot     bool
	readWait func(fd uintptr) bool
	readNow  func(fd uintptr)
}

// init prepares f for the device name open on file, which must be
// non-blocking so that Go's poller serves it.
func (f *fdio) init(name string, file *os.File) error {
	f.name, f.fd = name, -1
	f.readWait = f.readOnce
	f.readNow = func(fd uintptr) { f.readOnce(fd) }
	rc, err := file.SyscallConn()
	if err != nil {
		return fmt.Errorf("raw access to %s: %w", name, err)
	}
	f.rc = rc
	return f.control(func(fd int) error { f.fd = fd; return nil })
}

// control runs fn with the file descriptor while the file is open.
func (f *fdio) control(fn func(fd int) error) error {
	var ferr error
	if err := f.rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		if f.closed.Load() {
			return ErrClosed
		}
		return err
	}
	return ferr
}

// read reads one packet or frame of at least minLen bytes into b, as
// Device.Read describes.
func (f *fdio) read(b []byte, wait bool, minLen int) (int, error) {
	if f.closed.Load() {
		return 0, ErrClosed
	}
	if len(b) <= minLen {
		return 0, fmt.Errorf("read %s: buffer of %d bytes cannot hold a packet", f.name, len(b))
	}
	f.rbuf, f.rn, f.rerr, f.rgot = b, 0, nil, false
	var err error
	if wait {
		err = f.rc.Read(f.readWait)
	} else {
		err = f.rc.Control(f.readNow)
	}
	n, rerr, got := f.rn, f.rerr, f.rgot
	f.rbuf, f.rerr = nil, nil
	switch {
	case err != nil:
		return 0, f.wrapIOErr("read from", err)
	case rerr != nil:
		return 0, f.wrapIOErr("read from", rerr)
	case !got:
		return 0, nil
	case n >= len(b):
		return 0, fmt.Errorf("read from %s: %w", f.name, ErrTruncated)
	case n < minLen:
		return 0, fmt.Errorf("read from %s: short read of %d bytes", f.name, n)
	}
	return n, nil
}

// readOnce is one read(2) into f.rbuf, retried on EINTR. It reports false
// on EAGAIN, which makes RawConn.Read wait for readability.
func (f *fdio) readOnce(fd uintptr) bool {
	for {
		n, err := unix.Read(int(fd), f.rbuf)
		switch err {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		}
		f.rn, f.rerr, f.rgot = n, err, true
		return true
	}
}

// write writes b in one write(2), as Device.Write describes.
func (f *fdio) write(b []byte) error {
	f.wmu.RLock()
	if f.closed.Load() {
		f.wmu.RUnlock()
		return ErrClosed
	}
	n, err := writeFD(f.fd, b)
	f.wmu.RUnlock()
	if err != nil {
		return f.wrapIOErr("write to", err)
	}
	if n != len(b) {
		return fmt.Errorf("write to %s: short write of %d of %d bytes", f.name, n, len(b))
	}
	return nil
}

func writeFD(fd int, b []byte) (int, error) {
	for {
		n, err := unix.Write(fd, b)
		if !errors.Is(err, unix.EINTR) {
			return n, err
		}
	}
}

// closeFile marks f closed, so that reads and writes return ErrClosed,
// and runs closeFn (which closes the descriptor) once no write is using it.
func (f *fdio) closeFile(closeFn func() error) error {
	f.closed.Store(true)
	f.wmu.Lock()
	defer f.wmu.Unlock()
	return closeFn()
}

// wrapIOErr turns an I/O error into ErrClosed after Close, and otherwise
// names the operation and the interface.
func (f *fdio) wrapIOErr(op string, err error) error {
	if f.closed.Load() || errors.Is(err, os.ErrClosed) {
		return ErrClosed
	}
	return fmt.Errorf("%s %s: %w", op, f.name, err)
}
