package yamlfile

import (
	"testing"

	"gopkg.in/yaml.v3"
)

// TestError: syntax errors land on the line of the fault (yaml.v3 numbers a parser error's line from 0), and a value
// of the wrong type is said in a rule author's words, at its line.
func TestError(t *testing.T) {
	for _, tc := range []struct {
		doc    string
		into   any
		line   int
		reason string
	}{
		// The unclosed bracket opens on line 3 (yaml.v3 says line 2).
		{"a: 1\nb: 2\nc: [x,\n  y\nd: 4\n", &yaml.Node{}, 3, "invalid YAML: did not find expected ',' or ']'"},
		{"a: 1\nb: {x: 1\nc: 2\n", &yaml.Node{}, 2, "invalid YAML: did not find expected ',' or '}'"},
		// A key indented wrong, on line 4 (yaml.v3 says line 3).
		{"a: 1\nb:\n  c: 1\n d: 2\ne: 3\n", &yaml.Node{}, 4, "invalid YAML: did not find expected key"},
		// Scanner errors are numbered from 1 already.
		{"a: 1\nb: \"abc\nc: 2\n", &yaml.Node{}, 2, "invalid YAML: found unexpected end of stream"},
		{"a: 1\nb: @x\n", &yaml.Node{}, 2, "invalid YAML: found character that cannot start any token"},
		{"name: x\nscore: high\n", &struct{ Score int }{}, 2, "the text `high` where a number is expected"},
		{"name: x\ntags: yes-please\n", &struct{ Tags []string }{}, 2, "the text `yes-please` where a list is expected"},
		{"name: [x]\n", &struct{ Name string }{}, 1, "a list where a string is expected"},
	} {
		var err error
		if n, ok := tc.into.(*yaml.Node); ok {
			err = yaml.Unmarshal([]byte(tc.doc), n)
		} else {
			err = yaml.Unmarshal([]byte(tc.doc), tc.into)
		}
		if err == nil {
			t.Fatalf("%q: no error", tc.doc)
		}
		e := Error("f.yml", "", err)
		if e.Line != tc.line || e.Reason != tc.reason {
			t.Errorf("%q: line %d, %q; want line %d, %q (yaml.v3: %v)", tc.doc, e.Line, e.Reason, tc.line, tc.reason, err)
		}
	}
}
