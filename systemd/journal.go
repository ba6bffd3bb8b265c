package systemd

import (
	"context"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/coreos/go-systemd/v22/journal"
)

// syslogIdentifier is the SYSLOG_IDENTIFIER= of every entry, what
// `journalctl -t tlsvpn` selects on.
const syslogIdentifier = "tlsvpn"

// maxFieldName is the longest field name journald accepts.
const maxFieldName = 64

// NewLogHandler returns the handler a long-running command logs through:
// the journal's native protocol when standard error is connected to the
// journal (JOURNAL_STREAM names it, as under systemd) and the journal's
// socket answers; key=value text on standard error otherwise, which is
// also where a record goes that the journal refused.
func NewLogHandler(level slog.Leveler) slog.Handler {
	text := slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})
	if ok, _ := journal.StderrIsJournalStream(); !ok || !journal.Enabled() {
		return text
	}
	return NewJournalHandler(level, text)
}

// JournalHandler is a slog.Handler that writes each record as one journal
// entry over the journal's native protocol (docs/logging.md): PRIORITY=
// from the level, MESSAGE= the message followed by the attributes as
// key=value text, and each attribute also as a field of its own, its key
// upper-cased with groups joined by '_' (peer → PEER=, a group "tls" with
// key "cipher" → TLS_CIPHER=).
//
// A JournalHandler is immutable and safe for concurrent use; WithAttrs and
// WithGroup return new handlers. A record the journal does not take goes
// to the fallback handler instead.
type JournalHandler struct {
	level    slog.Leveler
	fallback slog.Handler
	send     func(msg string, p journal.Priority, fields map[string]string) error
	group    groupPrefix
	attrs    []journalField // from WithAttrs, flattened
}

// groupPrefix is where the open groups put an attribute: the start of its
// field name ("TLS_") and of its key in the message text ("tls.").
type groupPrefix struct{ field, text string }

// journalField is one flattened attribute.
type journalField struct{ name, key, value string }

// NewJournalHandler returns a handler sending records at level or above
// to the journal, and to fallback those the journal refuses. fallback
// must not be nil.
func NewJournalHandler(level slog.Leveler, fallback slog.Handler) *JournalHandler {
	return &JournalHandler{level: level, fallback: fallback, send: journal.Send}
}

// Enabled reports whether l is at or above the handler's level.
func (h *JournalHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.level.Level()
}

// Handle sends r to the journal, or to the fallback handler when that
// fails.
func (h *JournalHandler) Handle(ctx context.Context, r slog.Record) error {
	fields := make(map[string]string, len(h.attrs)+r.NumAttrs()+1)
	var text strings.Builder
	text.WriteString(r.Message)
	for _, f := range h.attrs {
		f.add(fields, &text)
	}
	r.Attrs(func(a slog.Attr) bool {
		flatten(h.group, a, func(f journalField) { f.add(fields, &text) })
		return true
	})
	fields["SYSLOG_IDENTIFIER"] = syslogIdentifier
	if err := h.send(text.String(), priority(r.Level), fields); err != nil {
		return h.fallback.Handle(ctx, r)
	}
	return nil
}

// WithAttrs returns a handler that adds as to every record.
func (h *JournalHandler) WithAttrs(as []slog.Attr) slog.Handler {
	if len(as) == 0 {
		return h
	}
	h2 := *h
	h2.attrs = h.attrs[:len(h.attrs):len(h.attrs)]
	for _, a := range as {
		flatten(h.group, a, func(f journalField) { h2.attrs = append(h2.attrs, f) })
	}
	h2.fallback = h.fallback.WithAttrs(as)
	return &h2
}

// WithGroup returns a handler that puts the attributes that follow in the
// group name.
func (h *JournalHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.group = h.group.open(name)
	h2.fallback = h.fallback.WithGroup(name)
	return &h2
}

