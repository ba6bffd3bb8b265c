package config

import (
	"strings"

	"github.com/BurntSushi/toml"
)

// KeyDoc describes one key of the configuration file, as the key table of docs/config.md shows it.
// The table is generated from Keys (go generate ./config), so the docs say what the schema does.
type KeyDoc struct {
	Key     string // "tls.ca"; a table is "[tls]", an array of tables "[[peer]]", and its keys "peer.name"
	Type    string // "string, required", "duration string", "array of tables, at least one", …
	Default string // Markdown: "`1500`", "none", "—" for a required key
	Reload  string // "yes", "no", or "—" for a table that is always there (its keys say)
	Meaning string // Markdown
}

// Keys lists every table and key of the configuration file in the schema's order, each table before
// its keys. The result is new on every call.
func Keys() []KeyDoc {
	var out []KeyDoc
	var walk func(prefix string, specs []*spec)
	walk = func(prefix string, specs []*spec) {
		for _, s := range specs {
			key := joinKey(prefix, s.name)
			doc := KeyDoc{Key: key, Type: typeText(s), Default: defaultText(s), Reload: reloadText(s), Meaning: s.meaning}
			switch s.shape {
			case shapeTable:
				doc.Key = "[" + key + "]"
			case shapeArray:
				doc.Key = "[[" + key + "]]"
			}
			out = append(out, doc)
			walk(key, s.children)
		}
	}
	walk("", rootSpec.children)
	return out
}

func typeText(s *spec) string {
	t := s.typ
	switch {
	case s.required:
		t += ", required"
	case s.when != "":
		t += ", " + s.when
	}
	switch s.only {
	case ModeTUN:
		t += "; TUN mode only"
	case ModeTAP:
		t += "; TAP mode only"
	}
	return t
}

func defaultText(s *spec) string {
	switch {
	case s.def != "":
		return s.def
	case s.required || s.shape == shapeTable && s.reload == reloadNA:
		return "—"
	case s.defValue != nil:
		return "`" + tomlValue(s.defValue) + "`"
	case s.shape == shapeTable:
		return "absent"
	}
	return "none"
}

func reloadText(s *spec) string {
	switch s.reload {
	case reloadYes:
		return "yes"
	case reloadNo:
		return "no"
	}
	return "—"
}

// tomlValue writes an encoded value as TOML.
func tomlValue(v any) string {
	var b strings.Builder
	if err := toml.NewEncoder(&b).Encode(map[string]any{"v": v}); err != nil {
		return "?"
	}
	return strings.TrimSpace(strings.TrimPrefix(b.String(), "v = "))
}
