package spl

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auditdetect/auditdetect/processor/rule"
)

func TestMacros(t *testing.T) {
	allow := Macros{
		"kube_allowed_images": `objectRef.name IN (*splunk*, *falco*)`,
		"two_terms":           `a=1 b=2`,
		"outer":               "x=1 `inner`",
		"inner":               `y=2 OR y=3`,
		"my_filter":           `search user!=admin`,
		"multi_cmd":           `search a=1 | where count > 2`,
		"ctime(1)":            `convert ctime($field$)`,
		"pick(2)":             `$f$=$v$ OR $f$=x`,
		"named(field, val)":   `$field$=$val$`,
		"empty":               ``,
		"kube_audit":          `objectRef.apiGroup=""`,
	}
	tests := []struct {
		name     string
		search   string
		macros   Macros
		filter   rule.Expr
		pipeline []rule.Stage
	}{
		{"kube_audit default matches all", "`kube_audit` verb=get", nil, eq("verb", "get"), nil},
		{"kube_audit alone", "`kube_audit`", nil, rule.True{}, nil},
		{"config overrides kube_audit", "`kube_audit` verb=get", allow, rule.And{eq("objectRef.apiGroup", ""), eq("verb", "get")}, nil},
		// Splunk's indexing metadata is not in an audit event: the pipeline has already chosen the data.
		{"metadata terms are satisfied", `index=k8s source="kubernetes" sourcetype IN (a, b) verb=get`, nil, eq("verb", "get"), nil},
		{"metadata terms joined by OR select the data", "(index=a OR index=b sourcetype=c) verb=get", nil, eq("verb", "get"), nil},
		{"security_content's kube_audit", "`ka` verb=get", Macros{"ka": `source="kubernetes"`}, eq("verb", "get"), nil},
		{"macro is one group under NOT", "NOT `two_terms` c=3", allow,
			rule.And{not(rule.And{eq("a", "1"), eq("b", "2")}), eq("c", "3")}, nil},
		{"macro is one group under OR", "c=3 OR `two_terms`", allow,
			rule.Or{eq("c", "3"), rule.And{eq("a", "1"), eq("b", "2")}}, nil},
		{"nested macros", "`outer`", allow, rule.And{eq("x", "1"), rule.Or{eq("y", "2"), eq("y", "3")}}, nil},
		{"search NOT allow-list", "verb=get | search NOT `kube_allowed_images`", allow, eq("verb", "get"),
			[]rule.Stage{rule.Search{Cond: not(rule.Or{eq("objectRef.name", "*splunk*"), eq("objectRef.name", "*falco*")})}}},
		{"undefined filter macro is a no-op", "verb=get | stats count | `x_filter`", nil, eq("verb", "get"),
			[]rule.Stage{rule.Stats{Aggs: []rule.Aggregate{{Func: "count"}}}}},
		{"undefined filter macro without a space", "verb=get |`x_filter`", nil, eq("verb", "get"), nil},
		{"defined filter macro", "verb=get | `my_filter`", allow, eq("verb", "get"),
			[]rule.Stage{rule.Search{Cond: cmp("user", rule.OpNe, "admin", false)}}},
		{"filter macro defined as search *", "verb=get | `my_filter`", Macros{"my_filter": "search *"}, eq("verb", "get"), nil},
		{"macro with several commands", "verb=get | `multi_cmd`", allow, eq("verb", "get"),
			[]rule.Stage{rule.Search{Cond: eq("a", "1")}, rule.Where{Cond: cmp("count", rule.OpGt, "2", true)}}},
		{"positional arguments", "`pick(user, bob)`", allow, rule.Or{eq("user", "bob"), eq("user", "x")}, nil},
		{"named arguments", "`named(user, \"bob smith\")`", allow, eq("user", "bob smith"), nil},
		{"empty macro in an expression", "a=1 `empty`", allow, eq("a", "1"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			filter, pipeline, err := Compile(tt.search, tt.macros)
			require.NoError(t, err)
			assert.Equal(t, tt.filter, filter)
			assert.Equal(t, tt.pipeline, pipeline)
		})
	}
}

