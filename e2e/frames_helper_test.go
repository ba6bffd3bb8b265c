package e2e

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// Helper modes for layer 2 (TAP mode), over AF_PACKET sockets: frames no
// IP tool makes, and a count of what arrives.
//
//	frames IFACE SRC COUNT TAG   send COUNT broadcast frames of EtherType
//	                             etherTypeTest from IFACE, payload
//	                             framePrefix+TAG; SRC is their source MAC,
//	                             or "seq" for 02:bb:00:00:HH:LL with HHLL
//	                             the frame's index; print "sent N"
//	capture IFACE TAG SECONDS    count, for SECONDS, the frames IFACE
//	                             receives (not those it sends) whose payload
//	                             starts with framePrefix+TAG; print "ready"
//	                             once listening, then "captured N"

// etherTypeTest is IEEE 802's EtherType for local experiments: no stack
// on the test hosts handles it.
const etherTypeTest = 0x88b5

// framePrefix starts the payload of every test frame.
const framePrefix = "tlsvpn-e2e "

// frameBurst frames are sent back to back, then the sender pauses for
// framePause: the TAP's transmit queue is not overrun.
const (
	frameBurst = 50
	framePause = 5 * time.Millisecond
)

// packetSocket opens an AF_PACKET socket bound to iface for every
// EtherType.
func packetSocket(iface string) (int, error) {
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return -1, err
	}
	proto := htons(unix.ETH_P_ALL)
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(proto))
	if err != nil {
		return -1, fmt.Errorf("AF_PACKET socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: proto, Ifindex: ifi.Index}); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("bind to %s: %w", iface, err)
	}
	return fd, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// sendFrames is the frames mode.
func sendFrames(iface, src, count, tag string) error {
	n, err := strconv.Atoi(count)
	if err != nil || n < 1 || n > 1<<16 {
		return fmt.Errorf("count %q: want 1 to 65536", count)
	}
	var mac net.HardwareAddr
	if src != "seq" {
		if mac, err = net.ParseMAC(src); err != nil {
			return err
		}
	}
	fd, err := packetSocket(iface)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	for i := range n {
		from := mac
		if from == nil {
			from = net.HardwareAddr{0x02, 0xbb, 0, 0, byte(i >> 8), byte(i)}
		}
		f := append(bytes.Repeat([]byte{0xff}, 6), from...)
		f = binary.BigEndian.AppendUint16(f, etherTypeTest)
		f = append(f, framePrefix+tag+" "+strconv.Itoa(i)...)
		if _, err := unix.Write(fd, f); err != nil {
			return fmt.Errorf("send frame %d: %w", i, err)
		}
		if i%frameBurst == frameBurst-1 {
			time.Sleep(framePause)
		}
	}
	fmt.Printf("sent %d\n", n)
	return nil
}

// capture is the capture mode.
func capture(iface, tag, seconds string) error {
	s, err := strconv.Atoi(seconds)
	if err != nil || s < 1 || s > 60 {
		return fmt.Errorf("seconds %q: want 1 to 60", seconds)
	}
	fd, err := packetSocket(iface)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	tv := unix.NsecToTimeval(int64(100 * time.Millisecond))
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return err
	}
	fmt.Println(helperReady)
	want := []byte(framePrefix + tag + " ")
	buf := make([]byte, 1<<16)
	count := 0
	for end := time.Now().Add(time.Duration(s) * time.Second); time.Now().Before(end); {
		n, from, err := unix.Recvfrom(fd, buf, 0)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return err
		}
		ll, ok := from.(*unix.SockaddrLinklayer)
		f := buf[:n]
		if ok && ll.Pkttype != unix.PACKET_OUTGOING && n > 14 &&
			binary.BigEndian.Uint16(f[12:]) == etherTypeTest && bytes.HasPrefix(f[14:], want) {
			count++
		}
	}
	fmt.Printf("captured %d\n", count)
	return nil
}
