package config

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// lineIndex maps key paths as they appear in problems ("tls.ca", "peer[1]", "peer[1].allowed_ips[2]") to
// the 1-based line where the key, the table header or the array element starts.
//
// BurntSushi/toml keeps key positions to itself, so indexLines runs a small scanner of its own over the
// text that the TOML parser has already accepted. It follows table headers, [[array]] occurrences, dotted
// and quoted keys, inline tables, arrays spanning lines and multi-line strings. When it meets anything it
// does not understand it stops and keeps what it has: a key it did not reach has no line (0), never a
// wrong one.
type lineIndex map[string]int

// line returns the line of key, or 0 when it is not known. An array of tables ([[name]] sections) has
// no line of its own: it is reported on the line of its first element.
func (ix lineIndex) line(key string) int {
	if n, ok := ix[key]; ok {
		return n
	}
	return ix[key+"[0]"]
}

// indexLines builds the line index of a TOML document. It never panics and always terminates: every
// step either consumes input or stops the scan.
func indexLines(src []byte) lineIndex {
	s := &lineScanner{src: src, index: lineIndex{}, arrays: map[string]int{}}
	for i, c := range src {
		if c == '\n' {
			s.newlines = append(s.newlines, i)
		}
	}
	s.run()
	return s.index
}

type lineScanner struct {
	src      []byte
	pos      int
	newlines []int          // offsets of '\n'
	index    lineIndex      // the result
	arrays   map[string]int // [[array]] path -> index of its latest element
	table    string         // path of the current table ("" at the root)
	failed   bool
}

func (s *lineScanner) run() {
	for !s.failed {
		s.skipBlank()
		if s.eof() {
			return
		}
		if s.peek() == '[' {
			s.header()
		} else {
			s.keyval(s.table)
		}
		s.skipSpace()
		s.skipComment()
		if !s.eof() && s.peek() != '\n' {
			s.failed = true
		}
	}
}

func (s *lineScanner) eof() bool { return s.pos >= len(s.src) }

func (s *lineScanner) peek() byte { return s.at(s.pos) }

func (s *lineScanner) at(i int) byte {
	if i < 0 || i >= len(s.src) {
		return 0
	}
	return s.src[i]
}

func (s *lineScanner) hasPrefix(p string) bool {
	if s.pos+len(p) > len(s.src) {
		return false
	}
	return string(s.src[s.pos:s.pos+len(p)]) == p
}

// lineAt returns the 1-based line of byte offset pos.
func (s *lineScanner) lineAt(pos int) int {
	return sort.SearchInts(s.newlines, pos) + 1
}

// record notes the line of path unless an earlier line is already known.
func (s *lineScanner) record(path string, pos int) {
	if _, ok := s.index[path]; !ok {
		s.index[path] = s.lineAt(pos)
	}
}

func (s *lineScanner) skipSpace() {
	for c := s.peek(); c == ' ' || c == '\t' || c == '\r'; c = s.peek() {
		s.pos++
	}
}

func (s *lineScanner) skipComment() {
	if s.peek() != '#' {
		return
	}
	for !s.eof() && s.peek() != '\n' {
		s.pos++
	}
}

// skipBlank skips white space, newlines and comments.
func (s *lineScanner) skipBlank() {
	for !s.eof() {
		switch s.peek() {
		case ' ', '\t', '\r', '\n':
			s.pos++
		case '#':
			s.skipComment()
		default:
			return
		}
	}
}

// header reads "[a.b]" or "[[a.b]]" and makes it the current table.
func (s *lineScanner) header() {
	start := s.pos
	array := s.at(s.pos+1) == '['
	s.pos++
	if array {
		s.pos++
	}
	parts := s.keyParts()
	s.skipSpace()
	closing := "]"
	if array {
		closing = "]]"
	}
	if s.failed || len(parts) == 0 || !s.hasPrefix(closing) {
		s.failed = true
		return
	}
	s.pos += len(closing)
	if !array {
		s.table = s.resolve(parts)
		s.record(s.table, start)
		return
	}
	full := joinKey(s.resolve(parts[:len(parts)-1]), keyPart(parts[len(parts)-1]))
	n, seen := s.arrays[full]
	if seen {
		n++
	}
	s.arrays[full] = n
	s.table = fmt.Sprintf("%s[%d]", full, n)
	s.record(s.table, start)
}

// resolve turns header key parts into a path, adding the index of the latest element of every [[array]]
// on the way ("peer.x" after the second [[peer]] is "peer[1].x").
func (s *lineScanner) resolve(parts []string) string {
	p := ""
	for _, part := range parts {
		p = joinKey(p, keyPart(part))
		if n, ok := s.arrays[p]; ok {
			p = fmt.Sprintf("%s[%d]", p, n)
		}
	}
	return p
}

// keyval reads "key = value" inside the table at prefix.
func (s *lineScanner) keyval(prefix string) {
	start := s.pos
	parts := s.keyParts()
	s.skipSpace()
	if s.failed || len(parts) == 0 || s.peek() != '=' {
		s.failed = true
		return
	}
	s.pos++
	s.skipSpace()
	path := prefix
	for _, part := range parts {
		path = joinKey(path, keyPart(part))
		s.record(path, start)
	}
	s.value(path)
}

