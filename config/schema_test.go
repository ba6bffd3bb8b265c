package config

import (
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

// everyKey holds configurations that together set every key of the schema, each key to a value
// other than its default in at least one of them: a hub in TUN mode, a remote-access client, a node
// in TAP mode.
var everyKey = []string{`name = "Office-A"

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

[metrics]
listen = "127.0.0.1:9100"

[remote_access]
pool       = ["100.64.8.0/22", "fd64:8::/64"]
routes     = ["10.1.0.0/24", "fd01::/64"]
dns        = ["10.1.0.53", "fd01::53"]
domains    = ["corp.example", "example.com"]
ca         = "pki/clients-ca.pem"
leases     = "state/hq.leases"
lease_time = "7d"
nat        = true

[[group]]
name  = "admins"
allow = ["10.1.0.0/24", "fd01::/64 tcp/22,443"]

[[group]]
name  = "Site Reliability"
allow = ["10.1.0.0/24 icmp", "10.1.0.0/24 udp/5000-5100"]

[[peer]]
name        = "office-b"
endpoint    = "gw-b.example:4433"
allowed_ips = ["100.64.0.2/32", "10.2.0.0/24"]
keepalive   = "2s"
required    = true

[[peer]]
name        = "office-c"
allowed_ips = ["10.3.0.0/24"]
keepalive   = "1m30s"
`,
	clientConfig + "required      = true\n",
	strings.Replace(tapConfig, `mode = "tap"`, "mode = \"tap\"\nbridge = \"br0\"\nforward_between_peers = true", 1),
}

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
	set, changed := map[string]bool{}, map[string]bool{}
	for n, text := range everyKey {
		c, err := parse([]byte(text), testPath)
		if err != nil {
			t.Fatalf("everyKey[%d] does not parse: %v", n, err)
		}
		var doc map[string]any
		if _, err := toml.Decode(text, &doc); err != nil {
			t.Fatal(err)
		}
		walkSpecs(rootSpec, "", []any{doc}, func(s *spec, path string, values []any) {
			set[path] = set[path] || len(values) > 0
		})
		walkSpecs(rootSpec, "", []any{c.encodeAll()}, func(s *spec, path string, values []any) {
			for _, v := range values {
				changed[path] = changed[path] || s.defValue == nil || !reflect.DeepEqual(v, s.defValue)
			}
		})
		roundTrip(t, c)
	}
	walkSpecs(rootSpec, "", nil, func(s *spec, path string, _ []any) {
		switch {
		case !set[path]:
			t.Errorf("no configuration of everyKey sets %s; set it to a value other than its default", path)
		case !changed[path]:
			t.Errorf("everyKey sets %s only to its default; a round trip would not show a key that falls back to it", path)
		}
	})
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
			doc := configSetting(t, path)
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

// configSetting returns the decoded document of the first configuration of everyKey that sets the
// key at path.
func configSetting(t *testing.T, path string) map[string]any {
	for _, text := range everyKey {
		var doc map[string]any
		if _, err := toml.Decode(text, &doc); err != nil {
			t.Fatal(err)
		}
		found := false
		walkSpecs(rootSpec, "", []any{doc}, func(_ *spec, p string, values []any) {
			found = found || p == path && len(values) > 0
		})
		if found {
			return doc
		}
	}
	t.Fatalf("no configuration of everyKey sets %s", path)
	return nil
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

// TestRestartKeysFollowTheReloadColumn: reloads from the smallest configuration to each of everyKey,
// which together change every key, name exactly the keys the docs mark "no" — those of [[peer]] by
// position, and of an optional table only the table, which comes.
func TestRestartKeysFollowTheReloadColumn(t *testing.T) {
	old, err := parse([]byte(smallest), testPath)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, text := range everyKey {
		next, err := parse([]byte(text), testPath)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range old.RestartKeys(next) {
			got[k] = true
		}
	}
	optional := map[string]bool{}
	want := map[string]bool{}
	for _, k := range Keys() {
		key := strings.Trim(k.Key, "[]")
		if strings.HasPrefix(k.Key, "[") && !strings.HasPrefix(k.Key, "[[") && k.Reload != "—" {
			optional[key] = true
		}
		if table, _, ok := strings.Cut(key, "."); ok && optional[table] {
			continue // the table is named
		}
		if rest, ok := strings.CutPrefix(key, "peer."); ok {
			key = "peer[0]." + rest
		}
		if k.Reload == "no" {
			want[key] = true
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("RestartKeys named %v\nwant the keys marked \"no\": %v", slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
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
