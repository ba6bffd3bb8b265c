package config

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Problem is one thing wrong with a configuration, or one warning about it.
type Problem struct {
	File    string // the configuration file (absolute path)
	Key     string // key path such as "peer[1].allowed_ips[0]"; "" when the problem is about the whole file
	Line    int    // 1-based line of Key in File; 0 when unknown
	Message string // what is wrong, then how to fix it
}

// String formats p as "FILE:LINE: KEY: MESSAGE", leaving out the parts that are unknown.
func (p Problem) String() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		if p.Line > 0 {
			fmt.Fprintf(&b, ":%d", p.Line)
		}
		b.WriteString(": ")
	}
	if p.Key != "" {
		b.WriteString(p.Key)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Error is returned by Parse and Load when the configuration is not usable. It holds every problem
// found, ordered by line (problems without a line last), never just the first one.
type Error struct {
	Problems []Problem
}

// Error returns one problem per line, each formatted by Problem.String.
func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// sortProblems orders problems by line, keeping the discovery order among equal lines; problems without
// a line go last.
func sortProblems(ps []Problem) {
	slices.SortStableFunc(ps, func(a, b Problem) int {
		return cmp.Compare(sortLine(a.Line), sortLine(b.Line))
	})
}

func sortLine(line int) int {
	if line <= 0 {
		return int(^uint(0) >> 1)
	}
	return line
}

// report collects problems for one configuration file; the zero value is not usable.
type report struct {
	file  string
	lines lineIndex
	probs []Problem
}

// addf records a problem at key, on the line where key appears.
func (r *report) addf(key, format string, args ...any) {
	r.addAtf(key, key, format, args...)
}

// addAtf records a problem at key, on the line of lineKey (the enclosing table of a missing key, say).
func (r *report) addAtf(key, lineKey, format string, args ...any) {
	r.probs = append(r.probs, Problem{
		File:    r.file,
		Key:     key,
		Line:    r.lines.line(lineKey),
		Message: fmt.Sprintf(format, args...),
	})
}

// has reports whether a problem at key is recorded.
func (r *report) has(key string) bool {
	return slices.ContainsFunc(r.probs, func(p Problem) bool { return p.Key == key })
}

// err returns the collected problems as an *Error, or nil when there are none.
func (r *report) err() error {
	if len(r.probs) == 0 {
		return nil
	}
	ps := slices.Clone(r.probs)
	sortProblems(ps)
	return &Error{Problems: ps}
}
