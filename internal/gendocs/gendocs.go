// Package gendocs writes what a package ships beside a cobra program: a
// manual page per command and the bash, zsh and fish completions, all
// generated from the command tree so that they cannot drift from it.
package gendocs

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// Options are what the command tree does not know.
type Options struct {
	Version string    // the program's version, in every page's footer
	Date    time.Time // the pages' date: the source's, so that builds repeat
}

// The files Write makes below its folder, for a program named NAME:
// man1/NAME.1 and man1/NAME-SUB.1 for every visible subcommand, and
// completions/NAME.bash, completions/_NAME (zsh) and completions/NAME.fish.
const (
	ManDir         = "man1"
	CompletionsDir = "completions"
)

// Write generates the manual pages and completions of root into dir,
// creating it. It sets root up as running it would (cobra's help and
// completion commands), and drops cobra's "Auto generated" footer, which
// would carry the date of the build.
func Write(root *cobra.Command, dir string, o Options) error {
	root.DisableAutoGenTag = true
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()

	man := filepath.Join(dir, ManDir)
	if err := os.MkdirAll(man, 0o755); err != nil {
		return err
	}
	header := &doc.GenManHeader{
		Section: "1",
		Date:    &o.Date,
		Source:  root.Name() + " " + o.Version,
		Manual:  root.Name() + " manual",
	}
	if err := doc.GenManTree(root, header, man); err != nil {
		return fmt.Errorf("manual pages: %w", err)
	}
	return writeCompletions(root, filepath.Join(dir, CompletionsDir))
}

// writeCompletions writes the three shells' completion scripts, with the
// commands' and flags' descriptions, as `NAME completion SHELL` prints them.
func writeCompletions(root *cobra.Command, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	name := root.Name()
	scripts := []struct {
		file string
		gen  func(io.Writer) error
	}{
		{name + ".bash", func(w io.Writer) error { return root.GenBashCompletionV2(w, true) }},
		{"_" + name, root.GenZshCompletion},
		{name + ".fish", func(w io.Writer) error { return root.GenFishCompletion(w, true) }},
	}
	for _, s := range scripts {
		if err := writeFile(filepath.Join(dir, s.file), s.gen); err != nil {
			return fmt.Errorf("completion %s: %w", s.file, err)
		}
	}
	return nil
}

func writeFile(path string, gen func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := gen(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
