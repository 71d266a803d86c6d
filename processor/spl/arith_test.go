package spl

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// Eval's arithmetic and functions: what they compile to, what they compute on an event (through the engine), and
// the misuse refused where it is written.

func num(text string) rule.Value                    { return rule.Constant{Text: text} }
func call(fn string, args ...rule.Value) rule.Value { return rule.Call{Func: fn, Args: args} }

func TestArithCompiles(t *testing.T) {
	for _, tt := range []struct {
		name, search string
		want         rule.Stage
	}{
		{"a function compared", `* | where len(requestURI) > 2000`,
			rule.Where{Cond: rule.ValueCompare{Left: call("length", fv("requestURI")), Op: rule.OpGt, Right: num("2000")}}},
		// Arithmetic of constants is folded: the comparison stays one of a field, which a window reads as it fills.
		{"constants folded", `* | where duration > 60*5`, rule.Where{Cond: cmp("duration", rule.OpGt, "300", true)}},
		{"precedence", `* | eval x=2*3+4-10/4`, rule.Eval{To: "x", Value: num("7.5")}},
		{"parentheses", `* | eval x=2*(3+4)`, rule.Eval{To: "x", Value: num("14")}},
		{"left to right", `* | eval x=10-2-3`, rule.Eval{To: "x", Value: num("5")}},
		{"modulo", `* | eval x=2*3%4`, rule.Eval{To: "x", Value: num("2")}},
		{"a negative number stays as written", `* | eval x=-1.50`, rule.Eval{To: "x", Value: num("-1.50")}},
		{"double minus", `* | eval x=-(-3)`, rule.Eval{To: "x", Value: num("3")}},
		{"exponent", `* | eval x=1e-3*2`, rule.Eval{To: "x", Value: num("0.002")}},
		{"division by zero is null", `* | eval x=1/0`, rule.Eval{To: "x", Value: rule.Constant{Null: true}}},
		{"two strings joined by +", `* | eval x="a"+"b"`, rule.Eval{To: "x", Value: rule.Constant{Text: "ab"}}},
		{"fields", `* | eval ratio=failures/count`, rule.Eval{To: "ratio", Value: call("divide", fv("failures"), fv("count"))}},
		{"unary minus of a field", `* | eval x=-'a.b'`, rule.Eval{To: "x", Value: call("negate", fv("a.b"))}},
		{"sum compared with a field", `* | where a + b > c`,
			rule.Where{Cond: rule.ValueCompare{Left: call("add", fv("a"), fv("b")), Op: rule.OpGt, Right: fv("c")}}},
		{"two fields ordered", `* | where a < b`, rule.Where{Cond: rule.ValueCompare{Left: fv("a"), Op: rule.OpLt, Right: fv("b")}}},
		{"a field and a function", `* | where x=lower(y)`,
			rule.Where{Cond: rule.ValueCompare{Left: fv("x"), Op: rule.OpEq, Right: call("to_lower", fv("y")), AsText: true}}},
		{"strings compare as text", `* | where substr(x, 1, 2) = "01"`,
			rule.Where{Cond: rule.ValueCompare{Left: call("substr", fv("x"), num("1"), num("2")), Op: rule.OpEq, Right: rule.Constant{Text: "01"}, AsText: true}}},
		// NOT goes down to the operator: a comparison with null stays false.
		{"NOT of a computed comparison", `* | where NOT a - 1 > 2`,
			rule.Where{Cond: rule.ValueCompare{Left: call("subtract", fv("a"), num("1")), Op: rule.OpLe, Right: num("2")}}},
		{"IN of computed constants", `* | where x IN (1, -2, 2*3)`,
			rule.Where{Cond: rule.Or{numEq("x", rule.OpEq, "1"), numEq("x", rule.OpEq, "-2"), numEq("x", rule.OpEq, "6")}}},
		{"IN of a computed value", `* | where len(x) IN (1, 2)`, rule.Where{Cond: rule.Or{
			rule.ValueCompare{Left: call("length", fv("x")), Op: rule.OpEq, Right: num("1")},
			rule.ValueCompare{Left: call("length", fv("x")), Op: rule.OpEq, Right: num("2")}}}},
		{"isnull of a value", `* | where isnull(tonumber(x))`,
			rule.Where{Cond: not(rule.ValueCompare{Left: call("to_number", fv("x"), num("10"))})}},
		{"isnum of a field", `* | where isnum(x)`, rule.Where{Cond: rule.ValueCompare{Left: call("numbers", fv("x"))}}},
		{"isnum of a number is isnotnull", `* | where isnum(len(x))`, rule.Where{Cond: rule.ValueCompare{Left: call("length", fv("x"))}}},
		{"isstr of a number is false", `* | where isstr(len(x))`, rule.Where{Cond: not(rule.True{})}},
		{"NOT isint", `* | where NOT isint(x)`, rule.Where{Cond: not(rule.ValueCompare{Left: call("integers", fv("x"))})}},
		{"comparison with null never holds", `* | where NOT x=null()`, rule.Where{Cond: not(rule.True{})}},
		{"mvcount", `* | eval n=mvcount('user.groups{}')`, rule.Eval{To: "n", Value: call("mv_count", fv("user.groups{}"))}},
		{"tostring hex", `* | eval x=tostring(n, "hex")`, rule.Eval{To: "x", Value: call("to_hex", fv("n"))}},
		{"tostring of a value is the value", `* | eval x=tostring(n)`, rule.Eval{To: "x", Value: fv("n")}},
		{"tonumber in a base", `* | eval x=tonumber(h, 16)`, rule.Eval{To: "x", Value: call("to_number", fv("h"), num("16"))}},
		{"round", `* | eval x=round(r)`, rule.Eval{To: "x", Value: call("round", fv("r"), num("0"))}},
		{"ceiling", `* | eval x=ceiling(r)+ceil(r)`, rule.Eval{To: "x", Value: call("add", call("ceil", fv("r")), call("ceil", fv("r")))}},
		{"exact changes nothing", `* | eval x=exact(a*b)`, rule.Eval{To: "x", Value: call("multiply", fv("a"), fv("b"))}},
		{"coalesce of computed values", `* | eval x=coalesce(tonumber(a), 0)`, rule.Eval{To: "x", Value: rule.Case{Whens: []rule.When{
			{Cond: rule.ValueCompare{Left: call("to_number", fv("a"), num("10"))}, Then: call("to_number", fv("a"), num("10"))},
			{Cond: rule.True{}, Then: num("0")}}}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, stages, err := Compile(tt.search, nil)
			require.NoError(t, err)
			require.Len(t, stages, 1)
			assert.Equal(t, tt.want, stages[0])
		})
	}
}

