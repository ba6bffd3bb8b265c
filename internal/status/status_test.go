package status

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/tunnel"
)

// readDoc returns docs/status.md and its JSON example.
func readDoc(t *testing.T) (doc, example string) {
	t.Helper()
	b, err := os.ReadFile("../../docs/status.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```json\n(.*?)```").FindSubmatch(b)
	if m == nil {
		t.Fatal("docs/status.md has no ```json example")
	}
	return string(b), string(m[1])
}

func TestEveryFieldOfTheDocumentedExampleIsAField(t *testing.T) {
	_, example := readDoc(t)
	dec := json.NewDecoder(strings.NewReader(example))
	dec.DisallowUnknownFields()
	var n Node
	if err := dec.Decode(&n); err != nil {
		t.Fatalf("the example of docs/status.md does not decode into Node: %v", err)
	}
	if n.Version != Version || len(n.Tunnel.Peers) != 1 || n.Tunnel.Peers[0].Name != "office-b" {
		t.Errorf("decoded example: version %d, peers %+v", n.Version, n.Tunnel.Peers)
	}
}

func TestEveryFieldIsDocumented(t *testing.T) {
	doc, _ := readDoc(t)
	now := time.Now()
	full := Node{Listen: "x", LastReload: &now, ReloadErr: "x", Bridge: "x", Tunnel: tunnel.Status{
		DeviceDrops: map[string]uint64{"mac_invalid": 1}, LocalMACs: 1, Peers: []tunnel.PeerStatus{{
			Endpoint: "x", Remote: "x", Serial: "x", NotAfter: &now, ExpiresSoon: true, TLSVersion: "x", Cipher: "x",
			Group: "x", Since: &now, RotatedAt: &now, RTT: "x", LastError: "x", NextRetry: &now, MACs: []string{"x"},
		}}}}
	b, err := json.Marshal(full)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range jsonKeys(t, b) {
		if !strings.Contains(doc, `"`+key+`"`) && !strings.Contains(doc, "`"+key+"`") && !strings.Contains(doc, "]."+key+"`") {
			t.Errorf("status field %q is not in docs/status.md", key)
		}
	}
}

// jsonKeys lists every object key in the JSON document b, at any depth.
func jsonKeys(t *testing.T, b []byte) []string {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	var keys []string
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				keys = append(keys, k)
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(v)
	slices.Sort(keys)
	return slices.Compact(keys)
}
