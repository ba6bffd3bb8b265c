package main

import (
	"bytes"
	"strings"
	"testing"
)

// execute runs the command tree on args and returns what it printed.
func execute(t *testing.T, args ...string) string {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&bytes.Buffer{})
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		t.Fatalf("tlsvpn %s: %v", strings.Join(args, " "), err)
	}
	return out.String()
}

func TestCompletionPrintsEachShellsScript(t *testing.T) {
	for _, tc := range []struct{ shell, start string }{
		{"bash", "# bash completion V2 for tlsvpn"},
		{"zsh", "#compdef tlsvpn"},
		{"fish", "# fish completion for tlsvpn"},
	} {
		t.Run(tc.shell, func(t *testing.T) {
			if out := execute(t, "completion", tc.shell); !strings.HasPrefix(out, tc.start) {
				t.Errorf("tlsvpn completion %s starts %.60q, want %q", tc.shell, out, tc.start)
			}
		})
	}
}

// The scripts of every shell ask the binary (tlsvpn __complete WORDS...)
// what completes the last word; these are its answers.
func TestCompletionAnswers(t *testing.T) {
	for _, tc := range []struct {
		name  string
		words []string
		want  []string // lines that must be among the candidates
	}{
		{"a command from its first letters", []string{"st"}, []string{"status\t"}},
		{"pki's subcommands", []string{"pki", ""}, []string{"init\t", "issue\t", "revoke\t"}},
		{"the log levels of up", []string{"up", "--log-level", ""}, []string{"debug", "info", "warn", "error"}},
		{"the config flag with .toml files", []string{"check", "-c", ""}, []string{"toml"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := execute(t, append([]string{"__complete"}, tc.words...)...)
			for _, w := range tc.want {
				if !strings.Contains("\n"+out, "\n"+w) {
					t.Errorf("tlsvpn __complete %q answers\n%s\nwithout %q", tc.words, out, w)
				}
			}
		})
	}
}
