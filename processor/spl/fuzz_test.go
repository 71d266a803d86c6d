package spl

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/auditdetect/auditdetect/processor/engine"
	"github.com/auditdetect/auditdetect/processor/rule"
)

// arithSeeds are accepted searches with eval's arithmetic and functions (TestFuzzSeedsCompile checks they load).
var arithSeeds = []string{
	"* | eval n=len(requestURI)*2+-1, r=round(n/3, 2) % 7, s=substr(userAgent, -3, 2).tostring(n, \"hex\") | where n - 1 > 2*5 AND mvcount(split(s, \"\")) >= 1 OR NOT isnum(r)",
	"* | stats count dc(x) as d max(n) as m by u | where count*2 > 4 OR m/count > 0.5 | eval m=max(count, d, \"z\"), q=mvindex(split(u, \",\"), -1, 5), j=mvjoin(q, \";\")",
}

func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		"`kube_audit` objectRef.resource=pods verb=create OR verb=update x=*\\\"privileged\\\":true* | fillnull | stats count values(a) as b by c d{} | rename c as e | `x_filter`",
		"a IN (b, \"c d\", *e*) NOT (f!=g OR h>=1) | search NOT `allow` | iplocation prefix=p_ ip",
		"* | where NOT (count > 5 AND like(x, \"a%\")) OR isnull(y) OR 'a.b'==c",
		"a=\"unterminated",
		"((((a=1",
		"| tstats count",
		"a=1 ```comment``` | stats c",
		"`m(a, \"b,c\")`",
		"`m(a b, c)` `allow`",
		"verb=get `lines` `args(x, y z)` `bad`",
		"* | eval x=if(a=\"b\" AND NOT isnull(c), lower('d.e').\"-\".f, case(g>1, \"h\", true(), null())), y=coalesce(x, \"z\")",
		"* | rex field=requestURI max_match=1 \"command=(?<cmd>[^&]+)\" | eval cmd=replace(urldecode(cmd), \"(\\\\w+)\", \"\\\\1\") | stats count by cmd",
		"* | stats count min(_time) as firstTime max(_time) as lastTime by user | `security_content_ctime(firstTime)` | convert ctime(lastTime) AS l, mktime(t) none(u)",
		"* | eval h=strftime(_time, \"%H:%3N %Ez %\"), p=strptime(h, \"%F %T%z\") | where _time > 5 | rename _time as t",
		"_time>5 | convert timeformat=\"%Y\" dur2sec(x)",
		"* | stats count min(_time) as firstTime by user.username sourceIPs{} | rename user.username as user | table firstTime user* \"src\", count | fields - _raw, count | where count > 2",
		"* | table _time, objectRef.* | fields + _time | fields -_raw | table - x",
		"* | fields - _* | where _time > 1 | table",
		"* | bin _time span=10m | stats dc(objectRef.name) as n by _time user.username | where n > 50",
		"* | bucket span=1h _time AS t | rename t as b | stats count by b | where count > 2 | bin b span=90",
		"* | bin bins=3 x | bin _time span=2log10 minspan=1m aligntime=@d | bin _time span=1mon span=0 span=h",
		arithSeeds[0], arithSeeds[1],
		"* | where 1e400 + x > 1 - -1e-3 | eval y=tonumber(\"0A4\", 16), z=1/0, w=\"a\"+\"b\", v=-\"a\", u=a+\"b\"",
		"* | lookup update=true ns namespace AS objectRef.namespace OUTPUT is_allowed | search NOT is_allowed=true",
		"* | lookup ns.csv namespace, is_allowed AS x OUTPUTNEW team AS t | stats count by t | lookup ns namespace AS t",
		"* | lookup local=maybe ns | lookup ns OUTPUT x | lookup nope a | lookup ns namespace AS",
	} {
		f.Add(s)
	}
	// Definitions over several lines and with arguments, so that faults inside them have lines and columns to check.
	macros := Macros{"allow": "a IN (x) `inner`", "inner": "b=1 OR c=2", "m(2)": "$x$=$y$", "loop": "`loop`",
		"lines": "a=1\n  OR b=2\n  c", "args(v,w)": "user=$v$\n  OR verb=$w$ junk", "bad": "a=1 )",
		"security_content_ctime(field)": `convert timeformat="%Y-%m-%dT%H:%M:%S" ctime($field$)`}
	ns, err := rule.NewLookupTable(rule.LookupTable{Name: "ns", Columns: []string{"namespace", "is_allowed", "team"},
		Rows: [][]string{{"kube-system", "true", "platform"}, {"dev-*", "true", ""}}, Match: []rule.LookupMatch{rule.MatchWildcard}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(`* | bin _time span=1d | eval d=strftime(_time, "%F %Z"), p=strptime(d, "%F") | convert mktime(p) ctime(p)`)
	kolkata, err := LoadTimeZone("Asia/Kolkata")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, search string) {
		// The search's time zone changes what its time functions compute, never whether it loads.
		_, zoned, zerr := CompileIn(search, macros, Env{Lookups: LookupTables{"ns": ns}, TimeZone: kolkata})
		filter, pipeline, err := CompileWith(search, macros, LookupTables{"ns": ns})
		if (err == nil) != (zerr == nil) {
			t.Fatalf("%q: %v in UTC, %v in Asia/Kolkata", search, err, zerr)
		}
		if zerr == nil {
			_, _ = engine.Compile([]*rule.Rule{{ID: "f", Name: "f", Filter: filter, Pipeline: zoned}}, engine.Options{})
		}
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error is %T, not *Error: %v", err, err)
			}
			if e.Line < 1 || e.Column < 1 || e.Reason == "" {
				t.Fatalf("bad position or reason: %+v", e)
			}
			if filter != nil || pipeline != nil {
				t.Fatalf("results returned with an error")
			}
			if f := e.Macro; f != nil {
				def, ok := macros[f.Key]
				if !ok {
					def, ok = DefaultMacros()[f.Key]
				}
				if !ok || len(f.Chain) == 0 || f.Line < 1 || f.Column < 1 || f.Line > strings.Count(def, "\n")+1 {
					t.Fatalf("bad macro fault %+v for %q", f, search)
				}
				// The column is within the definition's line (one past its end for "unexpected end").
				if line := strings.Split(def, "\n")[f.Line-1]; f.Column > utf8.RuneCountInString(line)+1 {
					t.Fatalf("macro fault %+v past the end of line %q of %q", f, line, def)
				}
			}
			return
		}
		if filter == nil {
			t.Fatalf("nil filter without error for %q", search)
		}
		// What the parser accepts the engine compiles without panicking (it may still refuse a windowed condition).
		_, _ = engine.Compile([]*rule.Rule{{ID: "f", Name: "f", Filter: filter, Pipeline: pipeline}}, engine.Options{})
	})
}
