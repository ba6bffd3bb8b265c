package config

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// table is one decoded TOML table together with its key path, so that every value read from it can be
// reported by path. Reading a value that has the wrong type records a problem and reports it absent.
type table struct {
	r    *report
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

// missing records that a required key is absent; example shows the line to add.
func (t *table) missing(name, example string) {
	t.r.addAtf(t.key(name), t.path, "missing; add %s %s", example, t.where())
}

// unknown records every key of t that is not one of known, with a suggestion when one is close.
func (t *table) unknown(known ...string) {
	var names []string
	for name := range t.m {
		if !slices.Contains(known, name) {
			names = append(names, name)
		}
	}
	slices.SortFunc(names, func(a, b string) int {
		return cmp.Or(cmp.Compare(t.r.lines.line(t.key(a)), t.r.lines.line(t.key(b))), strings.Compare(a, b))
	})
	for _, name := range names {
		hint := ""
		if s := closest(name, known); s != "" {
			hint = fmt.Sprintf("did you mean %s? ", s)
		}
		t.r.addf(t.key(name), "unknown key; %sremove it, or use one of: %s", hint, strings.Join(known, ", "))
	}
}

// str returns the string at name. A missing required key and a value of another type are problems.
func (t *table) str(name, example string, required bool) (string, bool) {
	v, ok := t.m[name]
	if !ok {
		if required {
			t.missing(name, example)
		}
		return "", false
	}
	s, ok := v.(string)
	if !ok {
		t.r.addf(t.key(name), "is %s, must be a string; write %s", typeName(v), example)
		return "", false
	}
	if s == "" {
		t.r.addf(t.key(name), "is empty; write %s", example)
		return "", false
	}
	return s, true
}

// integer returns the integer at name, if present.
func (t *table) integer(name, example string) (int64, bool) {
	v, ok := t.m[name]
	if !ok {
		return 0, false
	}
	n, ok := v.(int64)
	if !ok {
		t.r.addf(t.key(name), "is %s, must be an integer; write %s", typeName(v), example)
		return 0, false
	}
	return n, true
}

// element is one string of a string array, with its index in the array.
type element struct {
	index int
	value string
}

// strs returns the strings of the array at name; elements of other types are problems and left out.
// An empty or missing required array is a problem.
func (t *table) strs(name, example string, required bool) []element {
	v, ok := t.m[name]
	if !ok {
		if required {
			t.missing(name, example)
		}
		return nil
	}
	list, ok := v.([]any)
	if !ok {
		t.r.addf(t.key(name), "is %s, must be an array of strings; write %s", typeName(v), example)
		return nil
	}
	if len(list) == 0 && required {
		t.r.addf(t.key(name), "is empty; list at least one, like %s", example)
	}
	var out []element
	for i, item := range list {
		s, ok := item.(string)
		if !ok {
			t.r.addf(fmt.Sprintf("%s[%d]", t.key(name), i), "is %s, must be a string; write %s",
				typeName(item), example)
			continue
		}
		out = append(out, element{index: i, value: s})
	}
	return out
}

// sub returns the table at name, if present; example shows how to write it.
func (t *table) sub(name, example string) (*table, bool) {
	v, ok := t.m[name]
	if !ok {
		return nil, false
	}
	m, ok := v.(map[string]any)
	if !ok {
		t.r.addf(t.key(name), "is %s, must be a table; write %s", typeName(v), example)
		return nil, false
	}
	return &table{r: t.r, path: t.key(name), m: m}, true
}

// tables returns the elements of the array of tables at name ([[name]] sections or an inline array of
// inline tables); present is false when the key is absent. An element that is not a table is a problem
// and nil in list, so that list[i] is element i of the file.
func (t *table) tables(name, example string) (list []*table, present bool) {
	v, ok := t.m[name]
	if !ok {
		return nil, false
	}
	var items []any
	switch v := v.(type) {
	case []map[string]any:
		for _, m := range v {
			items = append(items, m)
		}
	case []any:
		items = v
	default:
		t.r.addf(t.key(name), "is %s, must be an array of tables; write %s", typeName(v), example)
		return nil, true
	}
	for i, item := range items {
		path := fmt.Sprintf("%s[%d]", t.key(name), i)
		m, ok := item.(map[string]any)
		if !ok {
			t.r.addf(path, "is %s, must be a table; write %s", typeName(item), example)
			list = append(list, nil)
			continue
		}
		list = append(list, &table{r: t.r, path: path, m: m})
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
