package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestVersionFollowsTheTagOnHead(t *testing.T) {
	script, err := filepath.Abs("version")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("needs git")
	}
	for _, tc := range []struct {
		name string
		tags []string // on HEAD; "HEAD~1:v0.9.0" tags the commit before
		want string   // with SHA for HEAD's short hash
	}{
		{"an untagged commit is 0.0.0~git with its UTC date and hash", nil, "0.0.0~git20261127.SHA"},
		{"a release tag loses its v", []string{"v1.2.0"}, "1.2.0"},
		{"a pre-release sorts before its release", []string{"v1.2.0-rc.1"}, "1.2.0~rc.1"},
		{"a tag on an earlier commit does not count", []string{"HEAD~1:v0.9.0"}, "0.0.0~git20261127.SHA"},
		{"a tag not of the form vN is ignored", []string{"latest"}, "0.0.0~git20261127.SHA"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			git := func(args ...string) string {
				t.Helper()
				cmd := exec.Command("git", args...)
				cmd.Dir = dir
				// 23:30 in New York is the next day in UTC.
				cmd.Env = append(os.Environ(), "GIT_AUTHOR_DATE=2026-11-26T23:30:00-05:00",
					"GIT_COMMITTER_DATE=2026-11-26T23:30:00-05:00", "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.org",
					"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.org", "TZ=America/New_York")
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
				}
				return strings.TrimSpace(string(out))
			}
			git("init", "-q")
			git("commit", "-q", "--allow-empty", "-m", "one")
			git("commit", "-q", "--allow-empty", "-m", "two")
			for _, tag := range tc.tags {
				rev, name, ok := strings.Cut(tag, ":")
				if !ok {
					rev, name = "HEAD", tag
				}
				git("tag", name, rev)
			}
			want := strings.ReplaceAll(tc.want, "SHA", git("rev-parse", "--short", "HEAD"))
			cmd := exec.Command(script)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "TZ=America/New_York")
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("packaging/version: %v", err)
			}
			if got := strings.TrimSpace(string(out)); got != want {
				t.Errorf("version %q, want %q", got, want)
			}
		})
	}
}