// TestArithEvaluates runs eval on one event through the engine: Splunk's semantics of each operator and function.
func TestArithEvaluates(t *testing.T) {
	for _, tc := range []struct{ eval, want string }{
		{`x=len(requestURI)`, "137"},
		{`x=len("jösé")`, "4"}, // code points, not bytes
		{`x='responseStatus.code' + 1`, "102"},
		{`x='responseStatus.code' * 2 - 2`, "200"},
		{`x=7/2`, "3.5"},
		{`x=6/3`, "2"}, // a whole number without a fraction
		{`x=1/3`, "0.3333333333333333"},
		{`x=10 % 3`, "1"},
		{`x=-7 % 3`, "-1"},
		{`x=5.5 % 2`, "1.5"},
		{`x=1e3 + 1`, "1001"},
		{`x=010 + 1`, "11"}, // decimal, not octal
		{`x=0 * -1`, "0"},   // not -0
		{`x=-0 + 0`, "0"},
		{`x=-0`, "-0"},                                 // a number written keeps its form
		{`x=1e308 * 10`, "inf"},                        // Splunk's spelling of infinity
		{`x=9007199254740993 + 0`, "9007199254740992"}, // a double's precision
		{`x=0.1 + 0.2`, "0.30000000000000004"},
		{`x=1e21 * 1`, "1e+21"},
		{`x=verb + userAgent`, "createkubectl/v1.30.0"}, // two strings joined
		{`x=substr("string", 1, 3) + substr("string", -3)`, "string"}, // the Search Reference's example
		{`x=substr(verb, 2)`, "reate"},
		{`x=substr(verb, 0, 2)`, "c"}, // SQLite: 0 is before the first
		{`x=substr(verb, -3, 2)`, "at"},
		{`x=substr(verb, 3, -2)`, "cr"},
		{`x=substr(verb, -10)`, "create"},
		{`x=len(substr(verb, 10))`, "0"}, // an empty string, as SQLite gives
		{`x=tonumber("0A4", 16)`, "164"}, // the Search Reference's example
		{`x=tonumber("-ff", 16)`, "-255"},
		{`x=tonumber("010")`, "10"},
		{`x=tonumber('responseStatus.code') + 1`, "102"},
		{`x=tostring(15, "hex")`, "0xF"},
		{`x=tostring(12345.6789, "commas")`, "12,345.68"},
		{`x=tostring(1234567, "commas")`, "1,234,567"},
		{`x=tostring(615, "duration")`, "00:10:15"},
		{`x=tostring(90061, "duration")`, "1+01:01:01"},
		{`x=tostring('responseStatus.code') . "!"`, "101!"},
		{`x=abs(-3.5)`, "3.5"},
		{`x=ceil(1.1)`, "2"},
		{`x=ceiling(-1.5)`, "-1"},
		{`x=floor(1.9)`, "1"},
		{`x=round(3.5)`, "4"},
		{`x=round(-4.5)`, "-4"}, // half toward +infinity, as Splunk's round
		{`x=round(-4.51)`, "-5"},
		{`x=round(2.675, 2)`, "2.68"}, // on the decimal written, not the double below it
		{`x=round(1234, -2)`, "1200"},
		{`x=max(1, 3, 6, 7, "foo", verb)`, "foo"}, // strings are greater than numbers
		{`x=min(1, 3, 6, 7, "foo", verb)`, "1"},
		{`x=max('responseStatus.code', 9, 100)`, "101"},
		{`x=min('user.groups{}')`, "dev"}, // every value of a multi-valued field
		{`x=mvcount('user.groups{}')`, "2"},
		{`x=mvcount(verb)`, "1"},
		{`x=mvindex('user.groups{}', -1)`, "system:authenticated"},
		{`x=mvindex('user.groups{}', 0)`, "dev"},
		{`x=mvjoin('user.groups{}', ";")`, "dev;system:authenticated"},
		{`x=mvcount(split("a,b,,c", ","))`, "4"},
		{`x=mvindex(split('user.username', ""), 1)`, "l"},
		{`x=if(isnum('responseStatus.code') AND isint('responseStatus.code') AND isstr(verb) AND NOT isnum(verb), "y", "n")`, "y"},
		{`x=if(isint(1.5) OR isint("1"), "y", "n")`, "n"},
		{`x=exact(3 * 0.5)`, "1.5"},
	} {
		t.Run(tc.eval, func(t *testing.T) {
			rows := evalRows(t, "eval "+tc.eval+" | stats count by x", execEvent)
			if tc.want == "" {
				assert.Empty(t, rows)
				return
			}
			assert.Equal(t, tc.want, one(t, rows, "x"))
		})
	}
}

