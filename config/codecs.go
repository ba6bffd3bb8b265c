package config

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/netparse"
)

// codec turns one decoded TOML value into a T, checking it, and a T back into a TOML value.
type codec[T any] struct {
	typ    string                  // the docs' Type column: "string", "integer", "array of strings", …
	decode func(v value) (T, bool) // false after recording a problem
	encode func(T) (any, bool)     // false: the value is unset and the key is left out
}

// value is one decoded TOML value with where it was found.
type value struct {
	d       *decoder
	key     string // its key path, "peer[1].keepalive"
	name    string // the key's own name, "keepalive"
	example string // a correct line to write instead, `keepalive = "10s"`
	raw     any
	// optional is set when the key may be left out, which the fix for an empty value then says.
	optional bool
}

// problemf records a problem with v.
func (v value) problemf(format string, args ...any) { v.d.r.addf(v.key, format, args...) }

// at returns the value of element i of the array v.
func (v value) at(i int, raw any) value {
	v.key, v.raw = indexKey(v.key, i), raw
	return v
}

// str returns v as a non-empty string.
func (v value) str() (string, bool) {
	s, ok := v.raw.(string)
	switch {
	case !ok:
		v.problemf("is %s, must be a string; write %s", typeName(v.raw), v.example)
		return "", false
	case s == "":
		v.problemf("is empty; write %s%s", v.example, v.orLeaveOut())
		return "", false
	}
	return s, true
}

func (v value) orLeaveOut() string {
	if v.optional {
		return ", or leave the key out"
	}
	return ""
}

// list returns the elements of the non-empty array v.
func (v value) list(what string) ([]any, bool) {
	list, ok := v.raw.([]any)
	switch {
	case !ok:
		v.problemf("is %s, must be %s; write %s", typeName(v.raw), what, v.example)
		return nil, false
	case len(list) == 0:
		v.problemf("is empty; list at least one, like %s%s", v.example, v.orLeaveOut())
		return nil, false
	}
	return list, true
}

// each decodes every element of the array v with one, keeping the good ones and where they were.
func each[T any](v value, one func(value) (T, bool)) ([]T, bool) {
	list, ok := v.list("an array of strings")
	if !ok {
		return nil, false
	}
	var out []T
	var pos []int
	for i, raw := range list {
		if x, ok := one(v.at(i, raw)); ok {
			out, pos = append(out, x), append(pos, i)
		}
	}
	v.d.positions[v.key] = pos
	return out, len(out) > 0
}

// text is a codec of a string checked by check, which returns "" or what is wrong and how to fix it.
func text(check func(string) string) codec[string] {
	return rewrite(func(s string) (string, string) { return s, check(s) })
}

// rewrite is a codec of a string that parse checks and may put in a canonical form; parse returns the
// form to keep, or what is wrong and how to fix it.
func rewrite(parse func(string) (string, string)) codec[string] {
	return codec[string]{
		typ: "string",
		decode: func(v value) (string, bool) {
			s, ok := v.str()
			if !ok {
				return "", false
			}
			s, why := parse(s)
			if why != "" {
				v.problemf("%s", why)
				return "", false
			}
			return s, true
		},
		encode: encodeString,
	}
}

func encodeString(s string) (any, bool) { return s, s != "" }

// choice is a codec of one of a few words.
func choice(words ...string) codec[string] {
	return codec[string]{
		typ: "string",
		decode: func(v value) (string, bool) {
			s, ok := v.str()
			if ok && !slices.Contains(words, s) {
				v.problemf("%q is not a valid value; write %s = %s", s, v.name, orList(words))
				return "", false
			}
			return s, ok
		},
		encode: encodeString,
	}
}

// orList quotes words as `"a", "b" or "c"`.
func orList(words []string) string {
	quoted := make([]string, len(words))
	for i, w := range words {
		quoted[i] = fmt.Sprintf("%q", w)
	}
	if len(quoted) == 1 {
		return quoted[0]
	}
	return strings.Join(quoted[:len(quoted)-1], ", ") + " or " + quoted[len(quoted)-1]
}

// identity is the codec of a node's name: a DNS name, kept lower-case (names compare without case).
var identity = rewrite(func(s string) (string, string) {
	if err := netparse.NodeName(s); err != nil {
		return "", err.Error()
	}
	return netparse.CanonicalName(s), ""
})

// file is the codec of a path, made absolute against the configuration file's folder.
var file = codec[string]{
	typ:    "path",
	decode: decodePath,
	encode: encodeString,
}

func decodePath(v value) (string, bool) {
	p, ok := v.str()
	if !ok {
		return "", false
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(v.d.dir, p)
	}
	return filepath.Clean(p), true
}

