package spl

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// setTime is the stage the compiler puts first when the search reads _time.
var setTime = rule.Eval{To: "_time", Value: rule.Call{Func: "event_time"}}

func fv(name string) rule.Value { return rule.FieldValue{Field: fld(name)} }

func ctime(field, to, format string) rule.Stage {
	return rule.Eval{To: to, Value: rule.Call{Func: "format_time_lenient", Args: []rule.Value{fv(field), rule.Constant{Text: format}}}}
}

const escuFormat = "%Y-%m-%dT%H:%M:%S"

// escuCtime is security_content's macro, as its file defines it: `convert timeformat="%Y-%m-%dT%H:%M:%S" ctime($field$)`.
var escuCtime = Macros{"security_content_ctime(field)": `convert timeformat="` + escuFormat + `" ctime($field$)`}

func TestTimeAfterThePipe(t *testing.T) {
	firstLast := rule.Stats{Aggs: []rule.Aggregate{{Func: "count"}, {Func: "min", Field: "_time", As: "firstTime"},
		{Func: "max", Field: "_time", As: "lastTime"}}, By: []string{"user.username"}}
	tests := []struct {
		name, search string
		want         []rule.Stage
	}{
		{"ESCU's house style", "`kube_audit` verb=get | stats count min(_time) as firstTime max(_time) as lastTime by user.username" +
			" | `security_content_ctime(firstTime)` | `security_content_ctime(lastTime)` | `x_filter`",
			[]rule.Stage{setTime, firstLast, ctime("firstTime", "firstTime", escuFormat), ctime("lastTime", "lastTime", escuFormat)}},
		{"earliest, latest and values", "* | stats earliest(_time) latest(_time) as l values(_time) as v",
			[]rule.Stage{setTime, rule.Stats{Aggs: []rule.Aggregate{{Func: "earliest", Field: "_time"}, {Func: "latest", Field: "_time", As: "l"},
				{Func: "values", Field: "_time", As: "v"}}}}},
		{"by _time", "* | stats count by _time", []rule.Stage{setTime, rule.Stats{Aggs: []rule.Aggregate{{Func: "count"}}, By: []string{"_time"}}}},
		{"where", "* | where _time >= 1764000000", []rule.Stage{setTime,
			rule.Where{Cond: rule.Compare{Field: fld("_time"), Op: rule.OpGe, Value: rule.Literal("1764000000", true)}}}},
		{"search command", "* | search _time>1764000000", []rule.Stage{setTime,
			rule.Search{Cond: rule.Compare{Field: fld("_time"), Op: rule.OpGt, Value: rule.Literal("1764000000", false)}}}},
		{"eval", `* | eval hour=strftime(_time, "%H")`, []rule.Stage{setTime,
			rule.Eval{To: "hour", Value: rule.Call{Func: "format_time", Args: []rule.Value{fv("_time"), rule.Constant{Text: "%H"}}}}}},
		{"eval condition", `* | eval late=if(_time > 5, "y", "n")`, []rule.Stage{setTime, rule.Eval{To: "late", Value: rule.Case{
			Whens: []rule.When{{Cond: rule.Compare{Field: fld("_time"), Op: rule.OpGt, Value: rule.Literal("5", true)}, Then: rule.Constant{Text: "y"}}},
			Else:  rule.Constant{Text: "n"}}}}},
		{"rename", "* | rename _time as t", []rule.Stage{setTime, rule.Rename{Pairs: []rule.RenamePair{{From: "_time", To: "t"}}}}},
		{"convert in place", "* | convert ctime(_time)", []rule.Stage{setTime, ctime("_time", "_time", "%m/%d/%Y %H:%M:%S")}},
		// After stats, _time is what stats made of it: nothing here, as in Splunk.
		{"only after stats", "* | stats count by user | where _time > 5", []rule.Stage{
			rule.Stats{Aggs: []rule.Aggregate{{Func: "count"}}, By: []string{"user"}},
			rule.Where{Cond: rule.Compare{Field: fld("_time"), Op: rule.OpGt, Value: rule.Literal("5", true)}}}},
		{"not read", "* | stats count by user", []rule.Stage{rule.Stats{Aggs: []rule.Aggregate{{Func: "count"}}, By: []string{"user"}}}},
		// Set where it is first read: a leading search stays a condition on the event itself.
		{"first read later", "* | search verb=get | where _time > 5", []rule.Stage{rule.Search{Cond: eq("verb", "get")}, setTime,
			rule.Where{Cond: rule.Compare{Field: fld("_time"), Op: rule.OpGt, Value: rule.Literal("5", true)}}}},
		// Set by the search before any read: the event's time is never read.
		{"set first", `* | eval _time=strptime(t, "%F") | stats min(_time)`, []rule.Stage{
			rule.Eval{To: "_time", Value: rule.Call{Func: "parse_time", Args: []rule.Value{fv("t"), rule.Constant{Text: "%F"}}}},
			rule.Stats{Aggs: []rule.Aggregate{{Func: "min", Field: "_time"}}}}},
		{"read to set", `* | eval _time=coalesce(_time, "0")`, []rule.Stage{setTime, rule.Eval{To: "_time", Value: rule.Case{Whens: []rule.When{
			{Cond: exists("_time"), Then: fv("_time")}, {Cond: rule.True{}, Then: rule.Constant{Text: "0"}}}}}}},
		{"renamed onto", "* | rename x as _time | stats max(_time)", []rule.Stage{rule.Rename{Pairs: []rule.RenamePair{{From: "x", To: "_time"}}},
			rule.Stats{Aggs: []rule.Aggregate{{Func: "max", Field: "_time"}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, pipeline, err := Compile(tt.search, escuCtime)
			require.NoError(t, err)
			assert.Equal(t, tt.want, pipeline)
		})
	}
}

// TestTimeInBaseSearch: the base search filters the audit event itself, which has no _time: refused where written.
func TestTimeInBaseSearch(t *testing.T) {
	tests := []struct {
		name, search string
		column       int
	}{
		{"ordered", "verb=get _time>1764000000", 10},
		{"under NOT", "verb=get NOT _time=*", 14},
		{"IN", "_time IN (1, 2)", 1},
		{"in a macro", "verb=get `recent`", 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Compile(tt.search, Macros{"recent": "_time>=5"})
			var e *Error
			require.True(t, errors.As(err, &e), "error %v", err)
			assert.Equal(t, tt.column, e.Column)
			assert.Contains(t, e.Reason, "_time is not a field of the audit event the base search filters")
		})
	}
	_, _, err := Compile("verb=get `recent`", Macros{"recent": "_time>=5"})
	assert.Contains(t, err.Error(), "in macro `recent` (definition 1:1)")
}

func TestConvert(t *testing.T) {
	parse := func(field, to, format string) rule.Stage {
		return rule.Eval{To: to, Value: rule.Call{Func: "parse_time_lenient", Args: []rule.Value{fv(field), rule.Constant{Text: format}}}}
	}
	const dflt = "%m/%d/%Y %H:%M:%S"
	tests := []struct {
		name, search string
		want         []rule.Stage
	}{
		{"default timeformat", "* | convert ctime(t)", []rule.Stage{ctime("t", "t", dflt)}},
		{"timeformat", `* | convert timeformat="%H:%M" ctime(t)`, []rule.Stage{ctime("t", "t", "%H:%M")}},
		{"bare timeformat", `* | convert timeformat=%s ctime(t)`, []rule.Stage{ctime("t", "t", "%s")}},
		{"AS", `* | CONVERT TimeFormat="%F" CTIME(t) AS u`, []rule.Stage{ctime("t", "u", "%F")}},
		{"several, with and without commas", `* | convert ctime(a) as b, ctime(c) mktime(d) AS e`,
			[]rule.Stage{ctime("a", "b", dflt), ctime("c", "c", dflt), parse("d", "e", dflt)}},
		{"none changes nothing", `* | convert none(a) ctime(b)`, []rule.Stage{ctime("b", "b", dflt)}},
		{"quoted field", `* | convert ctime("a b") as c`, []rule.Stage{ctime("a b", "c", dflt)}},
		{"a field AS made is no metadata", `* | convert ctime(a) as host | where host="x"`, []rule.Stage{ctime("a", "host", dflt),
			rule.Where{Cond: rule.Compare{Field: fld("host"), Op: rule.OpEq, Value: rule.Literal("x", true)}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, pipeline, err := Compile(tt.search, nil)
			require.NoError(t, err)
			assert.Equal(t, tt.want, pipeline)
		})
	}
}

func TestConvertErrors(t *testing.T) {
	tests := []struct {
		name, search string
		column       int
		reason       string
	}{
		{"dur2sec", "* | convert dur2sec(d)", 13, "unsupported convert function dur2sec() (supported: ctime, mktime, none)"},
		{"rmunit after a ctime", "* | convert ctime(a) rmunit(b)", 22, "unsupported convert function rmunit()"},
		{"auto", "* | convert auto(*)", 13, "unsupported convert function auto()"},
		{"unknown", "* | convert foo(a)", 13, `unknown convert function "foo"`},
		{"no conversion", "* | convert", 5, "convert needs a conversion"},
		{"only a timeformat", `* | convert timeformat="%F"`, 5, "convert needs a conversion"},
		{"no field", "* | convert ctime", 13, "ctime needs a field"},
		{"empty parentheses", "* | convert ctime()", 19, "expected a field name"},
		{"wildcard", "* | convert ctime(*Time)", 19, "wildcard field names"},
		{"unclosed", "* | convert ctime(a b", 21, "expected ')' after ctime(a"},
		{"timeformat after", `* | convert ctime(a) timeformat="%F"`, 22, "timeformat= must come before"},
		{"other option", `* | convert tz="UTC" ctime(a)`, 13, `unsupported convert option "tz"`},
		{"metadata", "* | convert ctime(host)", 19, "convert on it would never hold"},
		{"a string", `* | convert "ctime(a)"`, 13, "expected a conversion"},
		{"AS without a name", "* | convert ctime(a) as", 24, "expected a new field name after AS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Compile(tt.search, nil)
			var e *Error
			require.True(t, errors.As(err, &e), "error %v", err)
			assert.Equal(t, tt.column, e.Column, e.Reason)
			assert.Contains(t, e.Reason, tt.reason)
		})
	}
}

func TestEvalStrftime(t *testing.T) {
	_, pipeline, err := Compile(`* | eval t=strptime('a.b', "%F"), u=strftime(t, "%s")`, nil)
	require.NoError(t, err)
	assert.Equal(t, []rule.Stage{
		rule.Eval{To: "t", Value: rule.Call{Func: "parse_time", Args: []rule.Value{fv("a.b"), rule.Constant{Text: "%F"}}}},
		rule.Eval{To: "u", Value: rule.Call{Func: "format_time", Args: []rule.Value{fv("t"), rule.Constant{Text: "%s"}}}},
	}, pipeline)
	for search, reason := range map[string]string{
		`* | eval t=strftime(a)`:         "strftime takes strftime(time, \"format\")",
		`* | eval t=strftime(a, b)`:      `strftime: the format must be a "string"`,
		`* | eval t=strptime(a, null())`: `strptime: the format must be a "string"`,
	} {
		_, _, err := Compile(search, nil)
		if err == nil || !strings.Contains(err.Error(), reason) {
			t.Errorf("%s: %v, want %q", search, err, reason)
		}
	}
}

// TestTimeZone: in a time zone other than UTC, convert, strftime and strptime, and bin's spans of days (not its spans
// of seconds, minutes or hours, span=24h included, which Splunk counts from the epoch) carry the zone, also from a
// macro; in UTC the pipeline is the one Compile gives, so that a rule's state survives the upgrade.
func TestTimeZone(t *testing.T) {
	berlin, err := LoadTimeZone("Europe/Berlin")
	require.NoError(t, err)
	zone := rule.Constant{Text: "Europe/Berlin"}
	call := func(fn, field, format string, extra ...rule.Value) rule.Value {
		return rule.Call{Func: fn, Args: append([]rule.Value{fv(field), rule.Constant{Text: format}}, extra...)}
	}
	bin := func(secs string, extra ...rule.Value) rule.Stage {
		return rule.Eval{To: "_time", Value: rule.Call{Func: "bin_floor", Args: append([]rule.Value{fv("_time"), rule.Constant{Text: secs}}, extra...)}}
	}
	tests := []struct {
		name, search string
		want         []rule.Stage
	}{
		{"convert", `* | convert ctime(a) mktime(b)`, []rule.Stage{
			rule.Eval{To: "a", Value: call("format_time_lenient", "a", "%m/%d/%Y %H:%M:%S", zone)},
			rule.Eval{To: "b", Value: call("parse_time_lenient", "b", "%m/%d/%Y %H:%M:%S", zone)}}},
		{"ESCU's macro", "* | stats min(_time) as firstTime | `security_content_ctime(firstTime)`", []rule.Stage{setTime,
			rule.Stats{Aggs: []rule.Aggregate{{Func: "min", Field: "_time", As: "firstTime"}}},
			rule.Eval{To: "firstTime", Value: call("format_time_lenient", "firstTime", escuFormat, zone)}}},
		{"eval", `* | eval h=strftime(t, "%H"), p=strptime(s, "%F")`, []rule.Stage{
			rule.Eval{To: "h", Value: call("format_time", "t", "%H", zone)}, rule.Eval{To: "p", Value: call("parse_time", "s", "%F", zone)}}},
		{"span=1d", "* | bin _time span=1d", []rule.Stage{setTime, bin("86400", zone)}},
		{"span=2days", "* | bucket span=2days _time", []rule.Stage{setTime, bin("172800", zone)}},
		{"span=24h", "* | bin _time span=24h", []rule.Stage{setTime, bin("86400")}},
		{"span=1440m", "* | bin _time span=1440m", []rule.Stage{setTime, bin("86400")}},
		{"span=86400s", "* | bin _time span=86400s", []rule.Stage{setTime, bin("86400")}},
		{"span=1h", "* | bin _time span=1h", []rule.Stage{setTime, bin("3600")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, pipeline, err := CompileIn(tt.search, escuCtime, Env{TimeZone: berlin})
			require.NoError(t, err)
			assert.Equal(t, tt.want, pipeline)
			// In UTC, named or not, nothing carries a zone.
			_, inUTC, err := CompileIn(tt.search, escuCtime, Env{TimeZone: time.UTC})
			require.NoError(t, err)
			_, plain, err := Compile(tt.search, escuCtime)
			require.NoError(t, err)
			assert.Equal(t, plain, inUTC)
			assert.NotContains(t, fmt.Sprintf("%#v", plain), "Europe/Berlin")
		})
	}
}

// TestTimeZoneUTCByAnotherName: a zone that is UTC under another name (Etc/UTC, Zulu, Etc/Universal: no offset, no
// change, UTC its abbreviation) compiles as UTC, no zone in any call, so that a rule's state survives naming it, as
// it does in UTC. Etc/GMT is not UTC by another name: %Z writes GMT there.
func TestTimeZoneUTCByAnotherName(t *testing.T) {
	const search = "* | bin _time span=1d | stats min(_time) as firstTime by _time | convert ctime(firstTime) | eval p=strptime(s, \"%F\")"
	_, plain, err := Compile(search, nil)
	require.NoError(t, err)
	for _, name := range []string{"Etc/UTC", "Zulu", "Etc/Universal"} {
		zone, err := LoadTimeZone(name)
		require.NoError(t, err)
		_, pipeline, err := CompileIn(search, nil, Env{TimeZone: zone})
		require.NoError(t, err)
		assert.Equal(t, plain, pipeline, name)
	}
	gmt, err := LoadTimeZone("Etc/GMT")
	require.NoError(t, err)
	_, pipeline, err := CompileIn(search, nil, Env{TimeZone: gmt})
	require.NoError(t, err)
	assert.Contains(t, fmt.Sprintf("%#v", pipeline), `"Etc/GMT"`)
}
