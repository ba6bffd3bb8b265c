package gendocs

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// tree is a small program: app with a subcommand, a nested one and a
// hidden one.
func tree() *cobra.Command {
	root := &cobra.Command{Use: "app", Short: "Does things", Long: "app does things to FILE."}
	up := &cobra.Command{Use: "up -c FILE", Short: "Start it", Run: func(*cobra.Command, []string) {}}
	up.Flags().StringP("config", "c", "", "the configuration file")
	key := &cobra.Command{Use: "key", Short: "Manage keys"}
	key.AddCommand(&cobra.Command{Use: "new", Short: "Make a key", Run: func(*cobra.Command, []string) {}})
	secret := &cobra.Command{Use: "secret", Hidden: true, Run: func(*cobra.Command, []string) {}}
	root.AddCommand(up, key, secret)
	return root
}

func TestWriteMakesAPagePerVisibleCommandAndThreeCompletions(t *testing.T) {
	dir := t.TempDir()
	o := Options{Version: "1.2.3", Date: time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)}
	if err := Write(tree(), dir, o); err != nil {
		t.Fatal(err)
	}
	pages, err := filepath.Glob(filepath.Join(dir, ManDir, "*"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range pages {
		pages[i] = filepath.Base(pages[i])
	}
	for _, want := range []string{"app.1", "app-up.1", "app-key.1", "app-key-new.1", "app-completion-bash.1"} {
		if !slices.Contains(pages, want) {
			t.Errorf("pages %v lack %s", pages, want)
		}
	}
	if slices.Contains(pages, "app-secret.1") {
		t.Errorf("the hidden command got a page: %v", pages)
	}

	up := read(t, filepath.Join(dir, ManDir, "app-up.1"))
	for _, want := range []string{`.TH "APP-UP" "1" "Nov 2026" "app 1.2.3" "app manual"`, `\fB--config\fP`, `\fBapp(1)\fP`} {
		if !strings.Contains(up, want) {
			t.Errorf("app-up.1 lacks %q:\n%s", want, up)
		}
	}
	if strings.Contains(up, "Auto generated") {
		t.Errorf("app-up.1 carries cobra's footer with the build date:\n%s", up)
	}

	for file, start := range map[string]string{
		"app.bash": "# bash completion V2 for app",
		"_app":     "#compdef app",
		"app.fish": "# fish completion for app",
	} {
		if got := read(t, filepath.Join(dir, CompletionsDir, file)); !strings.HasPrefix(got, start) {
			t.Errorf("%s starts %.40q, want %q", file, got, start)
		}
	}
}

func TestWriteRepeatsItselfForTheSameSource(t *testing.T) {
	o := Options{Version: "1.2.3", Date: time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)}
	a, b := t.TempDir(), t.TempDir()
	if err := Write(tree(), a, o); err != nil {
		t.Fatal(err)
	}
	if err := Write(tree(), b, o); err != nil {
		t.Fatal(err)
	}
	if x, y := read(t, filepath.Join(a, ManDir, "app.1")), read(t, filepath.Join(b, ManDir, "app.1")); x != y {
		t.Errorf("two runs differ:\n%s\n---\n%s", x, y)
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
