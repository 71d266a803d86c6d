package loader

import (
	"strings"
	"testing"
	"testing/fstest"
)

// FuzzLoad loads one arbitrary rule file, which the loader classifies by content and hands to a front end (ESCU
// detection or macro, Sigma, Elastic). Nothing may panic, and an error must name the file. Seeds:
// testdata/fuzz/FuzzLoad (the built-in pack's rules and macros).
func FuzzLoad(f *testing.F) {
	f.Add([]byte("name: m\ndefinition: 'verb=get'\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := Load(Options{Paths: []string{Builtin}, Builtin: fstest.MapFS{"r.yml": {Data: data}}})
		if err != nil {
			if !strings.Contains(err.Error(), "builtin:r.yml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for _, r := range res.Rules {
			if r.ID == "" || r.Name == "" || r.Origin.File != "builtin:r.yml" {
				t.Fatalf("incomplete rule %+v", r)
			}
		}
	})
}
