package systemd

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-systemd/v22/journal"
)

// entry is what the handler handed to the journal for one record.
type entry struct {
	msg    string
	pri    journal.Priority
	fields map[string]string
}

// capture returns a handler at level whose entries land in the returned
// slice, each answered with sendErr, and whose fallback writes text into
// the returned buffer.
func capture(level slog.Level, sendErr error) (*JournalHandler, *[]entry, *bytes.Buffer) {
	var got []entry
	var fallback bytes.Buffer
	h := NewJournalHandler(level, slog.NewTextHandler(&fallback, nil))
	h.send = func(msg string, p journal.Priority, fields map[string]string) error {
		got = append(got, entry{msg, p, maps.Clone(fields)})
		return sendErr
	}
	return h, &got, &fallback
}

type addrValuer struct{ host, port string }

func (a addrValuer) LogValue() slog.Value { return slog.StringValue(a.host + ":" + a.port) }

func TestJournalHandlerEntries(t *testing.T) {
	stamp := time.Date(2026, 11, 27, 7, 13, 51, 0, time.UTC)
	tests := []struct {
		name   string
		log    func(*slog.Logger)
		pri    journal.Priority
		msg    string
		fields map[string]string // beyond SYSLOG_IDENTIFIER=tlsvpn
	}{
		{"the vocabulary's fields become upper-case journal fields",
			func(l *slog.Logger) {
				l.Warn("handshake refused", "remote", "198.18.0.2:40000", "reason", "unknown authority", "peer", "office-b")
			},
			journal.PriWarning, `handshake refused remote=198.18.0.2:40000 reason="unknown authority" peer=office-b`,
			map[string]string{"REMOTE": "198.18.0.2:40000", "REASON": "unknown authority", "PEER": "office-b"}},
		{"debug maps to debug",
			func(l *slog.Logger) { l.Debug("tick") }, journal.PriDebug, "tick", nil},
		{"info maps to info",
			func(l *slog.Logger) { l.Info("node up") }, journal.PriInfo, "node up", nil},
		{"error maps to err",
			func(l *slog.Logger) { l.Error("reload failed", "err", errors.New("open x.toml: no such file")) },
			journal.PriErr, `reload failed err="open x.toml: no such file"`,
			map[string]string{"ERR": "open x.toml: no such file"}},
		{"a level between info and warn stays info",
			func(l *slog.Logger) { l.Log(context.Background(), slog.LevelInfo+2, "notice") }, journal.PriInfo, "notice", nil},
		{"levels above error are still err",
			func(l *slog.Logger) { l.Log(context.Background(), slog.LevelError+4, "worse") }, journal.PriErr, "worse", nil},
		{"groups are flattened with underscores, and dotted in the text",
			func(l *slog.Logger) {
				l.WithGroup("tls").With("version", "1.3").Info("peer connected", slog.Group("cipher", "suite", "TLS_AES_128_GCM_SHA256"))
			},
			journal.PriInfo, "peer connected tls.version=1.3 tls.cipher.suite=TLS_AES_128_GCM_SHA256",
			map[string]string{"TLS_VERSION": "1.3", "TLS_CIPHER_SUITE": "TLS_AES_128_GCM_SHA256"}},
		{"attributes added before a group stay outside it",
			func(l *slog.Logger) { l.With("peer", "office-b").WithGroup("rx").Info("counters", "bytes", 1500) },
			journal.PriInfo, "counters peer=office-b rx.bytes=1500",
			map[string]string{"PEER": "office-b", "RX_BYTES": "1500"}},
		{"characters a field name cannot hold become underscores",
			func(l *slog.Logger) { l.Info("odd keys", "retry-in", "2s", "tx.bytes", 3, "größe", 1) },
			journal.PriInfo, "odd keys retry-in=2s tx.bytes=3 größe=1",
			map[string]string{"RETRY_IN": "2s", "TX_BYTES": "3", "GR__E": "1"}},
		{"a leading underscore is dropped and a leading digit prefixed",
			func(l *slog.Logger) { l.Info("odd keys", "_pid", 1, "1st", "a") },
			journal.PriInfo, "odd keys _pid=1 1st=a",
			map[string]string{"PID": "1", "ATTR_1ST": "a"}},
		{"an attribute cannot replace the message, priority or identifier",
			func(l *slog.Logger) { l.Info("real", "message", "fake", "priority", 0, "syslog_identifier", "sshd") },
			journal.PriInfo, "real message=fake priority=0 syslog_identifier=sshd",
			map[string]string{"ATTR_MESSAGE": "fake", "ATTR_PRIORITY": "0", "ATTR_SYSLOG_IDENTIFIER": "sshd"}},
		{"a field name is cut at 64 characters",
			func(l *slog.Logger) { l.Info("long", strings.Repeat("k", 70), "v") },
			journal.PriInfo, "long " + strings.Repeat("k", 70) + "=v",
			map[string]string{strings.Repeat("K", 64): "v"}},
		{"values are resolved and formatted like slog's text",
			func(l *slog.Logger) {
				l.Info("values", "remote", addrValuer{"198.18.0.1", "443"}, "retry_in", 1500*time.Millisecond,
					"at", stamp, "dialed", true, "ratio", 0.5)
			},
			journal.PriInfo, "values remote=198.18.0.1:443 retry_in=1.5s at=2026-11-27T07:13:51Z dialed=true ratio=0.5",
			map[string]string{"REMOTE": "198.18.0.1:443", "RETRY_IN": "1.5s", "AT": "2026-11-27T07:13:51Z",
				"DIALED": "true", "RATIO": "0.5"}},
		{"empty attributes and empty groups are left out, a group without a key is inlined",
			func(l *slog.Logger) {
				l.WithGroup("unused").Info("sparse", slog.Attr{}, slog.Group("none"), slog.Group("", "peer", "a"))
			},
			journal.PriInfo, "sparse unused.peer=a", map[string]string{"UNUSED_PEER": "a"}},
		{"values with spaces, quotes, newlines or nothing are quoted in the text, kept raw in the field",
			func(l *slog.Logger) { l.Info("quoting", "detail", "line one\nline \"two\"", "key", "") },
			journal.PriInfo, `quoting detail="line one\nline \"two\"" key=""`,
			map[string]string{"DETAIL": "line one\nline \"two\"", "KEY": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, got, fallback := capture(slog.LevelDebug, nil)
			tt.log(slog.New(h))
			if len(*got) != 1 {
				t.Fatalf("got %d entries, want 1", len(*got))
			}
			e := (*got)[0]
			if e.msg != tt.msg || e.pri != tt.pri {
				t.Errorf("MESSAGE=%q PRIORITY=%d, want %q %d", e.msg, e.pri, tt.msg, tt.pri)
			}
			want := maps.Clone(tt.fields)
			if want == nil {
				want = map[string]string{}
			}
			want["SYSLOG_IDENTIFIER"] = "tlsvpn"
			if !maps.Equal(e.fields, want) {
				t.Errorf("fields %q, want %q", e.fields, want)
			}
			if fallback.Len() != 0 {
				t.Errorf("the fallback was written although the journal took the entry: %s", fallback)
			}
		})
	}
}