func TestMacroErrors(t *testing.T) {
	macros := Macros{
		"ka":            "index=k8s NOT sourcetype=kube:objects",
		"wraps_ka":      "verb=list `ka`",
		"not_x(1)":      "verb=get NOT $x$",
		"passes_meta":   "verb=list\n `not_x(sourcetype=a)`",
		"self":          "a=1 `self`",
		"ping":          "`pong`",
		"pong":          "x=1 OR `ping`",
		"bad":           "a=1 b",
		"deep":          "`undefined_thing`",
		"piped":         "a=1 | stats count",
		"notcommand":    "a=1",
		"empty":         "",
		"eval_in":       "search a=1 | dedup x",
		"one_arg(1)":    "user=$x$",
		"two_args(a,b)": "user=$a$ verb=$b$",
	}
	tests := []struct {
		name         string
		search       string
		line, column int
		reason       string
	}{
		{"undefined", "verb=get\n  `kube_allowed_users`", 2, 3, "undefined macro `kube_allowed_users`"},
		// A term of a macro is reported at the macro reference, not at its offset in the definition.
		{"metadata under NOT in a macro", "verb=get `ka`", 1, 10, "in macro `ka` (definition 1:15): sourcetype is Splunk indexing metadata"},
		{"metadata in a nested macro names the chain", "verb=get\n `wraps_ka`", 2, 2,
			"in macro `wraps_ka` -> `ka` (definition 1:15): sourcetype is Splunk indexing metadata"},
		// Metadata passed as an argument is where the argument is written.
		{"metadata in an argument from the search", "`not_x(sourcetype=a)`", 1, 1, "sourcetype is Splunk indexing metadata"},
		{"metadata in an argument from a macro", "verb=get `passes_meta`", 1, 10,
			"in macro `passes_meta` (definition 2:2): sourcetype is Splunk indexing metadata"},
		{"undefined with args", "`nope(a, b)`", 1, 1, "undefined macro `nope(2)`"},
		{"undefined filter with args is not defaulted", "* | `x_filter(1)`", 1, 5, "undefined macro `x_filter(1)`"},
		// As `*` it would make NOT `x_filter` match nothing.
		{"undefined filter in an expression", "verb=create NOT `x_filter`", 1, 17, "undefined macro `x_filter`"},
		{"undefined filter in a search command", "verb=create | search NOT `x_filter`", 1, 26, "only as a pipeline command"},
		{"self cycle", "verb=get `self`", 1, 10, "macro cycle: `self` -> `self`"},
		{"mutual cycle", "`ping`", 1, 1, "macro cycle: `ping` -> `pong` -> `ping`"},
		{"error inside a macro points at the reference", "verb=get `bad`", 1, 10, "in macro `bad` (definition 1:5): free-text term \"b\""},
		{"nested undefined names the inner macro", "verb=get `deep`", 1, 10, "in macro `deep` (definition 1:1): undefined macro `undefined_thing`"},
		{"pipeline macro in an expression", "`piped`", 1, 1, "expands to a pipeline"},
		{"expression macro as a command", "* | `notcommand`", 1, 5, "in macro `notcommand` (definition 1:1): unsupported command \"a\""},
		{"empty macro as a command", "* | `empty`", 1, 5, "is empty but is used as a pipeline command"},
		{"unsupported command inside a macro", "* | `eval_in`", 1, 5, "unsupported command \"dedup\""},
		{"macro as a value", "a=`notcommand`", 1, 3, "a macro cannot stand for a value"},
		{"arguments to a macro without", "verb=get `notcommand(x)`", 1, 10, "macro `notcommand` takes 0 arguments, not 1"},
		{"no argument to a macro with one", "verb=get `one_arg`", 1, 10, "macro `one_arg` takes 1 argument, not 0"},
		{"wrong count, named parameters", "verb=get `two_args(a)`", 1, 10, "macro `two_args` takes 2 arguments, not 1"},
		{"malformed arguments", "`m(a`", 1, 1, "malformed macro reference"},
		{"space in name", "`m n`", 1, 1, "malformed macro reference"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Compile(tt.search, macros)
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Contains(t, e.Reason, tt.reason)
			assert.Equal(t, [2]int{tt.line, tt.column}, [2]int{e.Line, e.Column}, "position; error: %v", err)
		})
	}
	// A metadata term written in the search itself names no macro, even beside one that holds another, and neither
	// does one the search passes to a macro as an argument.
	for search, column := range map[string]int{"verb=get NOT sourcetype=x `ka`": 14, "`not_x(sourcetype=a)`": 1} {
		_, _, err := Compile(search, macros)
		var e *Error
		require.ErrorAs(t, err, &e)
		assert.True(t, strings.HasPrefix(e.Reason, "sourcetype is Splunk indexing metadata"), e.Reason)
		assert.Nil(t, e.Macro)
		assert.Equal(t, [2]int{1, column}, [2]int{e.Line, e.Column})
	}
}

