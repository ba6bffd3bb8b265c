// Command gendoc writes the key table of docs/config.md from the configuration schema
// (config.Keys), between the markers that delimit it. Run it with: go generate ./config
//
// Usage: gendoc FILE
package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/tlsvpn/tlsvpn/config"
)

// The markers around the generated table.
const (
	begin = "<!-- BEGIN KEYS: generated from config/keys.go by `go generate ./config`; do not edit -->"
	end   = "<!-- END KEYS -->"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gendoc FILE (docs/config.md)")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "gendoc:", err)
		os.Exit(1)
	}
}

func run(path string) error {
	doc, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	out, err := splice(string(doc), render(config.Keys()))
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.WriteFile(path, []byte(out), 0o644)
}

// render writes keys as a Markdown table.
func render(keys []config.KeyDoc) string {
	var b strings.Builder
	b.WriteString("| Key | Type | Default | Reload | Meaning |\n| --- | --- | --- | --- | --- |\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", k.Key, cell(k.Type), cell(k.Default), k.Reload, cell(k.Meaning))
	}
	return b.String()
}

// cell escapes the pipes that would end a table cell.
func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// splice replaces what lies between the markers in doc with table.
func splice(doc, table string) (string, error) {
	i := strings.Index(doc, begin)
	j := strings.Index(doc, end)
	if i < 0 || j < i {
		return "", errors.New("no key table markers; put the lines " + begin + " and " + end + " where the table goes")
	}
	return doc[:i+len(begin)] + "\n" + table + doc[j:], nil
}
