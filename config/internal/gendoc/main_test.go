package main

import (
	"os"
	"strings"
	"testing"

	"github.com/tlsvpn/tlsvpn/config"
)

const docPath = "../../../docs/config.md"

// TestTheDocsTableIsTheSchema fails when docs/config.md's key table is not what the schema renders:
// a key was added, changed or documented by hand.
func TestTheDocsTableIsTheSchema(t *testing.T) {
	doc, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	want, err := splice(string(doc), render(config.Keys()))
	if err != nil {
		t.Fatal(err)
	}
	if string(doc) != want {
		t.Fatalf("docs/config.md's key table differs from the schema in config/keys.go; run: go generate ./config")
	}
}

func TestTheTableHasARowPerKeyAndEscapesPipes(t *testing.T) {
	table := render([]config.KeyDoc{{Key: "interface.mode", Type: "string", Default: "`\"tun\"`", Reload: "no", Meaning: `"tun" | "tap"`}})
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 3 {
		t.Fatalf("want a header, a rule and one row, got %q", table)
	}
	if want := "| `interface.mode` | string | `\"tun\"` | no | \"tun\" \\| \"tap\" |"; lines[2] != want {
		t.Errorf("row %q, want %q", lines[2], want)
	}
}

func TestSpliceNeedsItsMarkers(t *testing.T) {
	if _, err := splice("no markers here", "x"); err == nil {
		t.Error("splice without markers succeeded")
	}
	got, err := splice("a\n"+begin+"\nold\n"+end+"\nb\n", "new\n")
	if err != nil || got != "a\n"+begin+"\nnew\n"+end+"\nb\n" {
		t.Errorf("splice = %q, %v", got, err)
	}
}
