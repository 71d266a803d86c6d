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
