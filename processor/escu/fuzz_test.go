package escu

import (
	"errors"
	"testing"

	"github.com/auditdetect/auditdetect/processor/rule"
)

func FuzzParse(f *testing.F) {
	f.Add([]byte("name: x\nsearch: |-\n  a=1\n  | stats count by b\nrba:\n  risk_objects: [{field: b, type: user, score: 5}]\n"))
	f.Add([]byte("name: x\nsearch: 'a=''b'' c'\ntags:\n  risk_score: 5\n  observable: [{name: u, type: User, role: [Victim]}]\n"))
	f.Add([]byte("name: m\narguments: [a]\ndefinition: $a$=1\n"))
	f.Add([]byte("name: x\nsearch: >-\n  a=1\n\n    b=2\n  | lookup x\n"))
	f.Add([]byte("name: x\nsearch: a=1\n  b=\"ü\"\n\n  | lookup x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Parse("f.yml", data, nil, nil)
		if err != nil {
			var e *rule.Error
			if !errors.As(err, &e) || e.File != "f.yml" || e.Line < 0 || e.Column < 0 {
				t.Fatalf("bad error %T %v", err, err)
			}
		} else if r == nil || r.Name == "" || r.ID == "" {
			t.Fatalf("bad rule %+v", r)
		}
		IsDetection(data)
		IsMacro(data)
		_, _ = ParseMacro("f.yml", data)
	})
}

// FuzzLookup: a lookup file and its CSV, whatever they hold, give a lookup table or an error in one of the two files,
// never a panic.
func FuzzLookup(f *testing.F) {
	f.Add([]byte("name: ns\nlookup_type: csv\nmatch_type: [WILDCARD(a), CIDR(b)]\nmin_matches: 1\ndefault_match: false\n"),
		[]byte("\ufeffa,b\r\n\"x, y\",10.0.0.0/8\r\nz*,::1\n"))
	f.Add([]byte("name: ns\nfilename: ns.csv\nmatch_type: CIDR(b), WILDCARD(a)\ncase_sensitive_match: 'false'\n"), []byte("a,b\n\"unterminated\n"))
	f.Add([]byte("name: kv\ncollection: kv\n"), []byte(""))
	f.Fuzz(func(t *testing.T, yml, csv []byte) {
		d, err := ParseLookup("l.yml", yml)
		if err != nil {
			var e *rule.Error
			if !errors.As(err, &e) || e.File != "l.yml" {
				t.Fatalf("bad error %T %v", err, err)
			}
			return
		}
		tab, err := ReadLookupTable(d, "l.csv", csv)
		if err != nil {
			var e *rule.Error
			if !errors.As(err, &e) || e.File != "l.csv" && e.File != "l.yml" || e.Line < 0 || e.Column < 0 {
				t.Fatalf("bad error %T %v", err, err)
			}
			return
		}
		for _, row := range tab.Rows {
			if len(row) != len(tab.Columns) {
				t.Fatalf("row %q of %d fields, header %q", row, len(row), tab.Columns)
			}
		}
	})
}
