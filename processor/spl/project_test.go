package spl

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// TestCompileTableAndFields: table and fields compile to one rule.Project, in the list forms Splunk's Search
// Reference gives them (space- or comma-delimited, `*` wildcards, fields' + and -, + the default).
func TestCompileTableAndFields(t *testing.T) {
	count := rule.Stats{Aggs: []rule.Aggregate{{Func: "count"}}, By: []string{"a", "b"}}
	tests := []struct {
		name   string
		search string
		want   []rule.Stage
	}{
		{"table spaces and commas", `* | stats count by a b | table a, "b" count`,
			[]rule.Stage{count, rule.Project{Fields: []string{"a", "b", "count"}, Ordered: true}}},
		{"table wildcard", `* | TABLE user* src`, []rule.Stage{rule.Project{Fields: []string{"user*", "src"}, Ordered: true}}},
		{"table of dotted and array fields", `* | table objectRef.name, sourceIPs{}`,
			[]rule.Stage{rule.Project{Fields: []string{"objectRef.name", "sourceIPs{}"}, Ordered: true}}},
		// fields keeps Splunk's internal fields (_time) unless it names them.
		{"fields keeps", `* | fields user, src`, []rule.Stage{rule.Project{Fields: []string{"user", "src", "_*"}}}},
		{"fields plus", `* | Fields + user src`, []rule.Stage{rule.Project{Fields: []string{"user", "src", "_*"}}}},
		{"fields minus", `* | fields - _raw, user*`, []rule.Stage{rule.Project{Fields: []string{"_raw", "user*"}, Remove: true}}},
		{"fields minus without space before the list", `* | fields -, a`, []rule.Stage{rule.Project{Fields: []string{"a"}, Remove: true}}},
		// `table _time` shows the event's time, which is set before it; a projection that removes _time leaves a
		// later where none.
		{"table _time", `* | table _time user`,
			[]rule.Stage{setTime, rule.Project{Fields: []string{"_time", "user"}, Ordered: true}}},
		{"fields minus _time", `* | fields - _time | where _time > 1`,
			[]rule.Stage{rule.Project{Fields: []string{"_time"}, Remove: true}, rule.Where{Cond: cmp("_time", rule.OpGt, "1", true)}}},
		{"table without _time", `* | table user | where _time > 1`,
			[]rule.Stage{rule.Project{Fields: []string{"user"}, Ordered: true}, rule.Where{Cond: cmp("_time", rule.OpGt, "1", true)}}},
		{"fields keeps a later _time", `* | fields user | where _time > 1`,
			[]rule.Stage{rule.Project{Fields: []string{"user", "_*"}}, setTime, rule.Where{Cond: cmp("_time", rule.OpGt, "1", true)}}},
		{"after a filter macro", "* | table user | `x_filter`", []rule.Stage{rule.Project{Fields: []string{"user"}, Ordered: true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, pipeline, err := Compile(tt.search, nil)
			require.NoError(t, err)
			assert.Equal(t, tt.want, pipeline)
		})
	}
}

func TestCompileTableAndFieldsErrors(t *testing.T) {
	tests := []struct {
		name         string
		search       string
		line, column int
		reason       string
	}{
		{"table without fields", `* | table`, 1, 5, "table needs at least one field name"},
		{"table without fields before a pipe", "* | table | search a=1", 1, 5, "table needs at least one field name"},
		{"fields minus without fields", `* | fields -`, 1, 5, "fields needs at least one field name"},
		{"minus glued to the name", `* | fields -_raw`, 1, 12, `field name "-_raw" starts with '-': write fields - _raw`},
		{"plus glued to the name", "* | stats count by a\n  | fields +a", 2, 12, `starts with '+'`},
		{"table minus", `* | table - a`, 1, 11, `table takes no "-"`},
		{"sign after the list", `* | fields a - b`, 1, 14, `"-" comes before the field list`},
		{"parenthesis", `* | table a (b)`, 1, 13, "expected a field name, found '('"},
		{"option", `* | table a=b`, 1, 12, "expected a field name, found '='"},
		{"macro", "* | table a `m`", 1, 13, "expected a field name, found macro `m`"},
		{"empty quoted name", `* | fields ""`, 1, 12, "empty field name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Compile(tt.search, nil)
			require.Error(t, err)
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Contains(t, e.Reason, tt.reason)
			assert.Equal(t, tt.line, e.Line, "line; error: %v", err)
			assert.Equal(t, tt.column, e.Column, "column; error: %v", err)
		})
	}
}
