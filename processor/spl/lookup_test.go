package spl

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auditdetect/auditdetect/processor/rule"
)

func lf(column, field string) rule.LookupField { return rule.LookupField{Column: column, Field: field} }

func testTable(t *testing.T, name string, columns ...string) *rule.LookupTable {
	t.Helper()
	tab, err := rule.NewLookupTable(rule.LookupTable{Name: name, Columns: columns})
	require.NoError(t, err)
	return tab
}

// brokenLookups has one lookup whose table did not read.
type brokenLookups struct{}

func (brokenLookups) Table(name string) (*rule.LookupTable, bool, error) {
	if name == "broken" {
		return nil, true, errors.New("lookups/broken.csv:3: 2 fields, where the header has 3")
	}
	return nil, false, nil
}

// TestCompileLookup: lookup compiles to one rule.Lookup whose fields are checked against its table's columns, in the
// forms of Splunk's Search Reference: AS on both sides, commas or spaces, OUTPUT and OUTPUTNEW, no OUTPUT clause (every
// column that is not an input), the local= and update= options, a CSV file's name.
func TestCompileLookup(t *testing.T) {
	ns := testTable(t, "kube_allowed_namespaces", "namespace", "is_allowed", "team")
	users := testTable(t, "users", "user", "group", "dept")
	// A CSV file's name is asked of Lookups as written: the loader finds the file's table (loader tests).
	lookups := LookupTables{ns.Name: ns, users.Name: users, "users.csv": users}
	tests := []struct {
		name   string
		search string
		want   rule.Lookup
	}{
		{"output", `* | lookup kube_allowed_namespaces namespace AS objectRef.namespace OUTPUT is_allowed`,
			rule.Lookup{Table: ns, Inputs: []rule.LookupField{lf("namespace", "objectRef.namespace")},
				Outputs: []rule.LookupField{lf("is_allowed", "is_allowed")}}},
		{"outputnew, renamed outputs, commas", `* | lookup users user as user.username, group AS g OUTPUTNEW dept AS department, group`,
			rule.Lookup{Table: users, Inputs: []rule.LookupField{lf("user", "user.username"), lf("group", "g")},
				Outputs: []rule.LookupField{lf("dept", "department"), lf("group", "group")}, New: true}},
		{"no output clause: every other column", `* | LOOKUP update=true local=f users user`,
			rule.Lookup{Table: users, Inputs: []rule.LookupField{lf("user", "user")},
				Outputs: []rule.LookupField{lf("group", "group"), lf("dept", "dept")}}},
		{"a CSV file's name, output in lower case", `* | lookup "users.csv" user output dept`,
			rule.Lookup{Table: users, Inputs: []rule.LookupField{lf("user", "user")}, Outputs: []rule.LookupField{lf("dept", "dept")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, pipeline, err := CompileWith(tt.search, nil, lookups)
			require.NoError(t, err)
			assert.Equal(t, []rule.Stage{tt.want}, pipeline)
		})
	}

	// From a macro's definition, as an allow-list macro would hold it; its output names a field later commands
	// have (host is then no Splunk metadata).
	_, pipeline, err := CompileWith("* | `allow` | stats count by host",
		Macros{"allow": "lookup users user OUTPUT dept AS host | search NOT dept=ops"}, lookups)
	require.NoError(t, err)
	require.Len(t, pipeline, 3)
	assert.Equal(t, []string{"host"}, pipeline[0].(rule.Lookup).OutputNames())
}

func TestCompileLookupErrors(t *testing.T) {
	ns := testTable(t, "ns", "namespace", "is_allowed")
	only := testTable(t, "only", "namespace")
	lookups := LookupTables{ns.Name: ns, only.Name: only}
	tests := []struct {
		name         string
		search       string
		line, column int
		reason       string
	}{
		{"undefined", "* | lookup nope namespace", 1, 12, `undefined lookup "nope" (load its lookup file with the rules`},
		{"no such CSV file", "* | lookup nope.csv namespace", 1, 12, `no lookup table file "nope.csv": no lookup loaded with the rules has it`},
		{"another extension names a lookup", "* | lookup ns.CSV namespace", 1, 12, `undefined lookup "ns.CSV"`},
		{"undefined in a macro", "* | `m`", 1, 5, "in macro `m` (definition 1:8): undefined lookup \"nope\""},
		{"table did not read", "* |\n lookup broken x", 2, 9, "lookup broken: lookups/broken.csv:3: 2 fields, where the header has 3"},
		{"no name", "* | lookup", 1, 5, "lookup needs the name of a lookup, found end of search"},
		{"no input", "* | lookup ns", 1, 5, "lookup ns needs at least one input field"},
		{"output before input", "* | lookup ns OUTPUT is_allowed", 1, 15, "lookup ns needs an input field before OUTPUT"},
		{"no output field", "* | lookup ns namespace OUTPUTNEW", 1, 5, "lookup ns: OUTPUT needs at least one field"},
		{"unknown input field", "* | lookup ns name AS objectRef.name", 1, 15, `lookup ns has no field "name" (its fields: namespace, is_allowed)`},
		{"unknown output field", "* | lookup ns namespace OUTPUT allowed", 1, 32, `lookup ns has no field "allowed"`},
		{"nothing to output", "* | lookup only namespace", 1, 5, "lookup only has no field but its input fields (namespace): nothing to output"},
		{"missing AS target", "* | lookup ns namespace AS", 1, 27, "expected the event field it is matched against after AS, found end of search"},
		{"unknown option", "* | lookup append=t ns namespace", 1, 12, `unsupported lookup option "append"`},
		{"option not a boolean", "* | lookup update=maybe ns namespace", 1, 12, "update=maybe: expected true or false"},
		{"wildcard field", "* | lookup ns namespace OUTPUT is_*", 1, 32, "wildcard field names"},
		{"subsearch", "* | lookup [| inputlookup ns]", 1, 12, "subsearches ([...]) are not supported"},
		// inputlookup is a generating command: not run by this streaming engine.
		{"inputlookup", "* | inputlookup ns", 1, 5, `unsupported command "inputlookup"`},
		{"inputlookup first", "| inputlookup ns", 1, 3, "a search must start with a base search"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var lk Lookups = lookups
			if tt.name == "table did not read" {
				lk = brokenLookups{}
			}
			_, _, err := CompileWith(tt.search, Macros{"m": "lookup nope x"}, lk)
			require.Error(t, err)
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Contains(t, e.Reason, tt.reason)
			assert.Equal(t, tt.line, e.Line, "line; error: %v", err)
			assert.Equal(t, tt.column, e.Column, "column; error: %v", err)
		})
	}
	// Compile knows no lookup.
	_, _, err := Compile("* | lookup ns namespace", nil)
	assert.ErrorContains(t, err, `undefined lookup "ns"`)
}

// TestLookupReadsTime: a lookup matching on _time reads the event's time, which is set before it, as for any command
// that reads _time.
func TestLookupReadsTime(t *testing.T) {
	tab := testTable(t, "t", "ts", "x")
	_, pipeline, err := CompileWith("* | lookup t ts AS _time OUTPUT x", nil, LookupTables{"t": tab})
	require.NoError(t, err)
	require.Len(t, pipeline, 2)
	assert.Equal(t, setTime, pipeline[0])
}