func (g groupPrefix) open(name string) groupPrefix {
	return groupPrefix{field: g.field + fieldChars(name) + "_", text: g.text + name + "."}
}

// flatten calls emit for each attribute a stands for: itself, or the
// members of a group, recursively. Empty attributes and groups are left
// out, and a group with an empty key is inlined, as slog.Handler asks.
func flatten(g groupPrefix, a slog.Attr, emit func(journalField)) {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return
	}
	if a.Value.Kind() == slog.KindGroup {
		if a.Key != "" {
			g = g.open(a.Key)
		}
		for _, m := range a.Value.Group() {
			flatten(g, m, emit)
		}
		return
	}
	emit(journalField{name: fieldName(g.field + fieldChars(a.Key)), key: g.text + a.Key, value: valueText(a.Value)})
}

// add puts f into fields and appends " key=value" to text. Of two
// attributes with one field name the later one wins.
func (f journalField) add(fields map[string]string, text *strings.Builder) {
	fields[f.name] = f.value
	text.WriteByte(' ')
	text.WriteString(f.key)
	text.WriteByte('=')
	if needsQuoting(f.value) {
		text.WriteString(strconv.Quote(f.value))
	} else {
		text.WriteString(f.value)
	}
}

// fieldChars upper-cases s and turns every character journald does not
// allow in a field name (only A-Z, 0-9 and '_') into '_'.
func fieldChars(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case 'a' <= r && r <= 'z':
			return r - 'a' + 'A'
		case 'A' <= r && r <= 'Z', '0' <= r && r <= '9':
			return r
		}
		return '_'
	}, s)
}

// reservedFields are the journal's user fields that mean something to
// journald or journalctl (systemd.journal-fields(7)). An attribute that
// maps to one of them is written as ATTR_<name>, so that it cannot
// replace the message, the priority or the identifier.
var reservedFields = map[string]bool{
	"MESSAGE": true, "MESSAGE_ID": true, "PRIORITY": true, "CODE_FILE": true, "CODE_LINE": true,
	"CODE_FUNC": true, "ERRNO": true, "INVOCATION_ID": true, "USER_INVOCATION_ID": true,
	"SYSLOG_FACILITY": true, "SYSLOG_IDENTIFIER": true, "SYSLOG_PID": true, "SYSLOG_TIMESTAMP": true,
	"SYSLOG_RAW": true, "DOCUMENTATION": true, "TID": true, "UNIT": true, "USER_UNIT": true,
}

// fieldName makes s, already of allowed characters, a name journald
// keeps: no leading '_' (those are journald's own), not starting with a
// digit, not empty, not one of reservedFields, at most 64 characters.
func fieldName(s string) string {
	s = strings.TrimLeft(s, "_")
	if s == "" || ('0' <= s[0] && s[0] <= '9') || reservedFields[s] {
		s = "ATTR_" + s
	}
	return s[:min(len(s), maxFieldName)]
}

// valueText formats v as slog's text handler does, times as RFC 3339.
func valueText(v slog.Value) string {
	if v.Kind() == slog.KindTime {
		return v.Time().Format(time.RFC3339Nano)
	}
	return v.String()
}

// needsQuoting reports whether a value must be quoted in the message text
// to read back as one value: empty, or holding spaces, '=', '"' or
// characters that do not print.
func needsQuoting(s string) bool {
	if s == "" || !utf8.ValidString(s) {
		return true
	}
	return strings.ContainsFunc(s, func(r rune) bool {
		return r == ' ' || r == '=' || r == '"' || !unicode.IsPrint(r)
	})
}

// priority maps a slog level to a syslog priority: debug, info, warning,
// error.
func priority(l slog.Level) journal.Priority {
	switch {
	case l >= slog.LevelError:
		return journal.PriErr
	case l >= slog.LevelWarn:
		return journal.PriWarning
	case l >= slog.LevelInfo:
		return journal.PriInfo
	}
	return journal.PriDebug
}