// TestMacroFault: a fault inside a definition carries the chain of macros down to the one that holds it, that
// macro's key, and the fault's place in its definition as written, for a caller that knows where it is defined.
func TestMacroFault(t *testing.T) {
	macros := Macros{
		"bad":           "a=1 b",
		"lines":         "a=1\n  OR b=2\n  c",
		"outer":         "x=1 `middle`",
		"middle":        "y=2\n`inner`",
		"inner":         "z=3 )",
		"pick(f,v)":     "$f$=$v$ OR junk",
		"one(1)":        "user=$x$ verb=get",
		"passes_junk":   "verb=get\n  `one(a b)`",
		"cmd":           "search a=1 | frob",
		"outer_cmd":     "`cmd`",
		"calls_missing": "a=1 `missing`",
	}
	tests := []struct {
		name         string
		search       string
		line, column int // of the reference in the search
		fault        MacroFault
		reason       string
	}{
		{"plain", "verb=get `bad`", 1, 10, MacroFault{Chain: []string{"bad"}, Key: "bad", Line: 1, Column: 5,
			Reason: `free-text term "b" is not supported: this streaming engine matches field=value terms only`},
			"in macro `bad` (definition 1:5): free-text term \"b\""},
		{"second line of a definition", "`lines`", 1, 1, MacroFault{Chain: []string{"lines"}, Key: "lines", Line: 3, Column: 3,
			Reason: `free-text term "c" is not supported: this streaming engine matches field=value terms only`},
			"in macro `lines` (definition 3:3): "},
		// The fault is in inner's definition: named last in the chain, with its place there, not where middle
		// references inner nor where outer references middle.
		{"nested", "a=1\n `outer`", 2, 2, MacroFault{Chain: []string{"outer", "middle", "inner"}, Key: "inner", Line: 1, Column: 5,
			Reason: "unexpected ')'"},
			"in macro `outer` -> `middle` -> `inner` (definition 1:5): unexpected ')'"},
		{"nested commands", "* | `outer_cmd`", 1, 5, MacroFault{Chain: []string{"outer_cmd", "cmd"}, Key: "cmd", Line: 1, Column: 14,
			Reason: `unsupported command "frob"`},
			"in macro `outer_cmd` -> `cmd` (definition 1:14): unsupported command \"frob\""},
		// Positions are in the definition as written: `user=admin OR junk` has junk at 15, `$f$=$v$ OR junk` at 12.
		{"named arguments", "`pick(user, admin)`", 1, 1, MacroFault{Chain: []string{"pick(2)"}, Key: "pick(f,v)", Line: 1, Column: 12,
			Reason: `free-text term "junk" is not supported: this streaming engine matches field=value terms only`},
			"in macro `pick(2)` (definition 1:12): "},
		{"undefined macro in a definition", "`calls_missing`", 1, 1, MacroFault{Chain: []string{"calls_missing"}, Key: "calls_missing",
			Line: 1, Column: 5, Reason: "undefined macro `missing` (load its macro file with the rules, as security_content's " +
				"macros/ folder, or define it in the macros setting)"},
			"in macro `calls_missing` (definition 1:5): undefined macro `missing`"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Compile(tt.search, macros)
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, [2]int{tt.line, tt.column}, [2]int{e.Line, e.Column}, "position; error: %v", err)
			require.NotNil(t, e.Macro, "error: %v", err)
			assert.Equal(t, tt.fault, *e.Macro)
			assert.Contains(t, e.Reason, tt.reason)
			assert.Equal(t, e.Macro.Describe(fmt.Sprintf("definition %d:%d", e.Macro.Line, e.Macro.Column)), e.Reason)
		})
	}

	// A fault inside an argument is where the argument is written: at the reference in the search, or in the
	// definition of the macro that passes it, not in the definition that receives it.
	_, _, err := Compile("`one(a b)`", macros)
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Nil(t, e.Macro)
	assert.Equal(t, [2]int{1, 1}, [2]int{e.Line, e.Column})
	assert.Equal(t, `in argument 1 of macro `+"`one(1)`"+`: free-text term "b" is not supported: this streaming engine matches field=value terms only`, e.Reason)
	_, _, err = Compile("verb=get `passes_junk`", macros)
	require.ErrorAs(t, err, &e)
	require.NotNil(t, e.Macro)
	assert.Equal(t, MacroFault{Chain: []string{"passes_junk"}, Key: "passes_junk", Line: 2, Column: 3,
		Reason: `in argument 1 of macro ` + "`one(1)`" + `: free-text term "b" is not supported: this streaming engine matches field=value terms only`}, *e.Macro)

	// A fault in the search itself, or at a macro reference, is no macro's.
	for _, search := range []string{"a=1 b", "`missing`", "`bad(1)`"} {
		_, _, err := Compile(search, macros)
		var e *Error
		require.ErrorAs(t, err, &e)
		assert.Nil(t, e.Macro, search)
	}
}

