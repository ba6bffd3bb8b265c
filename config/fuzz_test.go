package config

import (
	"bytes"
	"errors"
	"os"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the parser. It must never panic; every failure must be an *Error
// with at least one problem naming the file, on a line inside it; and an accepted file must survive MarshalTOML and parse
// unchanged. The seed corpus is in testdata/fuzz/FuzzParse, plus the examples and the test configs.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"../examples/office-a.toml", "../examples/office-b.toml"} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(baseConfig))
	f.Add([]byte(trickyConfig))
	f.Add([]byte(nodeConfig))
	f.Fuzz(func(t *testing.T, data []byte) {
		indexLines(data) // also on text the TOML parser refuses
		c, err := parse(data, testPath)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || len(e.Problems) == 0 {
				t.Fatalf("error %T without problems: %v", err, err)
			}
			lines := bytes.Count(data, []byte("\n")) + 1
			for _, p := range e.Problems {
				if p.File != testPath || p.Message == "" {
					t.Fatalf("problem without file or message: %#v", p)
				}
				if p.Line < 0 || p.Line > lines {
					t.Fatalf("problem on line %d of a %d-line file: %v", p.Line, lines, p)
				}
			}
			return
		}
		roundTrip(t, c)
	})
}
