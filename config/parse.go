package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/BurntSushi/toml"
)

// maxFileSize bounds what Parse and Load read from any one file; configurations, certificates and CRLs
// are far smaller.
const maxFileSize = 16 << 20

// parsed is the outcome of reading and decoding one configuration file.
type parsed struct {
	cfg   *Config // nil when the file could not be read or is not valid TOML
	rep   *report // the problems found so far, with the file's line index
	warn  *report // the warnings found so far
	index [][]int // position in the file of each cfg.Peers[i].AllowedIPs[j]
}

// Parse reads the configuration file at path, decodes it and validates every value. It touches no other
// file: certificates and keys are checked by Load. On any problem it returns a nil Config and an *Error
// holding all of them.
func Parse(path string) (*Config, error) {
	p := parseFile(path)
	if err := p.rep.err(); err != nil {
		return nil, err
	}
	return p.cfg, nil
}

// parseFile reads and decodes the file at path, whatever problems it has.
func parseFile(path string) *parsed {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	data, err := readFile(abs)
	if err != nil {
		r := &report{file: abs}
		r.addf("", "cannot read the configuration: %v; check the path given with -c", err)
		return &parsed{rep: r}
	}
	return parseBytes(data, abs)
}

// parse decodes data as the configuration file at path (not read; relative certificate paths are
// resolved against its folder). It returns the Config, or an *Error with every problem.
func parse(data []byte, path string) (*Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	p := parseBytes(data, abs)
	if err := p.rep.err(); err != nil {
		return nil, err
	}
	return p.cfg, nil
}

// parseBytes decodes data as the configuration file at the absolute path abs.
func parseBytes(data []byte, abs string) *parsed {
	r := &report{file: abs, lines: lineIndex{}}
	var root map[string]any
	if _, err := toml.Decode(string(data), &root); err != nil {
		r.addSyntax(err)
		return &parsed{rep: r}
	}
	r.lines = indexLines(data)
	d := &decoder{r: r, warn: &report{file: abs, lines: r.lines}, dir: filepath.Dir(abs),
		present: map[string]*spec{}, positions: map[string][]int{}}
	cfg := decodeRoot(d, root, abs)
	return &parsed{cfg: cfg, rep: r, warn: d.warn, index: d.allowedIndex(cfg)}
}

// addSyntax records a TOML syntax error, with its line.
func (r *report) addSyntax(err error) {
	var pe toml.ParseError
	if !errors.As(err, &pe) {
		r.addf("", "not valid TOML: %v; correct the syntax (see https://toml.io)", err)
		return
	}
	near := ""
	if pe.LastKey != "" {
		near = fmt.Sprintf(" after key %s", pe.LastKey)
	}
	r.probs = append(r.probs, Problem{
		File:    r.file,
		Line:    pe.Position.Line,
		Message: fmt.Sprintf("syntax error%s: %s; correct the TOML on this line (see https://toml.io)", near, pe.Message),
	})
}

// readFile reads a regular file of at most maxFileSize bytes.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxFileSize)
	}
	return data, nil
}