// keyParts reads a possibly dotted, possibly quoted key.
func (s *lineScanner) keyParts() []string {
	var parts []string
	for !s.failed {
		s.skipSpace()
		var part string
		switch c := s.peek(); {
		case c == '"':
			part = unquoteKey(s.basicString())
			if strings.Contains(part, `\`) {
				s.failed = true // an escape Go does not know; better no line than a wrong one
			}
		case c == '\'':
			part = s.literalString()
		case isBareKeyChar(c):
			begin := s.pos
			for isBareKeyChar(s.peek()) {
				s.pos++
			}
			part = string(s.src[begin:s.pos])
		default:
			s.failed = true
			return nil
		}
		parts = append(parts, part)
		s.skipSpace()
		if s.peek() != '.' {
			return parts
		}
		s.pos++
	}
	return nil
}

// value skips one value, recording the lines of array elements and inline-table keys below path.
func (s *lineScanner) value(path string) {
	switch {
	case s.hasPrefix(`"""`):
		s.multiline(`"""`, true)
	case s.hasPrefix(`'''`):
		s.multiline(`'''`, false)
	case s.peek() == '"':
		s.basicString()
	case s.peek() == '\'':
		s.literalString()
	case s.peek() == '[':
		s.array(path)
	case s.peek() == '{':
		s.inlineTable(path)
	default:
		s.scalar()
	}
}

func (s *lineScanner) array(path string) {
	s.pos++
	for i := 0; !s.failed; i++ {
		s.skipBlank()
		if s.peek() == ']' {
			s.pos++
			return
		}
		if s.eof() {
			break
		}
		elem := fmt.Sprintf("%s[%d]", path, i)
		s.record(elem, s.pos)
		s.value(elem)
		s.skipBlank()
		switch s.peek() {
		case ',':
			s.pos++
		case ']':
			s.pos++
			return
		default:
			s.failed = true
		}
	}
	s.failed = true
}

func (s *lineScanner) inlineTable(path string) {
	s.pos++
	for !s.failed {
		s.skipBlank()
		if s.peek() == '}' {
			s.pos++
			return
		}
		s.keyval(path)
		s.skipBlank()
		switch s.peek() {
		case ',':
			s.pos++
		case '}':
			s.pos++
			return
		default:
			s.failed = true
		}
	}
}

// scalar skips a number, boolean or date-time (which may contain a space).
func (s *lineScanner) scalar() {
	begin := s.pos
	for !s.eof() && !strings.ContainsRune(",]}#\n", rune(s.peek())) {
		s.pos++
	}
	if s.pos == begin {
		s.failed = true
	}
}

// basicString reads a one-line "..." string and returns its text between the quotes, escapes as written.
func (s *lineScanner) basicString() string {
	s.pos++
	begin := s.pos
	for !s.eof() {
		switch s.peek() {
		case '\\':
			s.pos += 2
		case '\n':
			s.failed = true
			return ""
		case '"':
			raw := string(s.src[begin:s.pos])
			s.pos++
			return raw
		default:
			s.pos++
		}
	}
	s.failed = true
	return ""
}

// unquoteKey resolves the escapes of a quoted key; it returns raw unchanged when it has none or when Go
// does not know one of them.
func unquoteKey(raw string) string {
	if !strings.Contains(raw, `\`) {
		return raw
	}
	if v, err := strconv.Unquote(`"` + raw + `"`); err == nil {
		return v
	}
	return raw
}

// literalString reads a one-line '...' string and returns its value.
func (s *lineScanner) literalString() string {
	s.pos++
	begin := s.pos
	for !s.eof() {
		switch s.peek() {
		case '\n':
			s.failed = true
			return ""
		case '\'':
			v := string(s.src[begin:s.pos])
			s.pos++
			return v
		default:
			s.pos++
		}
	}
	s.failed = true
	return ""
}

// multiline skips a multi-line string opened by delim (three double or three single quotes); up to two
// extra quote characters may end it.
func (s *lineScanner) multiline(delim string, escapes bool) {
	s.pos += len(delim)
	for !s.eof() {
		switch {
		case escapes && s.peek() == '\\':
			s.pos += 2
		case s.hasPrefix(delim):
			s.pos += len(delim)
			for extra := 0; extra < 2 && s.peek() == delim[0]; extra++ {
				s.pos++
			}
			return
		default:
			s.pos++
		}
	}
	s.failed = true
}

func isBareKeyChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// keyPart returns a key name as it appears in a key path: bare when it can be, quoted otherwise.
func keyPart(name string) string {
	if name == "" {
		return `""`
	}
	for i := 0; i < len(name); i++ {
		if !isBareKeyChar(name[i]) {
			return strconv.Quote(name)
		}
	}
	return name
}

// joinKey appends name to the key path prefix.
func joinKey(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}