// TestArithNulls: each gives x no value: a missing field, a value that is no number, a multi-valued field in a
// single-value function, a division by zero, an index out of range.
func TestArithNulls(t *testing.T) {
	for _, eval := range []string{
		`x=nosuch + 1`,
		`x=verb - 1`,
		`x=verb + 1`, // a string and a number
		`x='user.groups{}' + 1`,
		`x=len('user.groups{}')`, // "This function is not supported on multivalue fields"
		`x='responseStatus.code' / 0`,
		`x='responseStatus.code' % 0`,
		`x=1 / (2 - 2)`,
		`x=tonumber(verb)`,
		`x=tonumber(trim(" 5", "x"))`, // a space around it: no number
		`x=tostring(-1, "hex")`,
		`x=tostring(1.5, "duration")`,
		`x=mvindex('user.groups{}', 2)`,
		`x=mvindex('user.groups{}', 1, 0)`,
		`x=mvcount(nosuch)`,
		`x=abs(verb)`,
		`x=substr(verb, userAgent)`,
		`x=min(nosuch, impersonatedUser)`,
		`x=null() + 1`,
	} {
		t.Run(eval, func(t *testing.T) {
			assert.Empty(t, evalRows(t, "eval "+eval+" | stats count by x", execEvent))
		})
	}
}