func TestJournalHandlerDropsRecordsBelowItsLevel(t *testing.T) {
	h, got, _ := capture(slog.LevelWarn, nil)
	l := slog.New(h)
	l.Info("quiet")
	l.Warn("loud")
	if len(*got) != 1 || (*got)[0].msg != "loud" {
		t.Errorf("entries %v, want only the warning", *got)
	}
}

func TestJournalHandlerFallsBackToTextWhenTheJournalRefuses(t *testing.T) {
	h, got, fallback := capture(slog.LevelDebug, errors.New("journal gone"))
	slog.New(h).With("peer", "office-b").WithGroup("tls").Warn("handshake refused", "reason", "expired")
	if len(*got) != 1 {
		t.Fatalf("the journal was tried %d times, want once", len(*got))
	}
	out := fallback.String()
	for _, want := range []string{"level=WARN", `msg="handshake refused"`, "peer=office-b", "tls.reason=expired"} {
		if !strings.Contains(out, want) {
			t.Errorf("fallback text %q lacks %s", out, want)
		}
	}
}

func TestJournalHandlerWithAttrsDoesNotLeakBetweenChildren(t *testing.T) {
	h, got, _ := capture(slog.LevelDebug, nil)
	base := slog.New(h).With("peer", "a")
	base.With("remote", "r1").Info("one")
	base.With("endpoint", "e2").Info("two")
	if len(*got) != 2 {
		t.Fatalf("got %d entries", len(*got))
	}
	if _, ok := (*got)[1].fields["REMOTE"]; ok {
		t.Errorf("the second child sees the first child's attribute: %v", (*got)[1].fields)
	}
	if (*got)[1].msg != "two peer=a endpoint=e2" {
		t.Errorf("second message %q", (*got)[1].msg)
	}
}