// TestSubstitute: arguments replace placeholders as strings.Replacer would, and their spans map the result back.
func TestSubstitute(t *testing.T) {
	for _, tt := range []struct {
		def         string
		names, args []string
	}{
		{"$f$=$v$ OR $f$=x", []string{"f", "v"}, []string{"user", "bob smith"}},
		{"$a$$b$ $$ $c$", []string{"a", "b"}, []string{"$b$", "2"}}, // an argument is not substituted again
		{"$a$ $ab$", []string{"a", "ab"}, []string{"1", "22"}},
		{"no placeholders", []string{"x"}, []string{"1"}},
		{"$x$ $y$", []string{"x", "y"}, []string{"only one"}},
	} {
		var pairs []string
		for i, n := range tt.names {
			if i < len(tt.args) {
				pairs = append(pairs, "$"+n+"$", tt.args[i])
			}
		}
		got, spans := substitute(tt.def, tt.names, tt.args)
		assert.Equal(t, strings.NewReplacer(pairs...).Replace(tt.def), got, tt.def)
		x := &expansion{written: tt.def, text: got, args: spans}
		for _, a := range spans {
			assert.Equal(t, tt.def[a.at:a.at+a.n], "$"+tt.names[slices.Index(tt.args, got[a.from:a.to])]+"$", tt.def)
			assert.Equal(t, a.at, x.writtenOffset(a.from), tt.def)
			assert.Equal(t, a.at+a.n, x.writtenOffset(a.to), "the text after an argument, %s", tt.def)
		}
		assert.Equal(t, len(tt.def), x.writtenOffset(len(got)), "the end, %s", tt.def)
	}
}

func TestMacroDepthLimit(t *testing.T) {
	m := Macros{}
	for i := range 30 {
		m[name(i)] = "`" + name(i+1) + "`"
	}
	m[name(30)] = "a=1"
	_, _, err := Compile("`"+name(0)+"`", m)
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Contains(t, e.Reason, "nested too deeply")
}

func name(i int) string { return "m" + string(rune('a'+i)) }

func TestDefaultMacrosIsACopy(t *testing.T) {
	d := DefaultMacros()
	d["kube_audit"] = "x=1"
	assert.Equal(t, "*", DefaultMacros()["kube_audit"])
}

func TestSplitMacro(t *testing.T) {
	for _, tt := range []struct {
		body string
		name string
		args []string
		ok   bool
	}{
		{"a", "a", nil, true},
		{"a()", "a", nil, true},
		{"a(x)", "a", []string{"x"}, true},
		{`a( x , "y, z" )`, "a", []string{"x", `"y, z"`}, true},
		{`a("x)`, "", nil, false},
		{"a(x", "", nil, false},
		{"(x)", "", nil, false},
	} {
		name, args, ok := splitMacro(tt.body)
		assert.Equal(t, tt.ok, ok, tt.body)
		if tt.ok {
			assert.Equal(t, tt.name, name, tt.body)
			assert.Equal(t, tt.args, args, tt.body)
		}
	}
}