// TestArithWhere: where (and if's conditions) compare computed values on the event; a comparison with a missing
// field never holds, under NOT neither.
func TestArithWhere(t *testing.T) {
	for _, tc := range []struct {
		where string
		holds bool
	}{
		{`len(requestURI) > 100`, true},
		{`len(requestURI) > 2000`, false},
		{`NOT len(requestURI) > 2000`, true},
		{`mvcount('user.groups{}') >= 2`, true},
		{`mvcount('user.groups{}') >= 3`, false},
		{`'responseStatus.code' - 1 = 100`, true},
		{`'responseStatus.code' + 0 = 101.0`, true}, // numbers compare as numbers
		{`'responseStatus.code' > len(verb)`, true}, // two computed values
		{`len(verb) < 'responseStatus.code'`, true},
		{`'user.groups{}' = lower("DEV")`, true}, // some value of a multi-valued field
		{`'user.groups{}' != lower("DEV")`, false},
		{`'user.groups{}' > "s"`, true},
		{`substr(userAgent, 1, 7) = "kubectl"`, true},
		{`substr('responseStatus.code', 1, 2) = "10"`, true},
		// = with a string compares text, as where code="403" does: 101 is not "101.0".
		{`mvindex('responseStatus.code', 0) = "101.0"`, false},
		{`mvindex('responseStatus.code', 0) = 101.0`, true},
		{`mvindex('responseStatus.code', 0) > "11"`, true}, // ordering compares numbers when both are
		{`tostring('responseStatus.code') = "101"`, true},
		{`tostring('responseStatus.code') = "101.0"`, false}, // text, not numbers
		// null: a missing field makes the comparison false, and NOT of it false too.
		{`len(nosuch) > 5`, false},
		{`NOT len(nosuch) > 5`, false},
		{`NOT (len(nosuch) > 5 OR len(nosuch) <= 5)`, false},
		{`isnull(len(nosuch))`, true},
		{`NOT isnotnull(nosuch + 1)`, true},
		{`nosuch < verb`, false},
		{`NOT nosuch < verb`, false},
		{`isnum(nosuch) OR isstr(nosuch) OR isint(nosuch)`, false},
		{`NOT isnum(nosuch)`, true},
		// A constant folded past a double's range is the text inf (a number the engine would refuse to load).
		{`'responseStatus.code' = 1e308 * 10`, false},
		{`'responseStatus.code' != -(1e308 * 10)`, true},
		{`if(len(verb) = 6, "six", "other") = "six"`, true},
		{`case(len(verb) > 10, "long", len(verb) > 3, "mid") = "mid"`, true},
	} {
		t.Run(tc.where, func(t *testing.T) {
			rows := evalRows(t, "where "+tc.where, execEvent)
			assert.Equal(t, tc.holds, rows != nil)
		})
	}
}

// TestArithErrors: misuse the compiler can see fails to load where it is written.
func TestArithErrors(t *testing.T) {
	for _, tt := range []struct {
		search       string
		line, column int
		reason       string
	}{
		{`* | eval x=1 + "a"`, 1, 14, "+ of a number and a string is null in Splunk"},
		{`* | eval x=a + "a"`, 1, 14, "write . to join text, or tonumber() to add"},
		{`* | eval x="5" - 1`, 1, 16, "'-' takes numbers, not a string"},
		{`* | eval x=-"5"`, 1, 12, "'-' takes a number, not a string"},
		{`* | eval x=+a`, 1, 12, "unary '+' is supported before a number only"},
		{`* | where len(x) = "5"`, 1, 18, "compares a number with a string"},
		{`* | eval x=1e400 + 1`, 1, 12, "1e400 is not a number eval can compute with"},
		{`* | eval x=tonumber("abc")`, 1, 21, `tonumber cannot read "abc" as a number in base 10`},
		{`* | eval x=tonumber("g", 16)`, 1, 21, `cannot read "g" as a number in base 16`},
		{`* | eval x=tonumber(a, 37)`, 1, 24, "the base must be a whole number from 2 to 36"},
		{`* | eval x=tonumber(a, b)`, 1, 24, "the base must be a whole number from 2 to 36"},
		{`* | eval x=tostring(a, "foo")`, 1, 24, `the format must be "hex", "commas" or "duration"`},
		{`* | eval x=tostring("a", "hex")`, 1, 21, "this argument is a number, not a string"},
		{`* | eval x=substr(a, "b")`, 1, 22, "this argument is a number, not a string"},
		{`* | eval x=abs("x")`, 1, 16, "this argument is a number, not a string"},
		{`* | eval x=round(a, b)`, 1, 21, "round: the number of decimals must be a whole number"},
		{`* | eval x=len()`, 1, 12, "len takes len(value)"},
		{`* | eval x=len(a, b)`, 1, 12, "len takes len(value)"},
		{`* | eval x=substr(a)`, 1, 12, "substr takes substr(value, start) or substr(value, start, length)"},
		{`* | eval x=mvindex(a)`, 1, 12, "mvindex takes mvindex(value, start)"},
		{`* | eval x=min()`, 1, 12, "min takes min(value, ...)"},
		{`* | where isnum(a, b)`, 1, 11, "isnum takes one value"},
		{`* | eval x=nosuch(a)`, 1, 12, "unsupported function nosuch()"},
		{`* | where (a=1) + 2 > 3`, 1, 11, "a condition is not a value"},
		{`* | eval x=len(a > 1)`, 1, 16, "a condition is not a value"},
		{`* | where a + 1`, 1, 11, "a value is not a condition"},
		{`* | where 2*5 > 3`, 1, 11, "two constants"},
		{`* | where x IN (1, y + 1)`, 1, 20, "IN takes constants"},
		{"* | where a=1\n  AND len(x) > \"3\"", 2, 14, "compares a number with a string"},
	} {
		t.Run(tt.search, func(t *testing.T) {
			_, _, err := Compile(tt.search, nil)
			require.Error(t, err)
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Contains(t, e.Reason, tt.reason)
			assert.Equal(t, [2]int{tt.line, tt.column}, [2]int{e.Line, e.Column}, "line, column; error: %v", err)
		})
	}
}