// files is the codec of one path or an array of paths.
var files = codec[[]string]{
	typ: "path or array of paths",
	decode: func(v value) ([]string, bool) {
		if _, ok := v.raw.(string); ok {
			p, ok := decodePath(v)
			return []string{p}, ok
		}
		if _, ok := v.raw.([]any); !ok {
			v.problemf("is %s, must be a string or an array of strings; write %s", typeName(v.raw), v.example)
			return nil, false
		}
		return each(v, decodePath)
	},
	encode: func(ps []string) (any, bool) { return ps, len(ps) > 0 },
}

// integer is the codec of a whole number from min to max.
func integer(min, max int) codec[int] {
	return codec[int]{
		typ: "integer",
		decode: func(v value) (int, bool) {
			n, ok := v.raw.(int64)
			switch {
			case !ok:
				v.problemf("is %s, must be an integer; write %s", typeName(v.raw), v.example)
				return 0, false
			case n < int64(min) || n > int64(max):
				v.problemf("%d is outside %d-%d; write a value in that range (%s is the default)", n, min, max, v.example)
				return 0, false
			}
			return int(n), true
		},
		encode: func(n int) (any, bool) { return int64(n), true },
	}
}

// boolean is the codec of true or false.
var boolean = codec[bool]{
	typ: "boolean",
	decode: func(v value) (bool, bool) {
		b, ok := v.raw.(bool)
		if !ok {
			v.problemf("is %s, must be true or false; write %s", typeName(v.raw), v.example)
		}
		return b, ok
	},
	encode: func(b bool) (any, bool) { return b, true },
}

// duration is the codec of a duration of at least min, written as a Go duration ("1m30s") or whole
// days ("21d").
func duration(min time.Duration) codec[time.Duration] {
	return codec[time.Duration]{
		typ: "duration string",
		decode: func(v value) (time.Duration, bool) {
			s, ok := v.str()
			if !ok {
				return 0, false
			}
			d, err := parseDuration(s)
			switch {
			case err != nil:
				v.problemf("%q is not a duration; write a number with a unit (ms, s, m, h, d), like %s", s, v.example)
				return 0, false
			case d < 0 && min == 0:
				v.problemf("%s is negative; write a duration like %s, or \"0s\"", s, v.example)
				return 0, false
			case d < min:
				v.problemf("%s is shorter than %s; write at least %q (%s is the default)", s, formatDuration(min), formatDuration(min), v.example)
				return 0, false
			}
			return d, true
		},
		encode: func(d time.Duration) (any, bool) { return formatDuration(d), true },
	}
}

// maxDays bounds a duration written in days.
const maxDays = 36500

// parseDuration is time.ParseDuration plus whole days ("21d").
func parseDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := parseDays(days)
		if err != nil {
			return 0, err
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

func parseDays(s string) (int, error) {
	n := 0
	if s == "" || len(s) > 5 {
		return 0, fmt.Errorf("bad number of days %q", s)
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("bad number of days %q", s)
		}
		n = n*10 + int(c-'0')
	}
	if n > maxDays {
		return 0, fmt.Errorf("more than %d days", maxDays)
	}
	return n, nil
}

// formatDuration writes d the shortest way parseDuration reads back: whole days as "21d", else Go's
// form without zero minutes and seconds ("1h", "1h30m", "10s", "500ms").
func formatDuration(d time.Duration) string {
	const day = 24 * time.Hour
	if d >= day && d%day == 0 {
		return fmt.Sprintf("%dd", d/day)
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// stringList is the codec of an array of strings, each read by parse, which returns the value or what
// is wrong and how to fix it; format writes a value back.
func stringList[T any](parse func(string) (T, string), format func(T) string) codec[[]T] {
	return codec[[]T]{
		typ: "array of strings",
		decode: func(v value) ([]T, bool) {
			return each(v, func(v value) (T, bool) {
				var x T
				s, ok := v.str()
				if !ok {
					return x, false
				}
				x, why := parse(s)
				if why != "" {
					v.problemf("%s", why)
					return x, false
				}
				return x, true
			})
		},
		encode: func(values []T) (any, bool) {
			out := make([]string, len(values))
			for i, x := range values {
				out[i] = format(x)
			}
			return out, len(out) > 0
		},
	}
}

// prefix reads one address prefix; hostBits allows bits beyond the length (interface addresses);
// example is a correct prefix for the fix.
func prefix(v value, hostBits bool, example string) (netip.Prefix, bool) {
	s, ok := v.str()
	if !ok {
		return netip.Prefix{}, false
	}
	p, err := netparse.Prefix(s, hostBits, example)
	if err != nil {
		v.problemf("%v", err)
		return netip.Prefix{}, false
	}
	return p, true
}
