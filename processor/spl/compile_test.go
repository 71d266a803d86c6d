package spl

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// Helpers that spell the expected rule model compactly.

func fld(name string) rule.Field { return rule.Field{Name: name} }

// eq is a base-search comparison: a case-insensitive glob.
func eq(field, glob string) rule.Expr {
	return rule.Compare{Field: fld(field), Op: rule.OpEq, Value: rule.Pattern{Kind: rule.Glob, Text: glob}}
}

func cmp(field string, op rule.Op, glob string, caseSensitive bool) rule.Expr {
	return rule.Compare{Field: fld(field), Op: op, Value: rule.Pattern{Kind: rule.Glob, Text: glob, CaseSensitive: caseSensitive}}
}

func exists(field string) rule.Expr { return rule.Exists{Field: fld(field)} }

// numEq is where's = or != against an unquoted number: numeric when the value is a number.
func numEq(field string, op rule.Op, num string) rule.Expr {
	return rule.Compare{Field: fld(field), Op: op, Value: rule.Pattern{Kind: rule.Number, Text: num, CaseSensitive: true}}
}

func not(x rule.Expr) rule.Expr { return rule.Not{X: x} }

func TestCompileFilter(t *testing.T) {
	tests := []struct {
		name   string
		search string
		want   rule.Expr
	}{
		{"single term", `verb=create`, eq("verb", "create")},
		{"implicit AND", `verb=create objectRef.resource=pods`, rule.And{eq("verb", "create"), eq("objectRef.resource", "pods")}},
		{"explicit AND", `verb=create AND objectRef.resource=pods`, rule.And{eq("verb", "create"), eq("objectRef.resource", "pods")}},
		{"OR binds tighter than implicit AND", `a=1 b=2 OR b=3`,
			rule.And{eq("a", "1"), rule.Or{eq("b", "2"), eq("b", "3")}}},
		{"OR binds tighter than explicit AND", `a=1 AND b=2 OR b=3`,
			rule.And{eq("a", "1"), rule.Or{eq("b", "2"), eq("b", "3")}}},
		{"OR chain", `a=1 OR a=2 OR a=3`, rule.Or{eq("a", "1"), eq("a", "2"), eq("a", "3")}},
		{"quoted parentheses", `x="a(b)" y=CASE`, rule.And{eq("x", "a(b)"), eq("y", "CASE")}},
		{"NOT binds tighter than OR", `NOT a=1 OR b=2`, rule.Or{not(eq("a", "1")), eq("b", "2")}},
		{"NOT of a group", `NOT (a=1 OR b=2) c=3`, rule.And{not(rule.Or{eq("a", "1"), eq("b", "2")}), eq("c", "3")}},
		{"double NOT", `NOT NOT a=1`, not(not(eq("a", "1")))},
		{"parentheses regroup", `(a=1 b=2) OR c=3`, rule.Or{rule.And{eq("a", "1"), eq("b", "2")}, eq("c", "3")}},
		{"nested parentheses flatten", `a=1 ((b=2))`, rule.And{eq("a", "1"), eq("b", "2")}},
		{"quoted field name", `"objectRef.resource"=services`, eq("objectRef.resource", "services")},
		{"quoted value with space", `Country="United States"`, eq("Country", "United States")},
		{"spaces around operator", `user = admin`, eq("user", "admin")},
		{"wildcards", `requestObject.message="Pulling image*"`, eq("requestObject.message", "Pulling image*")},
		{"escaped quotes in bare value", `x=*\"privileged\":true*`, eq("x", `*"privileged":true*`)},
		{"escaped quotes in quoted value", `x="say \"hi\""`, eq("x", `say "hi"`)},
		{"escaped backslash", `path="C:\\temp"`, eq("path", `C:\\temp`)},
		// Splunk expands \\, \" and \| only; any other backslash sequence reaches the command as written.
		{"unknown escape kept", `path="C:\temp" x=a\.b`, rule.And{eq("path", `C:\\temp`), eq("x", `a\\.b`)}},
		{"escaped single quote is not an escape outside where", `x=it\'s`, eq("x", `it\\'s`)},
		{"question mark is literal", `requestURI=/api?watch=true`, eq("requestURI", `/api\?watch=true`)},
		{"operator characters inside a value", `q=a=b<c>d!e`, eq("q", "a=b<c>d!e")},
		{"array and slash field names", `user.groups{}=system:masters requestObject.metadata.annotations.kubectl.kubernetes.io/last-applied-configuration=*x*`,
			rule.And{eq("user.groups{}", "system:masters"), eq("requestObject.metadata.annotations.kubectl.kubernetes.io/last-applied-configuration", "*x*")}},
		{"not equal", `verb!=get`, cmp("verb", rule.OpNe, "get", false)},
		{"not equal with wildcard", `user!=system:*`, cmp("user", rule.OpNe, "system:*", false)},
		{"greater than", `responseStatus.code>399`, cmp("responseStatus.code", rule.OpGt, "399", false)},
		{"greater or equal", `n>=5`, cmp("n", rule.OpGe, "5", false)},
		{"less than", `n<5`, cmp("n", rule.OpLt, "5", false)},
		{"less or equal", `n<=5`, cmp("n", rule.OpLe, "5", false)},
		{"ordered comparison is literal", `n>a*?`, cmp("n", rule.OpGt, `a\*\?`, false)},
		{"exists", `user.username=*`, exists("user.username")},
		{"quoted star is exists too", `x="*"`, exists("x")},
		{"not exists", `NOT x=*`, not(exists("x"))},
		{"ne star", `x!=*`, cmp("x", rule.OpNe, "*", false)},
		{"bare star", `*`, rule.True{}},
		{"bare star dropped from AND", `* verb=get`, eq("verb", "get")},
		{"star in OR matches all", `verb=get OR *`, rule.True{}},
		{"empty quoted value", `x=""`, eq("x", "")},
		{"IN list", `ns IN (default, "kube system", *x*)`, rule.Or{eq("ns", "default"), eq("ns", "kube system"), eq("ns", "*x*")}},
		{"IN single", `user.groups{} IN (admin)`, eq("user.groups{}", "admin")},
		{"IN with star", `x IN (*, a)`, rule.Or{exists("x"), eq("x", "a")}},
		{"NOT IN", `NOT name IN (*splunk*, *falco*)`, not(rule.Or{eq("name", "*splunk*"), eq("name", "*falco*")})},
		{"IN in OR", `a=1 OR b IN (2,3)`, rule.Or{eq("a", "1"), eq("b", "2"), eq("b", "3")}},
		{"comments are skipped", "a=1 ```why``` b=2", rule.And{eq("a", "1"), eq("b", "2")}},
		{"multi-line", "a=1\n  b=2\n", rule.And{eq("a", "1"), eq("b", "2")}},
		{"unicode value", `user=jösé`, eq("user", "jösé")},
		{"quoted field with IN", `"a.b" IN (x)`, eq("a.b", "x")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			filter, pipeline, err := Compile(tt.search, nil)
			require.NoError(t, err)
			assert.Equal(t, tt.want, filter)
			assert.Empty(t, pipeline)
		})
	}
}