// TestArithDepth: a chain of operators nests one level per operator in the rule model, which the engine compiles and
// evaluates by recursion; half a million of them (a rule file of 1 MiB) overflowed the stack and killed the process.
// Past maxDepth levels the rule fails to load where the bound is crossed; up to it, it loads and runs. A
// concatenation chain, an AND chain and an IN list are flat and not bounded.
func TestArithDepth(t *testing.T) {
	chain := func(op string, n int) string { return "x" + strings.Repeat(" "+op+" x", n) }
	for _, tc := range []struct {
		name, search string
		column       int
	}{
		// n operators are n levels: the operator that makes level maxDepth+1 is the error.
		{"a chain of +", "* | eval y = " + chain("+", maxDepth+1), 12 + 4*(maxDepth+1)},
		{"a chain of *", "* | eval y = " + chain("*", maxDepth+5), 12 + 4*(maxDepth+1)},
		{"a comparison is a level", "* | where " + chain("-", maxDepth) + " > 5", 13 + 4*maxDepth},
		{"a call is a level", "* | eval y = abs(" + chain("/", maxDepth) + ")", 14},
		{"unary minus is a level", "* | eval y = -(" + chain("%", maxDepth) + ")", 14},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Compile(tc.search, nil)
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Contains(t, e.Reason, "expression nested too deeply")
			assert.Equal(t, [2]int{1, tc.column}, [2]int{e.Line, e.Column})
		})
	}
	// At the bound it loads and computes: n + n + ... with maxDepth-1 additions, under the eval's own level.
	rows := evalRows(t, "eval n=1 | eval y = n"+strings.Repeat(" + n", maxDepth)+" | stats count by y", execEvent)
	assert.Equal(t, fmt.Sprint(maxDepth+1), one(t, rows, "y"))
	for _, search := range []string{
		"* | eval y = " + chain(".", 50000),
		"* | where " + strings.Repeat("len(x) > 1 AND ", 50000) + "x = 1",
		"* | where len(x) IN (" + strings.Repeat("1, ", 50000) + "2)",
	} {
		_, _, err := Compile(search, nil)
		require.NoError(t, err, "%.40s...", search)
	}
}

// TestArithNullInList: null() in an IN list (or a constant folded to null, 1/0) compares with nothing, as `x =
// null()` does: it is not the empty string. Under NOT the list stays null when no other constant matches.
func TestArithNullInList(t *testing.T) {
	for _, tc := range []struct {
		where string
		holds bool
	}{
		{`e IN (null(), "zz")`, false},
		{`in(e, null())`, false},
		{`e IN (1/0)`, false},
		{`e IN (null(), "")`, true},
		{`NOT e IN (null(), "zz")`, false},
		{`NOT e IN (null(), "")`, false},
		{`NOT e IN ("zz")`, true},
	} {
		t.Run(tc.where, func(t *testing.T) {
			rows := evalRows(t, `eval e="" | where `+tc.where, execEvent)
			assert.Equal(t, tc.holds, rows != nil)
		})
	}
}

