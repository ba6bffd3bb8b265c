package config

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

// everyKey sets every key of the schema, each to a value other than its default.
const everyKey = `name = "Office-A"

[tls]
ca             = "pki/ca.pem"
cert           = "pki/office-a.pem"
key            = "/etc/tlsvpn/pki/office-a.key"
crl            = ["pki/crl.pem", "pki/clients-crl.pem"]
expiry_warning = "30d"
rotate_after   = "90m"

[interface]
name    = "vpn-a"
address = ["100.64.0.1/24", "fd64::1/64"]
mtu     = 1400
offload = "split"

[listen]
address = "[::]:4443"

[control]
socket = "/run/tlsvpn/a.sock"

[transport]
congestion_control = "bbr"

[[peer]]
name        = "office-b"
endpoint    = "gw-b.example:4433"
allowed_ips = ["100.64.0.2/32", "10.2.0.0/24"]
keepalive   = "2s"

[[peer]]
name        = "office-c"
allowed_ips = ["10.3.0.0/24"]
keepalive   = "1m30s"
`

// walkSpecs calls f for every table and key of the schema below s with its path without indexes, and
// the decoded values of that path in doc (one per [[array]] element).
func walkSpecs(s *spec, path string, values []any, f func(s *spec, path string, values []any)) {
	for _, c := range s.children {
		var vs []any
		for _, v := range values {
			m, _ := v.(map[string]any)
			switch x := m[c.name].(type) {
			case nil:
			case []map[string]any:
				for _, e := range x {
					vs = append(vs, e)
				}
			default:
				vs = append(vs, x)
			}
		}
		p := joinKey(path, c.name)
		f(c, p, vs)
		walkSpecs(c, p, vs, f)
	}
}

func TestEveryKeySurvivesMarshalAndParse(t *testing.T) {
	c, err := parse([]byte(everyKey), testPath)
	if err != nil {
		t.Fatalf("everyKey does not parse: %v", err)
	}
	var doc map[string]any
	if _, err := toml.Decode(everyKey, &doc); err != nil {
		t.Fatal(err)
	}
	encoded := encodeTable(c, schema)
	walkSpecs(rootSpec, "", []any{doc}, func(s *spec, path string, values []any) {
		if len(values) == 0 {
			t.Errorf("everyKey does not set %s; set it to a value other than its default", path)
		}
	})
	walkSpecs(rootSpec, "", []any{encoded}, func(s *spec, path string, values []any) {
		for _, v := range values {
			if s.defValue != nil && reflect.DeepEqual(v, s.defValue) {
				t.Errorf("everyKey sets %s to its default %v; a round trip would not show a key that falls back to it", path, v)
			}
		}
	})

	roundTrip(t, c)
}

// roundTrip fails the test unless parse -> MarshalTOML -> parse gives c back, and marshalling that
// gives the same text (c was parsed from a file at c.Path).
func roundTrip(t *testing.T, c *Config) {
	t.Helper()
	out, err := c.MarshalTOML()
	if err != nil {
		t.Fatalf("MarshalTOML: %v", err)
	}
	again, err := parse(out, c.Path)
	if err != nil {
		t.Fatalf("parse of MarshalTOML output: %v\n%s", err, out)
	}
	if !reflect.DeepEqual(c, again) {
		t.Fatalf("parse -> marshal -> parse changed the config:\n%+v\n%+v\n%s", c, again, out)
	}
	if out2, err := again.MarshalTOML(); err != nil || string(out2) != string(out) {
		t.Fatalf("marshal is not a fixed point:\n%s\n---\n%s", out, out2)
	}
}

// TestEveryExampleIsAValueItsKeyAccepts: the line a message tells the user to write must be one the
// schema accepts. Each key's example is put into a valid configuration in place of that key.
func TestEveryExampleIsAValueItsKeyAccepts(t *testing.T) {
	walkSpecs(rootSpec, "", nil, func(s *spec, path string, _ []any) {
		if s.shape != shapeKey {
			return
		}
		t.Run(path, func(t *testing.T) {
			var line map[string]any
			if _, err := toml.Decode(s.example, &line); err != nil || len(line) != 1 || line[s.name] == nil {
				t.Fatalf("example %q is not one TOML line setting %s: %v", s.example, s.name, err)
			}
			var doc map[string]any
			if _, err := toml.Decode(everyKey, &doc); err != nil {
				t.Fatal(err)
			}
			table := doc
			parts := strings.Split(path, ".")
			for _, p := range parts[:len(parts)-1] {
				switch x := table[p].(type) {
				case map[string]any:
					table = x
				case []map[string]any:
					table = x[0]
				}
			}
			if s.defValue != nil && !reflect.DeepEqual(normalize(line[s.name]), s.defValue) {
				t.Errorf("example %q is not the default %v, which messages call it", s.example, s.defValue)
			}
			table[s.name] = line[s.name]
			d := &decoder{r: &report{file: testPath}, warn: &report{file: testPath}, dir: "/etc/tlsvpn",
				present: map[string]*spec{}, positions: map[string][]int{}}
			decodeRoot(d, doc, testPath)
			for _, p := range d.r.probs {
				if strings.HasPrefix(p.Key, strings.Replace(path, "peer.", "peer[0].", 1)) {
					t.Errorf("example %q gives %v", s.example, p)
				}
			}
		})
	})
}

// smallest sets only the keys a node needs, each to a value other than everyKey's; it dials.
const smallest = `name = "office-z"
[tls]
ca   = "ca.pem"
cert = "z.pem"
key  = "z.key"
[interface]
address = ["100.64.9.1/24"]
[[peer]]
name        = "office-y"
endpoint    = "198.18.0.9:4433"
allowed_ips = ["10.9.0.0/24"]
`

// TestRestartKeysFollowTheReloadColumn: a reload from the smallest configuration to everyKey, which
// changes every key, names exactly the keys the docs mark "no" (those of [[peer]] by position).
func TestRestartKeysFollowTheReloadColumn(t *testing.T) {
	old, err := parse([]byte(smallest), testPath)
	if err != nil {
		t.Fatal(err)
	}
	next, err := parse([]byte(everyKey), testPath)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, k := range Keys() {
		if k.Reload != "no" {
			continue
		}
		key := strings.Trim(k.Key, "[]")
		if rest, ok := strings.CutPrefix(key, "peer."); ok {
			key = "peer[0]." + rest
		}
		if key == "listen.address" { // [listen] itself comes and goes
			continue
		}
		want = append(want, key)
	}
	got := old.RestartKeys(next)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("RestartKeys = %v\nwant the keys marked \"no\": %v", got, want)
	}
}

// normalize makes a decoded TOML value comparable with an encoded one.
func normalize(v any) any {
	if list, ok := v.([]any); ok {
		out := make([]string, len(list))
		for i, e := range list {
			out[i], _ = e.(string)
		}
		return out
	}
	return v
}
