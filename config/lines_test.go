package config

import (
	"testing"
)

// trickyConfig has what trips a naive line finder: comments, a multi-line string holding text that looks
// like keys, arrays over several lines with comments between elements, dotted and quoted keys, an
// inline table, and [[peer]] sections whose keys repeat.
const trickyConfig = `# comment with name = "x"
"name" = "office-a"   # line 2

tls.ca = "pki/ca.pem"
tls.cert = 'pki/office-a.pem'
tls.key = """pki/office-a.key"""
listen = { address = "0.0.0.0:4433" }

[ interface ]
address = [
  "100.64.0.1/24",   # tunnel
  # a comment between elements
  "fd64::1/64",
]

[[peer]]
name = "office-b"
allowed_ips = ["100.64.0.2/32",
               "10.2.0.0/24"]

[[peer]]
name = "office-c"
endpoint = "198.18.0.3:4433"
allowed_ips = [
  """100.64.0.3/32""",
  '''10.3.0.1/24''',
]
`

func TestLineIndexFindsKeysElementsAndTables(t *testing.T) {
	ix := indexLines([]byte(trickyConfig))
	want := map[string]int{
		"name":                   2,
		"tls":                    4,
		"tls.ca":                 4,
		"tls.key":                6,
		"listen":                 7,
		"listen.address":         7,
		"interface":              9,
		"interface.address":      10,
		"interface.address[0]":   11,
		"interface.address[1]":   13,
		"peer[0]":                16,
		"peer[0].allowed_ips[1]": 19,
		"peer[1]":                21,
		"peer[1].name":           22,
		"peer[1].allowed_ips[0]": 25,
		"peer[1].allowed_ips[1]": 26,
	}
	for key, line := range want {
		if got := ix.line(key); got != line {
			t.Errorf("line of %s = %d, want %d", key, got, line)
		}
	}
}

func TestProblemsCarryTheLineOfTheirKey(t *testing.T) {
	probs := problems(t, trickyConfig)
	if len(probs) != 1 {
		t.Fatalf("want exactly the host-bits problem, got %v", probs)
	}
	p := findProblem(t, probs, "peer[1].allowed_ips[1]", "write 10.3.0.0/24")
	if p.Line != 26 {
		t.Errorf("problem on line %d, want 26 (the element, not the key): %v", p.Line, p)
	}
}

func TestMultiLineStringsDoNotLookLikeKeys(t *testing.T) {
	text := "a = \"\"\"\nname = 1\n[tls]\n\"\"\"\nname = \"x\"\n"
	ix := indexLines([]byte(text))
	if got := ix.line("name"); got != 5 {
		t.Errorf("line of name = %d, want 5 (lines 2-3 are inside a string)", got)
	}
	if got := ix.line("tls"); got != 0 {
		t.Errorf("[tls] inside a string was indexed at line %d", got)
	}
}

func TestSyntaxErrorsCarryTheParserLine(t *testing.T) {
	text := baseConfig + "\n[[peer]]\nname = \"office-c\"\nallowed_ips = [\"10.3.0.0/24\"\n"
	probs := problems(t, text)
	if len(probs) != 1 {
		t.Fatalf("want one syntax problem, got %v", probs)
	}
	if probs[0].Line < 19 || probs[0].Line > 20 {
		t.Errorf("syntax error on line %d, want the unterminated array (19) or the end (20): %v", probs[0].Line, probs[0])
	}
}

func TestUnknownKeysAreReportedEachWithItsLine(t *testing.T) {
	text := baseConfig + "colour = 1\n[[peer]]\nname = \"office-c\"\nallowed_ips = [\"10.3.0.0/24\"]\nport = 1\n"
	probs := problems(t, text)
	if p := findProblem(t, probs, "peer[0].colour", "unknown key"); p.Line != 17 {
		t.Errorf("peer[0].colour on line %d, want 17", p.Line)
	}
	if p := findProblem(t, probs, "peer[1].port", "unknown key"); p.Line != 21 {
		t.Errorf("peer[1].port on line %d, want 21", p.Line)
	}
}
