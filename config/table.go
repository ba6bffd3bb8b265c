package config

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// table is one decoded TOML table together with its key path, so that every value read from it can be
// reported by path. m is nil for a table the file leaves out.
type table struct {
	d    *decoder
	path string // "" for the root, "tls", "peer[1]"
	m    map[string]any
}

// key returns the path of the key name inside t.
func (t *table) key(name string) string { return joinKey(t.path, keyPart(name)) }

// where describes t for messages: "at the top of the file", "under [tls]", "under this [[peer]]".
func (t *table) where() string {
	switch {
	case t.path == "":
		return "at the top of the file"
	case strings.HasSuffix(t.path, "]"):
		return "under this [[" + t.path[:strings.LastIndexByte(t.path, '[')] + "]]"
	default:
		return "under [" + t.path + "]"
	}
}

// missing records that a required key is absent; example shows the line to add. The problem is
// reported on the line of t's header.
func (t *table) missing(name, example string) {
	t.missingBecause(name, example, "")
}

// missingBecause is missing for a key that only some nodes need; why says why this one does.
func (t *table) missingBecause(name, example, why string) {
	if why != "" {
		why = " (" + why + ")"
	}
	t.d.r.addAtf(t.key(name), t.path, "missing; add %s %s%s", example, t.where(), why)
}

// unknown records every key of t that is not one of known, with a suggestion when one is close.
func (t *table) unknown(known ...string) {
	var names []string
	for name := range t.m {
		if !slices.Contains(known, name) {
			names = append(names, name)
		}
	}
	r := t.d.r
	slices.SortFunc(names, func(a, b string) int {
		return cmp.Or(cmp.Compare(r.lines.line(t.key(a)), r.lines.line(t.key(b))), strings.Compare(a, b))
	})
	for _, name := range names {
		hint := ""
		if s := closest(name, known); s != "" {
			hint = fmt.Sprintf("did you mean %s? ", s)
		}
		r.addf(t.key(name), "unknown key; %sremove it, or use one of: %s", hint, strings.Join(known, ", "))
	}
}

// sub returns the table s names inside t. present is false when the file leaves it out (a problem when
// s is required); a value that is not a table is a problem and gives a nil table.
func (t *table) sub(s *spec) (sub *table, present bool) {
	v, ok := t.m[s.name]
	if !ok {
		if s.required {
			t.d.r.addf(t.key(s.name), "missing; add %s", s.example)
		}
		return nil, false
	}
	m, ok := v.(map[string]any)
	if !ok {
		t.d.r.addf(t.key(s.name), "is %s, must be a table; write %s", typeName(v), s.example)
		return nil, true
	}
	t.d.present[t.key(s.name)] = s
	return &table{d: t.d, path: t.key(s.name), m: m}, true
}

// array returns the elements of the array of tables s names ([[name]] sections or an inline array of
// inline tables); present is false when the key is absent. An element that is not a table is a
// problem and nil in list, so that list[i] is element i of the file.
func (t *table) array(s *spec) (list []*table, present bool) {
	v, ok := t.m[s.name]
	if !ok {
		return nil, false
	}
	key := t.key(s.name)
	t.d.present[key] = s
	var items []any
	switch v := v.(type) {
	case []map[string]any:
		for _, m := range v {
			items = append(items, m)
		}
	case []any:
		items = v
	default:
		t.d.r.addf(key, "is %s, must be an array of tables; write %s", typeName(v), s.example)
		return nil, true
	}
	for i, item := range items {
		path := indexKey(key, i)
		m, ok := item.(map[string]any)
		if !ok {
			t.d.r.addf(path, "is %s, must be a table; write %s", typeName(item), s.example)
			list = append(list, nil)
			continue
		}
		list = append(list, &table{d: t.d, path: path, m: m})
	}
	return list, true
}

// typeName names the TOML type of a decoded value, with an article.
func typeName(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case time.Time:
		return "a date-time"
	case []any, []map[string]any:
		return "an array"
	case map[string]any:
		return "a table"
	default:
		return fmt.Sprintf("a %T", v)
	}
}

// closest returns the known key that name most likely misspells, or "".
func closest(name string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		if strings.EqualFold(k, name) {
			return k
		}
		if d := editDistance(strings.ToLower(name), k); d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, computed on bytes.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
