package config

import (
	"reflect"
	"slices"
	"strings"
)

// The schema: every key of the configuration file is declared once, in keys.go, as an entry of a tree
// that mirrors the file's tables. An entry knows its facts (spec: name, type, default, whether a reload
// applies it, what it means) and how to move its value between the decoded TOML document and the
// Config. Decoding (decodeRoot), encoding (MarshalTOML), the unknown-key check, Config.RestartKeys and
// the key table of docs/config.md (Keys) all walk this one tree.

// reload says whether SIGHUP applies a change of a key to the running node.
type reload uint8

const (
	reloadNA  reload = iota // a table that is always there: its keys say
	reloadYes               // a reload applies a change
	reloadNo                // a change waits for a restart; RestartKeys names it
)

// shape is what an entry is in the file.
type shape uint8

const (
	shapeKey   shape = iota // key = value
	shapeTable              // [name]
	shapeArray              // [[name]]
)

// spec holds what the schema says about one key, table or array of tables, whatever its Go type.
type spec struct {
	name     string
	shape    shape
	typ      string // the docs' Type column without "required": "string", "array of strings", …
	required bool   // absent is a problem
	when     string // for a key that only some nodes need: when they do (the docs' Type column; a rule checks it)
	def      string // the docs' Default column when the default is not a fixed value ("@tlsvpn/<interface.name>")
	defValue any    // the fixed default, as encoded for the file; nil when there is none
	reload   reload
	only     string // ModeTUN or ModeTAP: the key belongs to that interface mode and is an error in the other
	example  string // a correct line to write, for messages: `mtu = 1500`
	meaning  string // the docs' Meaning column (Markdown)
	children []*spec
}

// entry is one entry of a table whose values go into an S: a key, a table or an array of tables.
type entry[S any] interface {
	spec() *spec
	// decode reads the entry from t, the enclosing table, into s; problems go to t's decoder.
	decode(t *table, s *S)
	// encode returns the entry's TOML value for s, part of the Config e writes; false leaves it out
	// of the file.
	encode(s *S, e *encoding) (any, bool)
}

// keyEntry is a key whose value is a T, stored in the S at get.
type keyEntry[S, T any] struct {
	s    spec
	get  func(*S) *T
	val  codec[T]
	dflt func(*Config) T // nil: the zero value of T stands for "not set"
}

// field declares a key. Its type text comes from val unless s.typ is set.
func field[S, T any](get func(*S) *T, val codec[T], s spec) *keyEntry[S, T] {
	s.shape = shapeKey
	if s.typ == "" {
		s.typ = val.typ
	}
	return &keyEntry[S, T]{s: s, get: get, val: val}
}

// def gives the key a fixed default.
func (k *keyEntry[S, T]) def(v T) *keyEntry[S, T] {
	k.dflt = func(*Config) T { return v }
	k.s.defValue, _ = k.val.encode(v)
	return k
}

// derive gives the key a default computed from the rest of the configuration, once every key is read.
func (k *keyEntry[S, T]) derive(f func(*Config) T) *keyEntry[S, T] {
	k.dflt = f
	return k
}

func (k *keyEntry[S, T]) spec() *spec { return &k.s }

func (k *keyEntry[S, T]) decode(t *table, s *S) {
	ptr := k.get(s)
	raw, ok := t.m[k.s.name]
	if !ok {
		switch {
		case k.s.required:
			t.missing(k.s.name, k.s.example)
		case k.dflt != nil && k.s.only == "":
			t.d.defaults = append(t.d.defaults, func(c *Config) { *ptr = k.dflt(c) })
		case k.dflt != nil:
			t.d.modeDefaults = append(t.d.modeDefaults, func(c *Config) {
				if k.s.inMode(c) {
					*ptr = k.dflt(c)
				}
			})
		}
		return
	}
	key := t.key(k.s.name)
	t.d.present[key] = &k.s
	in := value{d: t.d, key: key, name: k.s.name, example: k.s.example, raw: raw, optional: !k.s.required && k.s.when == ""}
	if v, ok := k.val.decode(in); ok {
		*ptr = v
	}
}

func (k *keyEntry[S, T]) encode(s *S, e *encoding) (any, bool) {
	v := *k.get(s)
	if !k.s.belongs(e.mode) || e.sparse && reflect.ValueOf(&v).Elem().IsZero() {
		return nil, false
	}
	return k.val.encode(v)
}

// inMode reports whether the key belongs to c's interface mode.
func (s *spec) inMode(c *Config) bool { return s.belongs(c.Interface.Mode) }

// belongs reports whether the key belongs to the interface mode.
func (s *spec) belongs(mode string) bool { return s.only == "" || s.only == mode }

// tableEntry is a [table] whose keys go into an S inside a P. A table that is always there (get) has
// its defaults filled when the file leaves it out; an optional one (opt) stays nil then.
type tableEntry[P, S any] struct {
	s        spec
	get      func(*P) *S
	opt      func(*P) **S
	children []entry[S]
}