func TestCompilePipeline(t *testing.T) {
	tests := []struct {
		name   string
		search string
		want   []rule.Stage
	}{
		{"fillnull default", `* | fillnull`, []rule.Stage{rule.FillNull{Value: "0"}}},
		{"fillnull value and fields", `* | fillnull value=NULL a "b c" d{}`,
			[]rule.Stage{rule.FillNull{Value: "NULL", Fields: []string{"a", "b c", "d{}"}}}},
		{"fillnull quoted value", `* | fillnull value="n/a"`, []rule.Stage{rule.FillNull{Value: "n/a"}}},
		{"fillnull a field named value", `* | fillnull value`, []rule.Stage{rule.FillNull{Value: "0", Fields: []string{"value"}}}},
		{"rename pairs", `* | rename sourceIPs{} as src_ip, user.username AS user`,
			[]rule.Stage{rule.Rename{Pairs: []rule.RenamePair{{From: "sourceIPs{}", To: "src_ip"}, {From: "user.username", To: "user"}}}}},
		{"rename quoted, no comma", `* | rename "a b" As c d as "e f"`,
			[]rule.Stage{rule.Rename{Pairs: []rule.RenamePair{{From: "a b", To: "c"}, {From: "d", To: "e f"}}}}},
		{"search", `* | search user!=admin`, []rule.Stage{rule.Search{Cond: cmp("user", rule.OpNe, "admin", false)}}},
		{"search precedence", `* | search a=1 b=2 OR b=3`,
			[]rule.Stage{rule.Search{Cond: rule.And{eq("a", "1"), rule.Or{eq("b", "2"), eq("b", "3")}}}}},
		{"search star is dropped", `* | search *`, nil},
		{"stats count by", `* | stats count by a b{}`,
			[]rule.Stage{rule.Stats{Aggs: []rule.Aggregate{{Func: "count"}}, By: []string{"a", "b{}"}}}},
		{"stats all functions", `* | stats count count(x) values(y) as z dc(u) min(n) MAX(n) as top earliest(t) latest(t) BY k`,
			[]rule.Stage{rule.Stats{Aggs: []rule.Aggregate{
				{Func: "count"}, {Func: "count", Field: "x"}, {Func: "values", Field: "y", As: "z"}, {Func: "dc", Field: "u"},
				{Func: "min", Field: "n"}, {Func: "max", Field: "n", As: "top"}, {Func: "earliest", Field: "t"}, {Func: "latest", Field: "t"},
			}, By: []string{"k"}}}},
		{"stats aliases keep their spelling", `* | stats c dc(x) distinct_count(y)`,
			[]rule.Stage{rule.Stats{Aggs: []rule.Aggregate{{Func: "count", As: "c"}, {Func: "dc", Field: "x"}, {Func: "dc", Field: "y", As: "distinct_count(y)"}}}}},
		{"stats commas", `* | stats count, values(a) by b, c`,
			[]rule.Stage{rule.Stats{Aggs: []rule.Aggregate{{Func: "count"}, {Func: "values", Field: "a"}}, By: []string{"b", "c"}}}},
		{"stats without by", `* | stats count as n`, []rule.Stage{rule.Stats{Aggs: []rule.Aggregate{{Func: "count", As: "n"}}}}},
		{"where count", `* | where count > 5`, []rule.Stage{rule.Where{Cond: cmp("count", rule.OpGt, "5", true)}}},
		{"where operators", `* | where a=1 AND b==2 AND c!=3 AND d<4 AND e<=5 AND f>=6`,
			[]rule.Stage{rule.Where{Cond: rule.And{numEq("a", rule.OpEq, "1"), numEq("b", rule.OpEq, "2"), numEq("c", rule.OpNe, "3"),
				cmp("d", rule.OpLt, "4", true), cmp("e", rule.OpLe, "5", true), cmp("f", rule.OpGe, "6", true)}}}},
		{"where precedence AND over OR", `* | where a=1 OR b=2 AND c=3`,
			[]rule.Stage{rule.Where{Cond: rule.Or{numEq("a", rule.OpEq, "1"), rule.And{numEq("b", rule.OpEq, "2"), numEq("c", rule.OpEq, "3")}}}}},
		{"where parentheses", `* | where (a=1 OR b=2) AND c=3`,
			[]rule.Stage{rule.Where{Cond: rule.And{rule.Or{numEq("a", rule.OpEq, "1"), numEq("b", rule.OpEq, "2")}, numEq("c", rule.OpEq, "3")}}}},
		{"where number out of range compares as text", `* | where x=1e400`, []rule.Stage{rule.Where{Cond: cmp("x", rule.OpEq, "1e400", true)}}},
		// A field an earlier command made is a field of the results, whatever its name.
		{"a renamed field named host", `* | rename objectRef.name as host | where host="x"`,
			[]rule.Stage{rule.Rename{Pairs: []rule.RenamePair{{From: "objectRef.name", To: "host"}}}, rule.Where{Cond: cmp("host", rule.OpEq, "x", true)}}},
		{"a stats output named source", `* | stats count as source by user.username | where source > 5`,
			[]rule.Stage{rule.Stats{Aggs: []rule.Aggregate{{Func: "count", As: "source"}}, By: []string{"user.username"}}, rule.Where{Cond: cmp("source", rule.OpGt, "5", true)}}},
		{"where number too long compares as text", `* | where x=1` + strings.Repeat("0", 70), []rule.Stage{rule.Where{Cond: cmp("x", rule.OpEq, "1"+strings.Repeat("0", 70), true)}}},
		{"where quoted number is a string", `* | where code="403"`, []rule.Stage{rule.Where{Cond: cmp("code", rule.OpEq, "403", true)}}},
		{"where string is literal", `* | where user="adm*n?"`, []rule.Stage{rule.Where{Cond: cmp("user", rule.OpEq, `adm\*n\?`, true)}}},
		{"where constant first flips", `* | where 5 < count`, []rule.Stage{rule.Where{Cond: cmp("count", rule.OpGt, "5", true)}}},
		{"where quoted field", `* | where 'user.name'="x"`, []rule.Stage{rule.Where{Cond: cmp("user.name", rule.OpEq, "x", true)}}},
		// Two fields compare as computed values do: numerically when both are numbers (5 = 5.0), as a < b does.
		{"where field equals field", `* | where a=b`, []rule.Stage{rule.Where{Cond: rule.ValueCompare{Left: fv("a"), Op: rule.OpEq, Right: fv("b")}}}},
		{"where field not equals field", `* | where a!=b`,
			[]rule.Stage{rule.Where{Cond: rule.ValueCompare{Left: fv("a"), Op: rule.OpNe, Right: fv("b")}}}},
		{"where NOT pushes down", `* | where NOT (a="x" OR b>2)`,
			[]rule.Stage{rule.Where{Cond: rule.And{cmp("a", rule.OpNe, "x", true), cmp("b", rule.OpLe, "2", true)}}}},
		{"where not lower-case", `* | where not a<1 and b=2`,
			[]rule.Stage{rule.Where{Cond: rule.And{cmp("a", rule.OpGe, "1", true), numEq("b", rule.OpEq, "2")}}}},
		{"where like", `* | where like(path, "/api/%_x")`,
			[]rule.Stage{rule.Where{Cond: cmp("path", rule.OpEq, `/api/*?x`, true)}}},
		{"where like escapes glob characters", `* | where like(q, "a*b?%")`,
			[]rule.Stage{rule.Where{Cond: cmp("q", rule.OpEq, `a\*b\?*`, true)}}},
		{"where NOT like", `* | where NOT like(path, "%x")`,
			[]rule.Stage{rule.Where{Cond: cmp("path", rule.OpNe, `*x`, true)}}},
		{"where IN", `* | where verb IN ("get", "list") AND code in (403)`,
			[]rule.Stage{rule.Where{Cond: rule.And{rule.Or{cmp("verb", rule.OpEq, "get", true), cmp("verb", rule.OpEq, "list", true)},
				numEq("code", rule.OpEq, "403")}}}},
		{"where NOT IN", `* | where NOT verb IN ("get", "list")`,
			[]rule.Stage{rule.Where{Cond: rule.And{cmp("verb", rule.OpNe, "get", true), cmp("verb", rule.OpNe, "list", true)}}}},
		{"where in()", `* | where in(verb, "get", "list")`,
			[]rule.Stage{rule.Where{Cond: rule.Or{cmp("verb", rule.OpEq, "get", true), cmp("verb", rule.OpEq, "list", true)}}}},
		{"where isnull", `* | where isnull(x)`, []rule.Stage{rule.Where{Cond: not(exists("x"))}}},
		{"where isnotnull", `* | where isnotnull(x)`, []rule.Stage{rule.Where{Cond: exists("x")}}},
		{"where NOT isnull", `* | where NOT isnull(x)`, []rule.Stage{rule.Where{Cond: exists("x")}}},
		{"where match", `* | where match(ua, "^kube")`,
			[]rule.Stage{rule.Where{Cond: rule.Compare{Field: fld("ua"), Op: rule.OpEq, Value: rule.Pattern{Kind: rule.Regex, Text: "^kube", CaseSensitive: true}}}}},
		{"where match keeps an escaped star", `* | where match(x, "a\*b")`,
			[]rule.Stage{rule.Where{Cond: rule.Compare{Field: fld("x"), Op: rule.OpEq,
				Value: rule.Pattern{Kind: rule.Regex, Text: `a\*b`, CaseSensitive: true}}}}},
		{"where match keeps the regex's backslashes", `* | where match(ua, "^kubectl/v\d+\.\d+ \"x\\\\y")`,
			[]rule.Stage{rule.Where{Cond: rule.Compare{Field: fld("ua"), Op: rule.OpEq,
				Value: rule.Pattern{Kind: rule.Regex, Text: `^kubectl/v\d+\.\d+ "x\\y`, CaseSensitive: true}}}}},
		{"where cidrmatch", `* | where cidrmatch("10.0.0.0/8", ip)`,
			[]rule.Stage{rule.Where{Cond: rule.Compare{Field: fld("ip"), Op: rule.OpEq, Value: rule.Pattern{Kind: rule.CIDR, Text: "10.0.0.0/8"}}}}},
		{"where negative and decimal numbers", `* | where a > -1.5e3`, []rule.Stage{rule.Where{Cond: cmp("a", rule.OpGt, "-1.5e3", true)}}},
		{"iplocation", `* | iplocation sourceIPs{}`, []rule.Stage{rule.IPLocation{Field: "sourceIPs{}"}}},
		{"iplocation prefix", `* | iplocation prefix=src_ "sourceIPs{}"`, []rule.Stage{rule.IPLocation{Field: "sourceIPs{}", Prefix: "src_"}}},
		{"command names are case-insensitive", `* | STATS count BY a`,
			[]rule.Stage{rule.Stats{Aggs: []rule.Aggregate{{Func: "count"}}, By: []string{"a"}}}},
		{"pipe inside a quoted value is not a pipe", `* | search x="a|b"`, []rule.Stage{rule.Search{Cond: eq("x", "a|b")}}},
		{"pipes without spaces", `*|fillnull|stats count`,
			[]rule.Stage{rule.FillNull{Value: "0"}, rule.Stats{Aggs: []rule.Aggregate{{Func: "count"}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			filter, pipeline, err := Compile(tt.search, nil)
			require.NoError(t, err)
			assert.Equal(t, rule.True{}, filter)
			assert.Equal(t, tt.want, pipeline)
		})
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name         string
		search       string
		line, column int
		reason       string
	}{
		{"empty", "  ", 1, 3, "empty search"},
		{"free text", `verb=get secrets`, 1, 10, `free-text term "secrets" is not supported`},
		{"free text quoted", `"some phrase"`, 1, 1, "free-text term"},
		{"free text on a later line", "verb=get\n  | search\n    foo", 3, 5, `free-text term "foo"`},
		{"unsupported command", `a=1 | dedup x`, 1, 7, `unsupported command "dedup"`},
		{"unsupported command in a block", "a=1\n  | stats count\n  | dedup a b", 3, 5, `unsupported command "dedup"`},
		{"lookup of no defined lookup", `a=1 | lookup foo`, 1, 14, `undefined lookup "foo"`},
		{"dedup", `a=1 | dedup a`, 1, 7, `unsupported command "dedup"`},
		{"leading pipe", `| tstats count`, 1, 3, `unsupported command "tstats"`},
		{"leading pipe alone", `|`, 1, 1, "must start with a base search"},
		{"subsearch in value", `a=[search b=1]`, 1, 3, "subsearches"},
		// Taken as satisfied anywhere else, a metadata term would change the search: NOT (host=x OR ...) would
		// match nothing, (sourcetype=x OR y=1) everything.
		{"negated metadata", `NOT (host=x OR index=y) verb=get`, 1, 6, "host is Splunk indexing metadata"},
		{"stats over stats", `verb=get | stats count by a b | stats count by a | where count > 5`, 1, 31,
			"a second stats"},
		{"metadata beside a field in an OR", `verb=get (sourcetype=x OR objectRef.resource=secrets)`, 1, 11,
			"not under NOT or beside other fields in an OR"},
		{"metadata in a search command", `verb=get | search NOT host IN (build-*)`, 1, 23, "not in | search"},
		{"metadata not equal", `sourcetype!=kube:objects verb=get`, 1, 1, "sourcetype is Splunk indexing metadata"},
		{"metadata in where", `verb=get | where host="x"`, 1, 18, "where on it would never hold"},
		{"metadata as a stats by-field", `verb=get | stats count by user.username host`, 1, 41, "stats by on it would never hold"},
		{"metadata in where after a rename of something else", `verb=get | rename objectRef.name as x | where host="x"`, 1, 47, "where on it would never hold"},
		{"subsearch term", `a=1 [search b=1]`, 1, 5, "subsearches"},
		{"subsearch command", `a=1 | [search b=1]`, 1, 7, "subsearches"},
		{"missing value", `a= | stats count`, 1, 2, "missing value after '='"},
		{"missing value at end", `a=`, 1, 2, "missing value"},
		{"double equals in search", `a==1`, 1, 2, "not a search operator"},
		{"unbalanced open", `(a=1 b=2`, 1, 1, "missing ')'"},
		{"unbalanced close", `a=1)`, 1, 4, "unexpected ')'"},
		{"OR without left", `OR a=1`, 1, 1, "OR must stand between two search terms"},
		{"OR without right", `a=1 OR`, 1, 7, "missing search term"},
		{"AND without right", `a=1 AND | stats count`, 1, 9, "missing search term"},
		{"NOT without operand", `a=1 NOT`, 1, 8, "missing search term"},
		{"lowercase or is free text", `a=1 or a=2`, 1, 5, `free-text term "or"`},
		{"empty IN", `a IN ()`, 1, 7, "empty IN list"},
		{"IN without paren", `a IN b`, 1, 6, "expected '(' after IN"},
		{"IN unterminated", `a IN (x, y`, 1, 6, "missing ')' for this IN list"},
		{"IN without comma", `a IN (x y)`, 1, 9, "expected ',' or ')'"},
		{"IN trailing comma", `a IN (x,)`, 1, 9, "expected a value in the IN list"},
		{"unterminated string", `a="abc`, 1, 3, "unterminated quoted string"},
		{"quote inside bare value", `a=ab"c"`, 1, 5, "unexpected quote inside an unquoted value"},
		{"backslash star", `a=x\*`, 1, 4, "cannot escape"},
		{"CASE value", `user=CASE(Admin)`, 1, 6, "CASE() is not supported: search values match case-insensitively"},
		{"CASE value closing a group", `(((user=CASE(Admin)) verb=get)`, 1, 9, "CASE() is not supported"},
		{"TERM value in any case", `ip=term(10.0.0.1)`, 1, 4, "TERM() is not supported"},
		{"TERM in an IN list", `user IN (a, TERM(b))`, 1, 13, "TERM() is not supported"},
		{"CASE as free text", `CASE(Admin)`, 1, 1, "CASE() is not supported"},
		{"parenthesis in a bare value", `x=a(b) y=1`, 1, 4, `quote a value that holds parentheses`},
		{"wildcard field", `user*=x`, 1, 1, "wildcard field names"},
		{"unterminated macro", "a=1 `foo", 1, 5, "unterminated macro"},
		{"empty macro", "a=1 ``", 1, 5, "empty macro"},
		{"unterminated comment", "a=1 ```x", 1, 5, "unterminated ``` comment"},
		{"missing command", `a=1 | | stats count`, 1, 7, "missing command before '|'"},
		{"trailing pipe", `a=1 |`, 1, 6, "missing command before end of search"},
		{"rename without as", `* | rename a b`, 1, 14, `expected AS after "a"`},
		{"rename missing target", `* | rename a as`, 1, 16, "expected a new field name"},
		{"rename wildcard", `* | rename a* as b*`, 1, 12, "wildcard field names"},
		{"stats without aggregate", `* | stats by a`, 1, 5, "at least one aggregate"},
		{"stats unknown function", `* | stats avg(x)`, 1, 11, `unsupported stats function "avg"`},
		{"stats option", `* | stats allnum=t count`, 1, 11, `unsupported stats option "allnum"`},
		{"stats values without field", `* | stats values`, 1, 11, "values needs a field"},
		{"stats eval inside", `* | stats count(eval(x>1))`, 1, 21, "expressions inside stats functions"},
		{"stats by nothing", `* | stats count by`, 1, 17, "missing fields after BY"},
		{"iplocation without field", `* | iplocation`, 1, 5, "needs an IP field"},
		{"iplocation option", `* | iplocation allfields=true ip`, 1, 16, `unsupported iplocation option "allfields"`},
		{"iplocation two fields", `* | iplocation a b`, 1, 18, "takes one field"},
		{"search without expression", `* | search | stats count`, 1, 12, "missing search term"},
		{"where empty", `* | where`, 1, 10, "missing condition"},
		{"where bare field", `* | where x`, 1, 11, `field "x" is not a condition`},
		{"where dotted field", `* | where user.name="x"`, 1, 11, "must be in single quotes"},
		{"where two constants", `* | where 1=1`, 1, 11, "two constants"},
		{"where unknown function", `* | where nosuch(x)>3`, 1, 11, "unsupported function nosuch()"},
		{"where IN of a field", `* | where x IN ("a", y)`, 1, 22, "IN takes constants"},
		{"where IN without paren", `* | where x IN "a"`, 1, 16, "expected '(' after IN"},
		{"where IN without comma", `* | where x IN ("a" "b")`, 1, 21, "expected ',' or ')' in the IN list"},
		{"where empty IN", `* | where x IN ()`, 1, 17, "missing value before ')'"},
		{"where in() without values", `* | where in(x)`, 1, 11, "in takes a field and one or more constants"},
		{"where function without comma", `* | where like(x "a%")`, 1, 18, "expected ',' or ')' in like(...)"},
		{"where like wrong args", `* | where like("a", x)`, 1, 11, "like takes a field and a"},
		{"where match bad regex", `* | where match(x, "(?<=a)b")`, 1, 11, "not RE2 syntax"},
		{"where cidrmatch bad", `* | where cidrmatch("10.0.0.0/99", ip)`, 1, 11, "cidrmatch"},
		{"where xor", `* | where a=1 XOR b=2`, 1, 15, "XOR is not supported"},
		{"where trailing junk", `* | where a=1 b=2`, 1, 15, "unexpected"},
		{"where unbalanced", `* | where (a=1`, 1, 11, "missing ')'"},
		{"fillnull wildcard", `* | fillnull a*`, 1, 14, "wildcard field names"},
		{"columns count characters", `user=jösé bad`, 1, 11, `free-text term "bad"`},
		{"deep nesting", repeat("(", 200) + "a=1" + repeat(")", 200), 1, 101, "nested too deeply"},
		{"deep NOT", repeat("NOT ", 200) + "a=1", 1, 401, "nested too deeply"},
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

func repeat(s string, n int) string {
	var out string
	for range n {
		out += s
	}
	return out
}

func TestErrorString(t *testing.T) {
	_, _, err := Compile("a=1\n  | dedup x", nil)
	require.EqualError(t, err, `line 2, column 5: unsupported command "dedup"`)
}

func TestLineCol(t *testing.T) {
	src := "ab\ncdé\nf"
	for _, tt := range []struct{ pos, line, col int }{
		{0, 1, 1}, {2, 1, 3}, {3, 2, 1}, {7, 2, 4}, {8, 3, 1}, {9, 3, 2}, {-1, 1, 1}, {100, 3, 2},
	} {
		line, col := lineCol(src, tt.pos)
		assert.Equal(t, [2]int{tt.line, tt.col}, [2]int{line, col}, "pos %d", tt.pos)
	}
}

// TestLongChainIsLinear: a where chain of one operator (an IN list, a generated `a OR b OR c ...`) compiles in memory
// linear in its length. It was quadratic (each term joined to the ones before copied them): an IN list of 50,000
// values took 16 s to load. Measured as bytes allocated, which do not depend on the machine: four times the values
// must cost well under the sixteen times a quadratic join would.
func TestLongChainIsLinear(t *testing.T) {
	allocated := func(n int) uint64 {
		vals := make([]string, n)
		for i := range vals {
			vals[i] = fmt.Sprintf(`"user%d"`, i)
		}
		search := "verb=get | rename user.username as u | where u IN (" + strings.Join(vals, ", ") + ") OR u=" +
			strings.Join(vals, " OR u=")
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		if _, _, err := Compile(search, nil); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc
	}
	small, large := allocated(2000), allocated(8000)
	if ratio := float64(large) / float64(small); ratio > 6 {
		t.Errorf("4x the values allocate %.1fx the bytes (%d vs %d): not linear", ratio, large, small)
	}
}
