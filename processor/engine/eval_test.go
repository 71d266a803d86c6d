package engine

import (
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// evalRow runs a rule of the given stages (filter: every event) over body and returns its one row's fields.
func evalRow(t *testing.T, body string, stages ...rule.Stage) Row {
	t.Helper()
	e, err := Compile([]*rule.Rule{{ID: "r", Name: "r", Pipeline: stages}}, Options{})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	res, err := e.Evaluate([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Matches) != 1 || len(res.Matches[0].Rows) != 1 {
		t.Fatalf("want one row, got %+v", res.Matches)
	}
	return res.Matches[0].Rows[0]
}

func field(name string) rule.Value {
	return rule.FieldValue{Field: rule.Field{Name: name, AnyArray: true}}
}

func TestEvalValues(t *testing.T) {
	const uri = `/api/v1/namespaces/d/pods/p/exec?command=sh\u0026command=-c\u0026command=curl+https%3A%2F%2Fx\u0026container=c\u0026stdout=true`
	body := `{"verb":"create","requestURI":"` + uri + `","userAgent":"kubectl/v1.30","user":{"username":"Alice","groups":["a","b"]},` +
		`"stageTimestamp":"2026-01-02T03:04:59.5Z"}`
	decoded := rule.Call{Func: "url_decode", Args: []rule.Value{field("requestURI")}}
	cases := []struct {
		name string
		v    rule.Value
		want []string
	}{
		{"field", field("userAgent"), []string{"kubectl/v1.30"}},
		{"every value of an array", field("user.groups"), []string{"a", "b"}},
		{"missing field", field("nope"), nil},
		{"constant", rule.Constant{Text: "x"}, []string{"x"}},
		{"null", rule.Constant{Null: true}, nil},
		{"url_decode: + is a space", decoded, []string{"/api/v1/namespaces/d/pods/p/exec?command=sh&command=-c&command=curl https://x&container=c&stdout=true"}},
		{"url_decode of an invalid escape is null", rule.Call{Func: "url_decode", Args: []rule.Value{rule.Constant{Text: "%zz"}}}, nil},
		{"url_decode decodes each value", rule.Call{Func: "url_decode", Args: []rule.Value{field("user.groups")}}, []string{"a", "b"}},
		{"a multi-valued argument makes null", rule.Call{Func: "trim", Args: []rule.Value{field("user.groups")}}, nil},
		// Case mapping converts each value: Splunk's lower and upper ("You can use this function on multivalue
		// fields") and ES|QL's TO_LOWER and TO_UPPER since 9.1.0 (`TO_LOWER(["Some", "Text"])` is ["some", "text"]).
		{"to_upper converts each value", rule.Call{Func: "to_upper", Args: []rule.Value{field("user.groups")}}, []string{"A", "B"}},
		{"to_lower converts each value", rule.Call{Func: "to_lower", Args: []rule.Value{rule.Case{All: true, Whens: []rule.When{
			{Cond: eq("verb", "create"), Then: rule.Constant{Text: "X"}},
			{Cond: eq("verb", "create"), Then: field("user.username")}}}}}, []string{"x", "alice"}},
		// Splunk's trim, ltrim and rtrim with their second argument: "removes the trim characters from both sides of
		// the string" (left side, right side).
		{"trim_chars", rule.Call{Func: "trim_chars", Args: []rule.Value{rule.Constant{Text: " ZZZZabcZZ "}, rule.Constant{Text: " Z"}}}, []string{"abc"}},
		{"ltrim_chars", rule.Call{Func: "ltrim_chars", Args: []rule.Value{rule.Constant{Text: " ZZZZabcZZ "}, rule.Constant{Text: " Z"}}}, []string{"abcZZ "}},
		{"rtrim_chars", rule.Call{Func: "rtrim_chars", Args: []rule.Value{rule.Constant{Text: " ZZZZabcZZ "}, rule.Constant{Text: " Z"}}}, []string{" ZZZZabc"}},
		{"trim_chars of a multi-valued argument is null", rule.Call{Func: "trim_chars", Args: []rule.Value{field("user.groups"), rule.Constant{Text: "a"}}}, nil},
		{"trim_chars removes characters, not a string", rule.Call{Func: "trim_chars", Args: []rule.Value{rule.Constant{Text: "\t éxé\t"}, rule.Constant{Text: "é\t "}}}, []string{"x"}},
		{"replace with a group", rule.Call{Func: "replace", Args: []rule.Value{field("userAgent"), rule.Constant{Text: `/v(\d)`}, rule.Constant{Text: "-${1}"}}}, []string{"kubectl-1.30"}},
		{"concat", rule.Call{Func: "concat", Args: []rule.Value{field("verb"), rule.Constant{Text: ":"}, field("user.username")}}, []string{"create:Alice"}},
		{"to_lower", rule.Call{Func: "to_lower", Args: []rule.Value{field("user.username")}}, []string{"alice"}},
		{"date_trunc", rule.Call{Func: "date_trunc", Args: []rule.Value{rule.Constant{Text: "1m0s"}, field("stageTimestamp")}}, []string{"2026-01-02T03:04:00Z"}},
		{"extract", rule.Extract{From: decoded, Regex: `/exec\?(?P<g1>.*?)&(?:container|stdin|stdout|stderr)=`, Group: "g1"}, []string{"command=sh&command=-c&command=curl https://x"}},
		{"extract without a match", rule.Extract{From: field("verb"), Regex: `(?P<g1>x+)`, Group: "g1"}, nil},
		{"a value over the bound is null to extract, replace and url_decode",
			rule.Call{Func: "concat", Args: []rule.Value{
				rule.Extract{From: rule.Constant{Text: strings.Repeat("a", maxComputedInput+1)}, Regex: `(?P<g1>a)`, Group: "g1"},
				rule.Constant{Text: "x"}}}, nil},
		{"replace of a value over the bound is null",
			rule.Call{Func: "replace", Args: []rule.Value{rule.Constant{Text: strings.Repeat("a", maxComputedInput+1)}, rule.Constant{Text: "a"}, rule.Constant{Text: "b"}}}, nil},
		{"url_decode of a value over the bound is null",
			rule.Call{Func: "url_decode", Args: []rule.Value{rule.Constant{Text: strings.Repeat("a", maxComputedInput+1)}}}, nil},
		{"a concatenation past its bound is cut, at a character",
			rule.Call{Func: "concat", Args: []rule.Value{rule.Constant{Text: strings.Repeat("a", maxConcat-1)},
				rule.Constant{Text: "é and more"}}}, []string{strings.Repeat("a", maxConcat-1)}},
		{"a concatenation at its bound is whole",
			rule.Call{Func: "concat", Args: []rule.Value{rule.Constant{Text: strings.Repeat("a", maxConcat-2)},
				rule.Constant{Text: "é"}}}, []string{strings.Repeat("a", maxConcat-2) + "é"}},
		{"to_lower reads a value past the regex functions' bound (a padded user agent is still matched)",
			rule.Call{Func: "to_lower", Args: []rule.Value{rule.Constant{Text: "CURL/8" + strings.Repeat(" ", maxComputedInput)}}},
			[]string{"curl/8" + strings.Repeat(" ", maxComputedInput)}},
		{"url_decode_lenient keeps an invalid escape",
			rule.Call{Func: "url_decode_lenient", Args: []rule.Value{rule.Constant{Text: "curl+http%3A%2F%2Fx&y=%zz&z=100%"}}},
			[]string{"curl http://x&y=%zz&z=100%"}},
		{"url_decode drops a value with an invalid escape",
			rule.Call{Func: "url_decode", Args: []rule.Value{rule.Constant{Text: "curl&y=%zz"}}}, nil},
		{"extract's else when the group captures nothing",
			rule.Extract{From: field("verb"), Regex: `(?P<g1>x+)`, Group: "g1", Else: field("user.username")}, []string{"Alice"}},
		{"a value at the bound is read", rule.Extract{From: rule.Constant{Text: strings.Repeat("a", maxComputedInput)}, Regex: `(?P<g1>a)`, Group: "g1"}, []string{"a"}},
		{"case: first condition that holds", rule.Case{Whens: []rule.When{
			{Cond: eq("verb", "get"), Then: rule.Constant{Text: "read"}},
			{Cond: eq("verb", "create"), Then: rule.Constant{Text: "write"}},
		}, Else: rule.Constant{Text: "other"}}, []string{"write"}},
		{"case: else", rule.Case{Whens: []rule.When{{Cond: eq("verb", "get"), Then: rule.Constant{Text: "read"}}}, Else: rule.Constant{Text: "other"}}, []string{"other"}},
		{"case: no else is null", rule.Case{Whens: []rule.When{{Cond: eq("verb", "get"), Then: rule.Constant{Text: "read"}}}}, nil},
		{"case: all takes every condition that holds", rule.Case{All: true, Whens: []rule.When{
			{Cond: eq("verb", "create"), Then: rule.Constant{Text: "a"}},
			{Cond: eq("verb", "get"), Then: rule.Constant{Text: "b"}},
			{Cond: eq("user.username", "Alice"), Then: rule.Constant{Text: "c"}},
		}}, []string{"a", "c"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			row := evalRow(t, body, rule.Eval{To: "out", Value: c.v})
			if got := row.Values("out"); !reflect.DeepEqual(got, c.want) {
				t.Errorf("out = %q, want %q", got, c.want)
			}
		})
	}
}

// TestStatsNullGroups: with NullGroups a row missing a by-field joins the group of its null (ES|QL) instead of being
// dropped (SPL); the group's rows have no such field. Per event and over a window.
func TestStatsNullGroups(t *testing.T) {
	stats := func(null bool) rule.Stats {
		return rule.Stats{Aggs: []rule.Aggregate{countOnly}, By: []string{"sourceIPs{}", "userAgent"}, NullGroups: null}
	}
	withUA := ev("10.0.0.1", 0, `"userAgent":"curl/8"`)
	withoutUA := ev("10.0.0.1", 0, "")

	for _, null := range []bool{false, true} {
		e, err := Compile([]*rule.Rule{{ID: "s", Name: "s", Pipeline: []rule.Stage{stats(null)}}}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		ms, err := e.Match(withoutUA)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(ms) == 1; got != null {
			t.Errorf("NullGroups %v: a row without userAgent made a group: %v", null, got)
		}
		if null && len(ms) == 1 {
			row := ms[0].Rows[0]
			if row.Values("userAgent") != nil || row.Values("sourceIPs{}")[0] != "10.0.0.1" || row.Values("count")[0] != "1" {
				t.Errorf("null group row %+v", row)
			}
		}
	}

	// Windowed: the events without a user agent count together, apart from those with one.
	r := windowRule(cmp("count", rule.OpGe, "3"), countOnly)
	r.Pipeline[0] = stats(true)
	e, err := Compile([]*rule.Rule{r}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := play(t, e, [][]byte{withoutUA, withUA, withoutUA, withUA, withoutUA, withUA})
	if want := []string{"4:3", "5:3"}; !reflect.DeepEqual(got, want) {
		t.Errorf("fired %v, want %v", got, want)
	}
}

// TestRuleOwnWindow: a rule's own window (an Elastic rule's look-back) replaces the processor's, and an override
// for the rule replaces it in turn.
func TestRuleOwnWindow(t *testing.T) {
	events := [][]byte{ev("a", 0, ""), ev("a", 8, ""), ev("a", 12, "")}
	for _, tt := range []struct {
		name  string
		own   time.Duration
		opts  Options
		fired int
	}{
		{"the default hour holds all three", 0, Options{}, 1},
		{"ten minutes of its own split them", 10 * time.Minute, Options{}, 0},
		{"an override wins over the rule's own", 10 * time.Minute, Options{RuleWindows: map[string]time.Duration{"w": time.Hour}}, 1},
	} {
		r := windowRule(cmp("count", rule.OpGe, "3"), countOnly)
		r.Window = tt.own
		e, err := Compile([]*rule.Rule{r}, tt.opts)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(play(t, e, events)); got != tt.fired {
			t.Errorf("%s: fired %d, want %d", tt.name, got, tt.fired)
		}
	}
}

// TestEvalOfAggregate: a where on a value computed from a windowed aggregate cannot be checked as the window fills,
// so the window answers when it closes (or the rule is refused where that cannot be written), never per event; a value computed after the where, for the risk record, is
// fine.
func TestEvalOfAggregate(t *testing.T) {
	label := rule.Eval{To: "label", Value: rule.Call{Func: "concat", Args: []rule.Value{rule.FieldValue{Field: rule.Field{Name: "count"}}, rule.Constant{Text: " requests"}}}}
	r := windowRule(cmp("label", rule.OpGe, "3"), countOnly)
	r.Pipeline = []rule.Stage{r.Pipeline[0], label, r.Pipeline[1]}
	if _, err := Compile([]*rule.Rule{r}, Options{NoCloseResults: true}); err == nil || !strings.Contains(err.Error(), "where on label: it is computed from an aggregate") {
		t.Errorf("Compile: %v, want the refusal", err)
	}
	// Where answers at the window's close are written, the final row is checked then.
	if e, err := Compile([]*rule.Rule{r}, Options{}); err != nil || !e.rules[0].window.atClose {
		t.Errorf("Compile: %v, want a window answered at its close", err)
	}

	r = windowRule(cmp("count", rule.OpGe, "3"), countOnly)
	r.Pipeline = append(r.Pipeline, label)
	e, err := Compile([]*rule.Rule{r}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var rows []Row
	for _, body := range [][]byte{ev("a", 0, ""), ev("a", 1, ""), ev("a", 2, "")} {
		ms, err := e.Match(body)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			rows = append(rows, m.Rows...)
		}
	}
	if len(rows) != 1 || !reflect.DeepEqual(rows[0].Values("label"), []string{"3 requests"}) {
		t.Errorf("rows %+v, want one labelled 3 requests", rows)
	}
}

// TestWindowedStatsWithoutCondition: a Windowed stats counts over the window with no where after it, and each group
// fires once per window, on its first event; without the flag the same stats answers every event.
func TestWindowedStatsWithoutCondition(t *testing.T) {
	events := [][]byte{ev("a", 0, ""), ev("b", 1, ""), ev("a", 2, ""), ev("a", 61, "")}
	for _, windowed := range []bool{false, true} {
		r := &rule.Rule{ID: "w", Name: "w", Filter: eq("responseStatus.code", "403"),
			Pipeline: []rule.Stage{rule.Stats{Aggs: []rule.Aggregate{countOnly}, By: []string{"sourceIPs{}"}, Windowed: windowed}}}
		e, err := Compile([]*rule.Rule{r}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"0:1", "1:1", "2:1", "3:1"}
		if windowed {
			want = []string{"0:1", "1:1", "3:1"} // a again only in the next hour
		}
		if got := play(t, e, events); !reflect.DeepEqual(got, want) {
			t.Errorf("windowed %v: fired %v, want %v", windowed, got, want)
		}
	}
}

// TestRunnable: the rules the engine compiles, each alone, are kept in order; each refused one is an error naming it.
func TestRunnable(t *testing.T) {
	good := windowRule(cmp("count", rule.OpGe, "3"), countOnly)
	bad := windowRule(cmp("count", rule.OpLt, "3"), countOnly)
	bad.ID, bad.Name = "bad", "Bad"
	// A condition that can stop holding is answered when the window closes; where that is refused, the rule is.
	kept, refused := Runnable([]*rule.Rule{good, bad}, Options{NoCloseResults: true})
	if len(kept) != 1 || kept[0] != good {
		t.Errorf("kept %v, want the good rule", kept)
	}
	if len(refused) != 1 || !strings.Contains(refused[0].Error(), `rule "Bad"`) {
		t.Errorf("refused %v, want the bad rule's error", refused)
	}
}

// A copy of an event field (eval x=y, as ES|QL copies every field it names) is read when needed: it keeps the event's
// values whatever later stages do to the field it copied, and a result row holds them.
func TestEvalCopyOfAnEventField(t *testing.T) {
	copyOf := func(to, from string) rule.Eval {
		return rule.Eval{To: to, Value: rule.FieldValue{Field: rule.Field{Name: from, AnyArray: true}}}
	}
	r := &rule.Rule{ID: "c", Name: "c", Filter: eq("verb", "get"), Pipeline: []rule.Stage{
		copyOf("ip", "sourceIPs"),
		copyOf("who", "user.username"),
		rule.Eval{To: "user.username", Value: rule.Constant{Text: "changed"}},
		rule.Rename{Pairs: []rule.RenamePair{{From: "ip", To: "src"}}},
		copyOf("none", "no.such.field"),
		rule.Search{Cond: rule.Not{X: rule.Exists{Field: rule.Field{Name: "none"}}}},
	}}
	r.Risk.Message = "$who$ $src$ $user.username$"
	e, err := Compile([]*rule.Rule{r}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ms, err := e.Match([]byte(`{"verb":"get","user":{"username":"alice"},"sourceIPs":["10.0.0.1","10.0.0.2"]}`))
	if err != nil || len(ms) != 1 {
		t.Fatalf("%v %v", ms, err)
	}
	row := ms[0].Rows[0]
	for field, want := range map[string]string{"who": "alice", "src": "10.0.0.1,10.0.0.2", "user.username": "changed"} {
		if got := strings.Join(row.Values(field), ","); got != want {
			t.Errorf("%s = %q, want %q", field, got, want)
		}
	}
	for _, f := range row.Fields {
		if f.from != nil {
			t.Errorf("result field %s is still a copy to read", f.Name)
		}
	}
}

// TestEventTime: event_time() is the engine's event time in epoch seconds, to the microsecond: stageTimestamp, else
// requestReceivedTimestamp, else the time of evaluation.
func TestEventTime(t *testing.T) {
	now := rule.Eval{To: "_time", Value: rule.Call{Func: "event_time"}}
	cases := []struct{ name, body, want string }{
		{"only requestReceivedTimestamp", `{"verb":"get","requestReceivedTimestamp":"2025-11-24T16:00:00.123456Z"}`, "1764000000.123456"},
		{"stageTimestamp first", `{"requestReceivedTimestamp":"2025-11-24T16:00:00Z","stageTimestamp":"2025-11-24T16:00:01.5Z"}`, "1764000001.5"},
		{"whole seconds", `{"stageTimestamp":"2025-11-24T16:00:00Z"}`, "1764000000"},
		{"nanoseconds cut to microseconds", `{"stageTimestamp":"2025-11-24T16:00:00.123456789Z"}`, "1764000000.123456"},
		{"an offset", `{"stageTimestamp":"2025-11-24T17:00:00.25+01:00"}`, "1764000000.25"},
		{"unreadable stageTimestamp", `{"stageTimestamp":"yesterday","requestReceivedTimestamp":"2025-11-24T16:00:00Z"}`, "1764000000"},
	}
	for _, c := range cases {
		row := evalRow(t, c.body, now)
		if got := row.Values("_time"); len(got) != 1 || got[0] != c.want {
			t.Errorf("%s: _time = %q, want %q", c.name, got, c.want)
		}
	}
	// An event without a readable time takes the time it is evaluated, as the windows do.
	before := time.Now()
	got := evalRow(t, `{"verb":"get"}`, now).Values("_time")
	after := time.Now()
	if len(got) != 1 {
		t.Fatalf("no time: _time = %q", got)
	}
	secs, err := strconv.ParseFloat(got[0], 64)
	if err != nil || secs < float64(before.Unix()) || secs > float64(after.Unix()+1) {
		t.Errorf("no time: _time = %q, want the time of evaluation (%d)", got, before.Unix())
	}
	// A stage after it reads it: where, stats by it, and format_time, as the SPL compiler builds them.
	row := evalRow(t, `{"stageTimestamp":"2025-11-24T16:05:09.5Z","user":{"username":"a"}}`, now,
		rule.Where{Cond: rule.Compare{Field: rule.Field{Name: "_time"}, Op: rule.OpGt, Value: rule.Literal("1764000000", true)}},
		rule.Stats{Aggs: []rule.Aggregate{{Func: "min", Field: "_time", As: "firstTime"}}, By: []string{"user.username"}},
		rule.Eval{To: "firstTime", Value: rule.Call{Func: "format_time_lenient", Args: []rule.Value{
			rule.FieldValue{Field: rule.Field{Name: "firstTime"}}, rule.Constant{Text: "%Y-%m-%dT%H:%M:%S.%3N"}}}})
	if got := row.Values("firstTime"); len(got) != 1 || got[0] != "2025-11-24T16:05:09.500" {
		t.Errorf("firstTime = %q", got)
	}
}

// TestFormatAndParseTime: format_time and parse_time convert each value; the lenient forms keep what they cannot
// convert (SPL's convert), the others drop it (SPL's eval strftime and strptime).
func TestFormatAndParseTime(t *testing.T) {
	body := `{"times":["1764000000","1764000000.25","soon"],"texts":["2025-11-24T16:00:00","never"],"none":[]}`
	call := func(fn, arg, format string) rule.Value {
		return rule.Call{Func: fn, Args: []rule.Value{field(arg), rule.Constant{Text: format}}}
	}
	cases := []struct {
		name string
		v    rule.Value
		want []string
	}{
		{"format_time", call("format_time", "times", "%F %T"), []string{"2025-11-24 16:00:00", "2025-11-24 16:00:00"}},
		{"format_time_lenient", call("format_time_lenient", "times", "%H:%M:%S.%3N"), []string{"16:00:00.000", "16:00:00.250", "soon"}},
		{"parse_time", call("parse_time", "texts", "%Y-%m-%dT%H:%M:%S"), []string{"1764000000"}},
		{"parse_time_lenient", call("parse_time_lenient", "texts", "%Y-%m-%dT%H:%M:%S"), []string{"1764000000", "never"}},
		{"a missing field", call("format_time_lenient", "nope", "%F"), nil},
		{"nothing converted", call("format_time", "texts", "%F"), nil},
	}
	for _, c := range cases {
		row := evalRow(t, body, rule.Eval{To: "out", Value: c.v})
		if got := row.Values("out"); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	// The format must be a constant: an event cannot choose it.
	_, err := Compile([]*rule.Rule{{ID: "r", Name: "r", Pipeline: []rule.Stage{rule.Eval{To: "x", Value: rule.Call{
		Func: "format_time", Args: []rule.Value{field("times"), field("texts")}}}}}}, Options{})
	if err == nil || !strings.Contains(err.Error(), "format must be a constant") {
		t.Errorf("a format read from the event: %v", err)
	}
}

// TestFormatAndParseTimeInZone: with a time zone, format_time writes the local time there and parse_time reads a
// time without a zone as one; an unknown zone, or one read from the event, fails the rule.
func TestFormatAndParseTimeInZone(t *testing.T) {
	body := `{"times":["1764000000","1751371200"],"texts":["2025-11-24T17:00:00","2025-07-01T14:00:00"]}`
	call := func(fn, arg, format, zone string) rule.Value {
		return rule.Call{Func: fn, Args: []rule.Value{field(arg), rule.Constant{Text: format}, rule.Constant{Text: zone}}}
	}
	cases := []struct {
		name string
		v    rule.Value
		want []string
	}{
		{"Berlin, winter and summer", call("format_time", "times", "%F %T %Z", "Europe/Berlin"),
			[]string{"2025-11-24 17:00:00 CET", "2025-07-01 14:00:00 CEST"}},
		{"Kolkata", call("format_time_lenient", "times", "%H:%M %z", "Asia/Kolkata"), []string{"21:30 +0530", "17:30 +0530"}},
		{"St. John's", call("format_time", "times", "%H:%M %Z", "America/St_Johns"), []string{"12:30 NST", "09:30 NDT"}},
		{"read in Berlin", call("parse_time", "texts", "%Y-%m-%dT%H:%M:%S", "Europe/Berlin"), []string{"1764000000", "1751371200"}},
		{"read in UTC", call("parse_time_lenient", "texts", "%Y-%m-%dT%H:%M:%S", "UTC"), []string{"1764003600", "1751378400"}},
	}
	for _, c := range cases {
		row := evalRow(t, body, rule.Eval{To: "out", Value: c.v})
		if got := row.Values("out"); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	for _, bad := range []struct {
		zone rule.Value
		want string
	}{
		{rule.Constant{Text: "Europe/Bonn"}, `parse_time: unknown time zone "Europe/Bonn"`},
		{rule.Constant{Text: "Local"}, `parse_time: time zone "Local" is the host's`},
		{field("texts"), "parse_time: the time zone must be a constant"},
	} {
		_, err := Compile([]*rule.Rule{{ID: "r", Name: "r", Pipeline: []rule.Stage{rule.Eval{To: "x", Value: rule.Call{
			Func: "parse_time", Args: []rule.Value{field("texts"), rule.Constant{Text: "%F"}, bad.zone}}}}}}, Options{})
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("zone %v: error %v, want %q", bad.zone, err, bad.want)
		}
	}
}