// section declares a table that is always there, in the Config if not in the file.
func section[P, S any](get func(*P) *S, s spec, children ...entry[S]) *tableEntry[P, S] {
	return newTable(&tableEntry[P, S]{s: s, get: get, children: children})
}

// optional declares a table whose absence means something: the field at opt is nil without it.
func optional[P, S any](opt func(*P) **S, s spec, children ...entry[S]) *tableEntry[P, S] {
	return newTable(&tableEntry[P, S]{s: s, opt: opt, children: children})
}

func newTable[P, S any](n *tableEntry[P, S]) *tableEntry[P, S] {
	n.s.shape, n.s.typ = shapeTable, "table"
	n.s.children = specs(n.children)
	return n
}

func (n *tableEntry[P, S]) spec() *spec { return &n.s }

func (n *tableEntry[P, S]) decode(t *table, p *P) {
	sub, present := t.sub(&n.s)
	switch {
	case present && sub == nil: // not a table: reported
		return
	case !present && (n.opt != nil || n.s.required): // absent, and reported when required
		return
	case !present: // the defaults of a table the file leaves out
		sub = &table{d: t.d, path: t.key(n.s.name)}
	}
	if n.opt == nil {
		decodeTable(sub, n.get(p), n.children)
		return
	}
	s := new(S)
	*n.opt(p) = s
	decodeTable(sub, s, n.children)
}

func (n *tableEntry[P, S]) encode(p *P, e *encoding) (any, bool) {
	var s *S
	if n.opt != nil {
		s = *n.opt(p)
	} else {
		s = n.get(p)
	}
	if s == nil {
		return nil, false
	}
	m := encodeTable(s, e, n.children)
	return m, len(m) > 0 || !e.sparse
}

// arrayEntry is an array of tables ([[name]] sections) whose elements are the S in a slice of P.
type arrayEntry[P, S any] struct {
	s        spec
	get      func(*P) *[]S
	children []entry[S]
}

// tables declares an array of tables.
func tables[P, S any](get func(*P) *[]S, s spec, children ...entry[S]) *arrayEntry[P, S] {
	s.shape, s.typ = shapeArray, "array of tables"
	s.children = specs(children)
	return &arrayEntry[P, S]{s: s, get: get, children: children}
}

func (n *arrayEntry[P, S]) spec() *spec { return &n.s }

func (n *arrayEntry[P, S]) decode(t *table, p *P) {
	subs, present := t.array(&n.s)
	if !present && n.s.required {
		t.missing(n.s.name, n.s.example)
	}
	list := make([]S, len(subs))
	for i, sub := range subs {
		if sub != nil {
			decodeTable(sub, &list[i], n.children)
		}
	}
	if len(list) > 0 {
		*n.get(p) = list
	}
}

func (n *arrayEntry[P, S]) encode(p *P, e *encoding) (any, bool) {
	list := *n.get(p)
	if len(list) == 0 {
		return nil, false
	}
	out := make([]map[string]any, len(list))
	for i := range list {
		out[i] = encodeTable(&list[i], e, n.children)
	}
	return out, true
}

// decodeTable reads the keys of t into s, reporting keys the schema does not know.
func decodeTable[S any](t *table, s *S, children []entry[S]) {
	names := make([]string, len(children))
	for i, c := range children {
		names[i] = c.spec().name
	}
	t.unknown(names...)
	for _, c := range children {
		c.decode(t, s)
	}
}

// encoding says how a Config is written.
type encoding struct {
	mode string // the interface mode of the file: keys of the other mode are left out
	// sparse leaves out every key whose Go value is the zero value, and every table left empty: for a
	// Config built in code, whose unset fields stand for the keys' defaults (the reader fills them).
	sparse bool
}

// encodeTable returns the TOML table of s, as e writes it: every key the schema has, left out only
// when unset, of the other interface mode or, sparse, zero.
func encodeTable[S any](s *S, e *encoding, children []entry[S]) map[string]any {
	m := make(map[string]any, len(children))
	for _, c := range children {
		if v, ok := c.encode(s, e); ok {
			m[c.spec().name] = v
		}
	}
	return m
}

func specs[S any](nodes []entry[S]) []*spec {
	out := make([]*spec, len(nodes))
	for i, n := range nodes {
		out[i] = n.spec()
	}
	return out
}

// rootSpec is the schema's tree of facts, for the walks that need no Go types.
var rootSpec = &spec{shape: shapeTable, children: specs(schema)}

// lookup returns the spec at a key path without indexes ("peer.allowed_ips"), or nil.
func lookup(path string) *spec {
	s := rootSpec
	for _, name := range strings.Split(path, ".") {
		i := slices.IndexFunc(s.children, func(c *spec) bool { return c.name == name })
		if i < 0 {
			return nil
		}
		s = s.children[i]
	}
	return s
}
