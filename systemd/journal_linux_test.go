package systemd

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// journalChildEnv marks the copy of the test binary that runs inside a
// mount namespace of its own.
const journalChildEnv = "TLSVPN_TEST_JOURNAL_CHILD"

// journalSocket is where go-systemd sends entries; the child mounts a
// tmpfs over its folder and listens there itself.
const journalSocket = "/run/systemd/journal/socket"

// inJournalNamespace runs the calling test again in a child process with
// a private mount namespace, where it may hide the host's journal behind
// a fake one, and reports the child's verdict. It returns true in the
// child, which then runs the test's body; false in the parent.
func inJournalNamespace(t *testing.T) bool {
	t.Helper()
	if os.Getenv(journalChildEnv) != "" {
		return true
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root for a private mount namespace")
	}
	// Not -test.v: the child's result lines would count twice in logs.
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), journalChildEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	out, err := cmd.CombinedOutput()
	t.Logf("child in a private mount namespace:\n%s", out)
	if err != nil {
		t.Fatalf("child: %v", err)
	}
	if strings.Contains(string(out), "no tests to run") || !strings.HasSuffix(string(out), "PASS\n") {
		t.Fatalf("the child did not run %s", t.Name())
	}
	return false
}

// fakeJournal listens on the journal's socket path for entries; the
// test's cleanup closes it.
type fakeJournal struct{ conn *net.UnixConn }

func listenJournal(t *testing.T) *fakeJournal {
	t.Helper()
	dir := filepath.Dir(journalSocket)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "mode=0755"); err != nil {
		t.Fatalf("mount a tmpfs over %s: %v", dir, err)
	}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: journalSocket, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &fakeJournal{conn}
}

// next reads one entry, from the datagram or from the file descriptor
// passed with it (how a client sends entries too large for a datagram),
// and says which.
func (j *fakeJournal) next(t *testing.T) (fields map[string]string, passed bool) {
	t.Helper()
	j.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf, oob := make([]byte, 1<<20), make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := j.conn.ReadMsgUnix(buf, oob)
	if err != nil {
		t.Fatalf("read an entry: %v", err)
	}
	data := buf[:n]
	if oobn > 0 {
		data = readPassedFile(t, oob[:oobn])
	}
	fields, err = parseNative(data)
	if err != nil {
		t.Fatalf("entry %q: %v", data, err)
	}
	return fields, oobn > 0
}

func readPassedFile(t *testing.T, oob []byte) []byte {
	t.Helper()
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("control message: %v", err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		t.Fatalf("passed descriptors %v: %v", fds, err)
	}
	f := os.NewFile(uintptr(fds[0]), "entry")
	defer f.Close()
	// The sender's writes left the offset at the end: read from the start.
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, st.Size())
	if _, err := f.ReadAt(b, 0); err != nil {
		t.Fatalf("read the passed entry: %v", err)
	}
	return b
}

// parseNative parses an entry of the journal's native protocol: lines
// NAME=value, or NAME, a little-endian 64-bit length, the value and a
// newline for values holding newlines.
func parseNative(b []byte) (map[string]string, error) {
	fields := map[string]string{}
	for len(b) > 0 {
		nl := bytes.IndexByte(b, '\n')
		if nl < 0 {
			return nil, errors.New("unterminated line")
		}
		line := b[:nl]
		if name, value, ok := bytes.Cut(line, []byte("=")); ok {
			fields[string(name)] = string(value)
			b = b[nl+1:]
			continue
		}
		rest := b[nl+1:]
		if len(rest) < 8 {
			return nil, fmt.Errorf("field %s: no length", line)
		}
		size := binary.LittleEndian.Uint64(rest)
		if uint64(len(rest)-8) < size+1 || rest[8+size] != '\n' {
			return nil, fmt.Errorf("field %s: bad length %d", line, size)
		}
		fields[string(line)] = string(rest[8 : 8+size])
		b = rest[8+size+1:]
	}
	return fields, nil
}

func TestJournalHandlerRoundTripsThroughTheJournalSocket(t *testing.T) {
	if !inJournalNamespace(t) {
		return
	}
	j := listenJournal(t)
	var fallback bytes.Buffer
	log := slog.New(NewJournalHandler(slog.LevelInfo, slog.NewTextHandler(&fallback, nil)))

	log.With("peer", "office-b").WithGroup("tls").Warn("handshake refused",
		"remote", "198.18.0.2:40000", "reason", "unknown authority", "detail", "line one\nline two")
	got, _ := j.next(t)
	want := map[string]string{
		"MESSAGE":           `handshake refused peer=office-b tls.remote=198.18.0.2:40000 tls.reason="unknown authority" tls.detail="line one\nline two"`,
		"PRIORITY":          "4",
		"SYSLOG_IDENTIFIER": "tlsvpn",
		"PEER":              "office-b",
		"TLS_REMOTE":        "198.18.0.2:40000",
		"TLS_REASON":        "unknown authority",
		"TLS_DETAIL":        "line one\nline two",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s=%q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("entry %q has fields beyond %q", got, want)
	}

	// Larger than a datagram may be: go-systemd passes a file instead.
	big := strings.Repeat("x", 512<<10)
	log.Info("big", "detail", big)
	got, passed := j.next(t)
	if !passed || got["DETAIL"] != big || got["PRIORITY"] != "6" {
		t.Errorf("the large entry arrived with DETAIL of %d bytes, PRIORITY=%q, in a passed file: %v",
			len(got["DETAIL"]), got["PRIORITY"], passed)
	}
	if fallback.Len() != 0 {
		t.Errorf("the fallback was used: %s", fallback.String())
	}
}

func TestNewLogHandlerChoosesTheJournalOnlyWhenStderrIsItsStream(t *testing.T) {
	if !inJournalNamespace(t) {
		return
	}
	listenJournal(t)
	var st unix.Stat_t
	if err := unix.Fstat(2, &st); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, stream string
		journal      bool
	}{
		{"stderr connected to the journal", fmt.Sprintf("%d:%d", st.Dev, st.Ino), true},
		{"another stream of the journal", fmt.Sprintf("%d:%d", st.Dev, st.Ino+1), false},
		{"no journal stream (a terminal, a pipe)", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("JOURNAL_STREAM", tt.stream)
			_, isJournal := NewLogHandler(slog.LevelInfo).(*JournalHandler)
			if isJournal != tt.journal {
				t.Errorf("JOURNAL_STREAM=%q: journal handler %v, want %v", tt.stream, isJournal, tt.journal)
			}
		})
	}
	t.Run("stderr is the stream but the journal's socket is gone", func(t *testing.T) {
		t.Setenv("JOURNAL_STREAM", fmt.Sprintf("%d:%d", st.Dev, st.Ino))
		if err := os.Remove(journalSocket); err != nil {
			t.Fatal(err)
		}
		if _, isJournal := NewLogHandler(slog.LevelInfo).(*JournalHandler); isJournal {
			t.Error("chose the journal although nothing listens on its socket")
		}
	})
}