// TestArithTwoFields: two fields compare as a field and a number do, numerically when both values are numbers, so
// that a = b agrees with a >= b AND a <= b (5 and 5.0 are equal both ways); other values as text, case-sensitively.
// A field without a value makes either comparison false, and NOT of it too.
func TestArithTwoFields(t *testing.T) {
	for _, tc := range []struct {
		where string
		holds bool
	}{
		{`a = b`, true},
		{`a >= b AND a <= b`, true},
		{`a != b`, false},
		{`NOT a = b`, false},
		{`a = c`, false}, // "5" and "5x": text
		{`a != c`, true},
		{`c = d`, false}, // case-sensitive
		{`a = nosuch`, false},
		{`a != nosuch`, false},
		{`NOT a = nosuch`, false},
	} {
		t.Run(tc.where, func(t *testing.T) {
			rows := evalRows(t, `eval a="5", b="5.0", c="5x", d="5X" | where `+tc.where, execEvent)
			assert.Equal(t, tc.holds, rows != nil)
		})
	}
}

// TestNumberWithoutDigitOnOneSideOfItsPoint: a field's value ".5", "5." or "-.5" is a number, compared as one
// (rule.IsDecimal), in where and in the search command. Written in eval syntax, `.5` and `5.` are refused where they
// are written: Splunk does not document whether eval reads them as numbers or the `.` beside a number as the
// concatenation operator, and reading `5. + 1` as 5 joined to +1 made the text "51".
func TestNumberWithoutDigitOnOneSideOfItsPoint(t *testing.T) {
	for _, tc := range []struct {
		pipeline, body string
		holds          bool
	}{
		{`where x > 4`, `{"x":"5."}`, true},
		{`where x > 40`, `{"x":"5."}`, false}, // as text, "5." > "40" would hold
		{`where x > 0.4`, `{"x":".5"}`, true},
		{`where x < 0`, `{"x":"-.5"}`, true},
		{`where x = 0.5`, `{"x":".5"}`, true},
		{`search x>4`, `{"x":"5."}`, true},
		{`search x>40`, `{"x":"5."}`, false},
		{`search x>.4`, `{"x":"0.5"}`, true}, // the search command takes its value as written: a number
	} {
		t.Run(tc.pipeline+" "+tc.body, func(t *testing.T) {
			assert.Equal(t, tc.holds, evalRows(t, tc.pipeline, tc.body) != nil)
		})
	}

	for _, tc := range []struct {
		search       string
		line, column int
		want         string
	}{
		{`* | where x > .5`, 1, 15, "write .5 as 0.5"},
		{`* | where x > -.5`, 1, 16, "write .5 as 0.5"},
		{`* | eval y = .25e3 * 2`, 1, 14, "write .25 as 0.25"},
		{`* | where x > 5.`, 1, 15, "write 5. as 5:"},
		{`* | eval y = 5. + 1`, 1, 14, "write 5. as 5:"},
		{`* | eval y = "a".5`, 1, 17, "write .5 as 0.5"},
		{"* | eval y = 1\n  + 10.", 2, 5, "write 10. as 10:"},
		{`* | eval y = 1e5. + 1`, 1, 14, "write 1e5. as 1e5:"},
	} {
		t.Run(tc.search, func(t *testing.T) {
			_, _, err := Compile(tc.search, nil)
			var se *Error
			require.ErrorAs(t, err, &se)
			assert.Equal(t, [2]int{tc.line, tc.column}, [2]int{se.Line, se.Column})
			assert.Contains(t, se.Reason, tc.want)
			assert.Contains(t, se.Reason, "put spaces around it")
		})
	}

	// After a name, the field is to be quoted, as for any name with a point.
	_, _, err := Compile(`* | eval y = a.5`, nil)
	assert.ErrorContains(t, err, "write the field a.5 in single quotes ('a.5')")

	// Written apart, . joins, and a point between digits is a number's.
	for search, want := range map[string]string{
		`* | eval y = 5 . 1`:       "51",
		`* | eval y = "a" . 5`:     "a5",
		`* | eval y = 0.5 + 1.0`:   "1.5",
		`* | eval y = -0.5 * 1e1`:  "-5",
		`* | eval y = "v1.".2 . 3`: "", // refused: .2
	} {
		_, pipeline, err := Compile(search, nil)
		if want == "" {
			assert.Error(t, err, search)
			continue
		}
		require.NoError(t, err, search)
		assert.Equal(t, []rule.Stage{rule.Eval{To: "y", Value: rule.Constant{Text: want}}}, pipeline, search)
	}
}
