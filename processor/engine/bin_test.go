package engine

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/auditdetect/auditdetect/processor/rule"
	"github.com/auditdetect/auditdetect/processor/spl"
)

// TestBinFloor: bin_floor rounds a number down to a multiple of its span, exactly, and writes it as a number.
func TestBinFloor(t *testing.T) {
	cases := []struct {
		x, span, want string
		ok            bool
	}{
		{"1764000000", "600", "1764000000", true}, // 2025-11-24T16:00:00Z, a boundary, is its own bucket's start
		{"1764000599", "600", "1764000000", true},
		{"1764000599.999999", "600", "1764000000", true}, // the last microsecond of the bucket
		{"1764000600", "600", "1764000600", true},
		{"1764000600.000001", "600", "1764000600", true},
		{"1764003599.5", "3600", "1764000000", true},
		{"1764000000", "86400", "1763942400", true}, // UTC midnight
		{"+1764000601", "600", "1764000600", true},
		{"0.5", "600", "0", true},
		{"-0.5", "600", "-600", true},
		{"-1.5", "1", "-2", true},
		{"-600", "600", "-600", true},
		{"-600.000", "600", "-600", true},
		{"1.7e9", "600", "1699999800", true},
		{"12.34", "0.5", "12", true},
		{"12.75", "0.5", "12.5", true},
		{"-0.3", "0.25", "-0.5", true},
		{"0.3", "0.1", "0.3", true}, // exactly, where a float gives 0.2
		{"123456789012345678901234567", "1000", "123456789012345678901234000", true},
		{"", "600", "", false},
		{"soon", "600", "", false},
		{"1e400", "600", "", false},
		{"1e99999999", "0.5", "", false},
		{"0x10", "600", "", false},
		{strings.Repeat("9", 65), "600", "", false},
	}
	for _, c := range cases {
		s, err := newBinSpan(c.span)
		if err != nil {
			t.Fatalf("span %s: %v", c.span, err)
		}
		if got, ok := s.floor(c.x); got != c.want || ok != c.ok {
			t.Errorf("bin_floor(%s, %s) = %q, %v; want %q, %v", c.x, c.span, got, ok, c.want, c.ok)
		}
	}
	for _, bad := range []string{"0", "-600", "1e3", "abc", "", "0.0"} {
		if _, err := newBinSpan(bad); err == nil {
			t.Errorf("span %q accepted", bad)
		}
	}
	// Through the engine: the event time's bucket, and each value of a multi-valued field makes null.
	row := evalRow(t, `{"stageTimestamp":"2025-11-24T16:19:59.999999Z","n":["1","2"]}`,
		rule.Eval{To: "_time", Value: rule.Call{Func: "event_time"}},
		rule.Eval{To: "b", Value: rule.Call{Func: "bin_floor", Args: []rule.Value{field("_time"), rule.Constant{Text: "600"}}}},
		rule.Eval{To: "m", Value: rule.Call{Func: "bin_floor", Args: []rule.Value{field("n"), rule.Constant{Text: "600"}}}})
	if got := row.Values("b"); !reflect.DeepEqual(got, []string{"1764000600"}) {
		t.Errorf("bucket of 16:19:59.999999 = %q, want 1764000600 (16:10)", got)
	}
	if got := row.Values("m"); got != nil {
		t.Errorf("bin_floor of a multi-valued field = %q, want null", got)
	}
	_, err := Compile([]*rule.Rule{{ID: "r", Name: "r", Pipeline: []rule.Stage{rule.Eval{To: "x", Value: rule.Call{
		Func: "bin_floor", Args: []rule.Value{field("n"), field("n")}}}}}}, Options{})
	if err == nil || !strings.Contains(err.Error(), "span must be a constant") {
		t.Errorf("a span read from the event: %v", err)
	}
}

// TestBinFloorInZone: with a time zone, bin_floor's span is local days: the event's bucket starts at the zone's
// midnight, whatever the offset (half an hour in Asia/Kolkata, three and a half hours behind in America/St_Johns), and
// a day is 23 hours long on the day Europe/Berlin's clocks go forward.
func TestBinFloorInZone(t *testing.T) {
	day := func(zone string) rule.Stage {
		return rule.Eval{To: "d", Value: rule.Call{Func: "bin_floor", Args: []rule.Value{field("_time"),
			rule.Constant{Text: "86400"}, rule.Constant{Text: zone}}}}
	}
	cases := []struct{ zone, at, want string }{
		{"Europe/Berlin", "2025-03-29T22:59:59Z", "1743202800"}, // 23:59:59 CET on the 29th: the 29th from 2025-03-28T23:00Z
		{"Europe/Berlin", "2025-03-29T23:00:00Z", "1743289200"}, // 00:00 CET on the 30th
		{"Europe/Berlin", "2025-03-30T21:59:59Z", "1743289200"}, // 23:59:59 CEST: still the 30th, 23 hours after its start
		{"Europe/Berlin", "2025-03-30T22:00:00Z", "1743372000"},
		{"Asia/Kolkata", "2025-11-24T16:00:00Z", "1763922600"},     // 21:30 IST; the 24th from 2025-11-23T18:30Z
		{"America/St_Johns", "2025-11-24T03:29:59Z", "1763868600"}, // 23:59:59 NST on the 23rd
		{"America/St_Johns", "2025-11-24T03:30:00Z", "1763955000"},
		{"UTC", "2025-11-24T16:00:00Z", "1763942400"},
	}
	for _, c := range cases {
		row := evalRow(t, `{"stageTimestamp":"`+c.at+`"}`, rule.Eval{To: "_time", Value: rule.Call{Func: "event_time"}}, day(c.zone))
		if got := row.Values("d"); !reflect.DeepEqual(got, []string{c.want}) {
			t.Errorf("%s day of %s = %q, want %s", c.zone, c.at, got, c.want)
		}
	}
	for _, bad := range []struct {
		args []rule.Value
		want string
	}{
		{[]rule.Value{field("n"), rule.Constant{Text: "3600"}, rule.Constant{Text: "Europe/Berlin"}}, `with a time zone the span must be whole days (a multiple of 86400 seconds), not "3600"`},
		{[]rule.Value{field("n"), rule.Constant{Text: "86400"}, rule.Constant{Text: "Europe/Bonn"}}, `bin_floor: unknown time zone "Europe/Bonn"`},
		{[]rule.Value{field("n"), rule.Constant{Text: "86400"}, field("n")}, "bin_floor: the time zone must be a constant"},
	} {
		_, err := Compile([]*rule.Rule{{ID: "r", Name: "r", Pipeline: []rule.Stage{rule.Eval{To: "x", Value: rule.Call{
			Func: "bin_floor", Args: bad.args}}}}}, Options{})
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("bin_floor%v: error %v, want %q", bad.args, err, bad.want)
		}
	}
}

// TestBinInZone: SPL's bin in the search's time zone, end to end: span=1h is counted from the epoch in every zone, so
// that in Asia/Kolkata (+05:30), Asia/Kathmandu (+05:45) and America/St_Johns (-03:30) its buckets start at half or a
// quarter past the local hour, as Splunk aligns spans under a day to "base UTC time (epoch 0)"; span=1d starts at
// local midnight, and Europe/Berlin's autumn day (2025-10-26) lasts 25 hours.
func TestBinInZone(t *testing.T) {
	const search = "* | bin _time span=1h AS h | bin _time span=1d AS d | eval hour=strftime(h, \"%H:%M\"), day=strftime(d, \"%F %H:%M %Z\")"
	cases := []struct{ zone, at, h, hour, d, day string }{
		{"Asia/Kolkata", "2025-11-24T16:59:59Z", "1764000000", "21:30", "1763922600", "2025-11-24 00:00 IST"},
		{"Asia/Kathmandu", "2025-11-24T16:00:00Z", "1764000000", "21:45", "1763921700", "2025-11-24 00:00 +0545"},
		{"America/St_Johns", "2025-11-24T16:00:00Z", "1764000000", "12:30", "1763955000", "2025-11-24 00:00 NST"},
		{"Europe/Berlin", "2025-10-26T22:59:59Z", "1761516000", "23:00", "1761429600", "2025-10-26 00:00 CEST"},
		{"Europe/Berlin", "2025-10-26T23:00:00Z", "1761519600", "00:00", "1761519600", "2025-10-27 00:00 CET"},
		{"UTC", "2025-11-24T16:59:59Z", "1764000000", "16:00", "1763942400", "2025-11-24 00:00 UTC"},
	}
	for _, c := range cases {
		zone, err := spl.LoadTimeZone(c.zone)
		if err != nil {
			t.Fatal(err)
		}
		_, pipeline, err := spl.CompileIn(search, nil, spl.Env{TimeZone: zone})
		if err != nil {
			t.Fatal(err)
		}
		row := evalRow(t, `{"stageTimestamp":"`+c.at+`"}`, pipeline...)
		got := []string{row.Values("h")[0], row.Values("hour")[0], row.Values("d")[0], row.Values("day")[0]}
		if want := []string{c.h, c.hour, c.d, c.day}; !reflect.DeepEqual(got, want) {
			t.Errorf("%s at %s: hour, day %q; want %q", c.zone, c.at, got, want)
		}
	}
}

func compileSPL(t *testing.T, search string, opts Options) (*Engine, error) {
	t.Helper()
	return compileSPLIn(t, search, nil, opts)
}

// loadZone is the IANA time zone name, as spl_time_zone loads it.
func loadZone(t *testing.T, name string) *time.Location {
	t.Helper()
	zone, err := spl.LoadTimeZone(name)
	if err != nil {
		t.Fatal(err)
	}
	return zone
}

// assertRefused fails t unless err is nil where refused is "", and an error containing refused otherwise.
func assertRefused(t *testing.T, err error, refused string) {
	t.Helper()
	switch {
	case refused == "" && err != nil:
		t.Fatalf("refused: %v", err)
	case refused != "" && (err == nil || !strings.Contains(err.Error(), refused)):
		t.Fatalf("error %v, want one containing %q", err, refused)
	}
}

// compileSPLIn compiles search as one rule, w, with the time functions in zone (nil: UTC).
func compileSPLIn(t *testing.T, search string, zone *time.Location, opts Options) (*Engine, error) {
	t.Helper()
	filter, pipeline, err := spl.CompileIn(search, nil, spl.Env{TimeZone: zone})
	if err != nil {
		t.Fatal(err)
	}
	return Compile([]*rule.Rule{{ID: "w", Name: "w", Filter: filter, Pipeline: pipeline}}, opts)
}

// TestBinWindow: a windowed stats grouped by a bucket of the event time loads only when the span divides the rule's
// window; otherwise a bucket would be counted in part in two windows, each part on its own.
func TestBinWindow(t *testing.T) {
	const by = " | stats count by _time user.username | where count > 5"
	tests := []struct {
		name, search string
		opts         Options
		refused      string // "" loads
	}{
		{"10m in 1h", "* | bin _time span=10m" + by, Options{}, ""},
		{"1h in 1h", "* | bin _time span=1h" + by, Options{}, ""},
		{"7m in 1h", "* | bin _time span=7m" + by, Options{}, "time bucket of 7m0s (bin span), which does not divide the rule's window of 1h0m0s"},
		{"longer than the window", "* | bin _time span=1d" + by, Options{}, "24h0m0s"},
		{"a processor window", "* | bin _time span=10m" + by, Options{Window: 15 * time.Minute}, "window of 15m0s"},
		{"a rule's window", "* | bin _time span=10m" + by, Options{RuleWindows: map[string]time.Duration{"w": 25 * time.Minute}}, "rule_overrides.<rule>.window"},
		{"a rule's window that fits", "* | bin _time span=10m" + by, Options{Window: 15 * time.Minute, RuleWindows: map[string]time.Duration{"w": 30 * time.Minute}}, ""},
		{"AS, then renamed", "* | bin _time span=7m AS t | rename t as bucket | stats count by bucket | where count > 5", Options{}, "stats by bucket"},
		{"a copy", "* | bin _time span=7m | eval b=_time | stats count by b | where count > 5", Options{}, "stats by b"},
		{"binned twice", "* | eval t=_time | bin _time span=7m AS t | stats count by t | where count > 5", Options{}, "stats by t"},
		// Not grouped by the bucket, or not windowed: the window does not meet the buckets.
		{"not by the bucket", "* | bin _time span=7m | stats count values(_time) as b by user.username | where count > 5", Options{}, ""},
		{"overwritten", "* | bin _time span=7m AS t | eval t=\"x\" | stats count by t | where count > 5", Options{}, ""},
		{"removed, then filled", "* | bin _time span=7m AS t | fields - t | fillnull value=0 t | stats count by t | where count > 5", Options{}, ""},
		{"per event", "* | bin _time span=7m | stats count by _time", Options{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := compileSPL(t, tt.search, tt.opts)
			switch {
			case tt.refused == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.refused != "" && (err == nil || !strings.Contains(err.Error(), tt.refused)):
				t.Fatalf("error %v, want one containing %q", err, tt.refused)
			}
		})
	}
}

// TestBinWindowInZone: in a time zone other than UTC, a day bucket starts at the zone's midnight and a window at
// UTC's, so that no window holds a day whole: a windowed stats by such a bucket fails to load, saying so. Spans under
// a day are counted from the epoch in every zone (span=24h too), and the days of a zone that is always UTC are UTC's.
func TestBinWindowInZone(t *testing.T) {
	const by = " | stats count by _time user.username | where count > 5"
	day := Options{Window: 24 * time.Hour}
	tests := []struct {
		name, zone, search string
		opts               Options
		refused            string // "" loads
	}{
		{"a day of Berlin in a day", "Europe/Berlin", "* | bin _time span=1d" + by, day,
			"stats by _time counts per day of the time zone Europe/Berlin (bin span=1d, in spl_time_zone), whose days start " +
				"at its midnight where the rule's windows start at UTC's"},
		{"two days of Kolkata", "Asia/Kolkata", "* | bin _time span=2d AS d | stats count by d | where count > 5",
			Options{Window: 48 * time.Hour}, "stats by d counts per day of the time zone Asia/Kolkata (bin span=2d"},
		{"renamed", "America/St_Johns", "* | bin _time span=1d AS d | rename d as day | stats count by day | where count > 5",
			day, "stats by day counts per day of the time zone America/St_Johns"},
		{"a day of UTC in a day", "UTC", "* | bin _time span=1d" + by, day, ""},
		{"a day of Etc/GMT in a day", "Etc/GMT", "* | bin _time span=1d" + by, day, ""},
		{"24h of Berlin in a day", "Europe/Berlin", "* | bin _time span=24h" + by, day, ""},
		{"1h of St. John's in an hour", "America/St_Johns", "* | bin _time span=1h" + by, Options{}, ""},
		{"30m of Kolkata in an hour", "Asia/Kolkata", "* | bin _time span=30m" + by, Options{}, ""},
		{"a day of Berlin, per event", "Europe/Berlin", "* | bin _time span=1d | stats count by _time", Options{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := compileSPLIn(t, tt.search, loadZone(t, tt.zone), tt.opts)
			assertRefused(t, err, tt.refused)
		})
	}
}

// TestStrftimeWindowInZone: a windowed stats grouped by the event time written by strftime in a time zone other than
// UTC counts per unit of the zone's calendar (its days, its hours), which the windows, counted from the epoch, must
// not cut where they would not cut UTC's: each part would be counted on its own. Such a rule fails to load, naming the
// field, the format, the unit, the window, the zone and what to set; the window it proposes loads. In UTC nothing is
// refused, nor is what the windows cut in UTC too (the author's window), nor a field computed from the text.
func TestStrftimeWindowInZone(t *testing.T) {
	const by = " | stats count by d user.username | where count > 100"
	day, week := Options{Window: 24 * time.Hour}, Options{Window: 7 * 24 * time.Hour}
	hour, halfHour := Options{}, Options{Window: 30 * time.Minute}
	tests := []struct {
		name, zone, search string
		opts               Options
		refused            string // "" loads
		proposed           time.Duration
	}{
		{"Berlin's days in a day", "Europe/Berlin", `* | eval d=strftime(_time, "%Y-%m-%d")` + by, day,
			`stats by d counts per day of the time zone Europe/Berlin (strftime(_time, "%Y-%m-%d"), in spl_time_zone), ` +
				"whose days the rule's windows of 24h0m0s, counted from the epoch, cut in two (at its offset +01:00): " +
				"each part would be counted on its own, where a search scheduled on the zone's clock does not cut " +
				"them; set the window (the processor's window, or rule_overrides.<rule>.window for this rule) to 1h0m0s " +
				"or a divisor of it, whose windows start where the zone's days do, or set spl_time_zone to UTC", time.Hour},
		{"Berlin's days in two", "Europe/Berlin", `* | eval d=strftime(_time, "%F")` + by, Options{Window: 48 * time.Hour},
			"per day of the time zone Europe/Berlin", time.Hour},
		{"Berlin's months in a day", "Europe/Berlin", `* | eval d=strftime(_time, "%Y-%m")` + by, day,
			"per month of the time zone Europe/Berlin", time.Hour},
		{"Berlin's ISO weeks in a week", "Europe/Berlin", `* | eval d=strftime(_time, "%G-W%V")` + by, week,
			"per ISO week of the time zone Europe/Berlin", time.Hour},
		{"Berlin's days in a week", "Europe/Berlin", `* | eval d=strftime(_time, "%F")` + by, week,
			"per day of the time zone Europe/Berlin", time.Hour},
		{"London's summer days", "Europe/London", `* | eval d=strftime(_time, "%F")` + by, day,
			"cut in two (at its offset +01:00)", time.Hour},
		{"Kolkata's hours in an hour", "Asia/Kolkata", `* | eval d=strftime(_time, "%H")` + by, hour,
			"per hour of the time zone Asia/Kolkata (strftime(_time, \"%H\"), in spl_time_zone), whose hours the " +
				"rule's windows of 1h0m0s, counted from the epoch, cut in two (at its offset +05:30)", 30 * time.Minute},
		{"Kolkata's hours in a day", "Asia/Kolkata", `* | eval d=strftime(_time, "%H")` + by, day, "at its offset +05:30", 30 * time.Minute},
		{"Kolkata's days in an hour", "Asia/Kolkata", `* | eval d=strftime(_time, "%F")` + by, hour, "per day", 30 * time.Minute},
		{"Kolkata's AM and PM", "Asia/Kolkata", `* | eval d=strftime(_time, "%p")` + by, hour, "per half day (AM, PM)", 30 * time.Minute},
		{"Kathmandu's hours in half an hour", "Asia/Kathmandu", `* | eval d=strftime(_time, "%H")` + by, halfHour,
			"at its offset +05:45", 15 * time.Minute},
		{"St. John's days in an hour", "America/St_Johns", `* | eval d=strftime(_time, "%F")` + by, hour,
			"at its offset -03:30", 30 * time.Minute},
		{"Lord Howe's hours in an hour", "Australia/Lord_Howe", `* | eval d=strftime(_time, "%H")` + by, hour,
			"at its offset +10:30", 30 * time.Minute},
		{"renamed", "Europe/Berlin", `* | eval day=strftime(_time, "%F") | rename day as d` + by, day, "stats by d counts per day", time.Hour},
		{"a copy", "Europe/Berlin", `* | eval day=strftime(_time, "%F"), d=day` + by, day, "stats by d counts per day", time.Hour},
		{"of a copy of _time", "Europe/Berlin", `* | eval t=_time | eval d=strftime(t, "%F")` + by, day, "(strftime(t, \"%F\")", time.Hour},
		{"kept by fields", "Europe/Berlin", `* | eval d=strftime(_time, "%F") | fields d user.username` + by, day, "stats by d counts per day", time.Hour},
		{"convert ctime", "Europe/Berlin", `* | convert timeformat="%F" ctime(_time) AS d` + by, day, "stats by d counts per day", time.Hour},
		{"convert ctime of _time", "Europe/Berlin", `* | convert timeformat="%F" ctime(_time)` +
			" | stats count by _time user.username | where count > 100", day, "stats by _time counts per day", time.Hour},
		// A bucket of the epoch's hours starts within the zone's day at the first hour that starts in it.
		{"a day of hour buckets in a day", "Asia/Kolkata", `* | bin _time span=1h | eval d=strftime(_time, "%F")` + by, day,
			"per day of the time zone Asia/Kolkata", time.Hour},
		{"a day of hour buckets in an hour", "Asia/Kolkata", `* | bin _time span=1h | eval d=strftime(_time, "%F")` + by, hour, "", 0},
		{"a day of 10-minute buckets in an hour", "Asia/Kolkata", `* | bin _time span=10m | eval d=strftime(_time, "%F")` + by, hour,
			"per day", 30 * time.Minute},
		// Where the clocks change, apart from each offset: New York's 01:00 comes twice when its clocks go back, "01"
		// from 05:00 to 07:00 UTC, which windows of two or three hours cut at 06:00; the text of %Z changes at the
		// change itself, 01:00 UTC at Troll, where no window of two hours starts.
		// Offsets the zone gave up before 2023 are not checked: Mexico City's summer one (-05:00, until 2022)
		// would cut its days at 05:00 UTC in windows of two hours; its days start at 06:00 UTC today.
		{"Mexico City's days in two hours", "America/Mexico_City", `* | eval d=strftime(_time, "%F")` + by,
			Options{Window: 2 * time.Hour}, "", 0},
		{"New York's repeated hour in two hours", "America/New_York", `* | eval d=strftime(_time, "%H")` + by, Options{Window: 2 * time.Hour},
			"per hour of the time zone America/New_York (strftime(_time, \"%H\"), in spl_time_zone), whose hours the rule's " +
				"windows of 2h0m0s, counted from the epoch, cut in two (where its clocks change from -04:00 to -05:00, at " +
				"2023-11-05 06:00 UTC)", time.Hour},
		{"New York's repeated hour in three hours", "America/New_York", `* | eval d=strftime(_time, "%F %H")` + by, Options{Window: 3 * time.Hour},
			"where its clocks change from -04:00 to -05:00", time.Hour},
		{"Lord Howe's repeated hour of hour buckets", "Australia/Lord_Howe", `* | bin _time span=1h | eval d=strftime(_time, "%H")` + by,
			Options{Window: 3 * time.Hour}, "where its clocks change from +11:00 to +10:30", time.Hour},
		{"Troll's %Z in two hours", "Antarctica/Troll", `* | eval d=strftime(_time, "%F %Z")` + by, Options{Window: 2 * time.Hour},
			"where its clocks change from +00:00 to +02:00", time.Hour},
		{"New York's repeated hour in four hours", "America/New_York", `* | eval d=strftime(_time, "%H")` + by, Options{Window: 4 * time.Hour}, "", 0},
		{"New York's repeated hour in a day", "America/New_York", `* | eval d=strftime(_time, "%H")` + by, day, "", 0},
		{"Troll's days in two hours", "Antarctica/Troll", `* | eval d=strftime(_time, "%F")` + by, Options{Window: 2 * time.Hour}, "", 0},
		{"Berlin's days and %Z in an hour", "Europe/Berlin", `* | eval d=strftime(_time, "%F %Z")` + by, hour, "", 0},
		// Units the windows hold whole, or in whole windows, in every offset of the zone.
		{"Berlin's days in an hour", "Europe/Berlin", `* | eval d=strftime(_time, "%F")` + by, hour, "", 0},
		{"Berlin's months in an hour", "Europe/Berlin", `* | eval d=strftime(_time, "%Y-%m")` + by, hour, "", 0},
		{"Berlin's hours in an hour", "Europe/Berlin", `* | eval d=strftime(_time, "%H")` + by, hour, "", 0},
		{"Berlin's hours in a day", "Europe/Berlin", `* | eval d=strftime(_time, "%H")` + by, day, "", 0},
		{"Berlin's hours in two hours", "Europe/Berlin", `* | eval d=strftime(_time, "%H")` + by, Options{Window: 2 * time.Hour}, "", 0},
		{"Berlin's hours in 10 minutes", "Europe/Berlin", `* | eval d=strftime(_time, "%H")` + by, Options{Window: 10 * time.Minute}, "", 0},
		{"Kolkata's hours in half an hour", "Asia/Kolkata", `* | eval d=strftime(_time, "%H")` + by, halfHour, "", 0},
		{"Kolkata's minutes in a minute", "Asia/Kolkata", `* | eval d=strftime(_time, "%F %R")` + by, Options{Window: time.Minute}, "", 0},
		{"Lord Howe's hours in half an hour", "Australia/Lord_Howe", `* | eval d=strftime(_time, "%H")` + by, halfHour, "", 0},
		{"Caracas's hours, whole since 2016", "America/Caracas", `* | eval d=strftime(_time, "%H")` + by, hour, "", 0},
		// Cut in UTC too: the window is the author's, as a search's interval is.
		{"Kolkata's hours in 90 minutes", "Asia/Kolkata", `* | eval d=strftime(_time, "%H")` + by, Options{Window: 90 * time.Minute}, "", 0},
		{"Berlin's years in a day", "Europe/Berlin", `* | eval d=strftime(_time, "%Y")` + by, Options{Window: 36 * time.Hour}, "", 0},
		{"Berlin's years in a week", "Europe/Berlin", `* | eval d=strftime(_time, "%Y")` + by, week, "", 0},
		// UTC, and a zone that is UTC's all the time.
		{"UTC's days in a day", "UTC", `* | eval d=strftime(_time, "%F")` + by, day, "", 0},
		{"UTC's hours in 90 minutes", "UTC", `* | eval d=strftime(_time, "%H")` + by, Options{Window: 90 * time.Minute}, "", 0},
		{"Etc/GMT's days in a day", "Etc/GMT", `* | eval d=strftime(_time, "%F")` + by, day, "", 0},
		// No unit of the calendar, or not the plain text of one: not judged.
		{"the zone's name", "Europe/Berlin", `* | eval d=strftime(_time, "%Z")` + by, day, "", 0},
		{"milliseconds", "Europe/Berlin", `* | eval d=strftime(_time, "%F %T.%3N")` + by, day, "", 0},
		{"a part of the text", "Europe/Berlin", `* | eval d=substr(strftime(_time, "%F"), 1, 7)` + by, day, "", 0},
		{"a comparison", "Europe/Berlin", `* | eval d=if(strftime(_time, "%a")="Sun", "sunday", "not")` + by, day, "", 0},
		{"of another field", "Europe/Berlin", `* | eval d=strftime(requestReceivedTimestamp, "%F")` + by, day, "", 0},
		{"of a bucket of local days", "Europe/Berlin", `* | bin _time span=1d | eval d=strftime(_time, "%F")` + by, day, "", 0},
		{"overwritten", "Europe/Berlin", `* | eval d=strftime(_time, "%F") | eval d="x"` + by, day, "", 0},
		{"removed, then filled", "Europe/Berlin", `* | eval d=strftime(_time, "%F") | fields - d | fillnull value=none d` + by, day, "", 0},
		{"not kept, then filled", "Europe/Berlin", `* | eval d=strftime(_time, "%F") | fields user.username | fillnull value=none d` + by, day, "", 0},
		{"not grouped by it", "Europe/Berlin", `* | eval d=strftime(_time, "%F") | stats count values(d) by user.username | where count > 100`, day, "", 0},
		{"per event", "Europe/Berlin", `* | eval d=strftime(_time, "%F") | stats count by d user.username`, day, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			zone := loadZone(t, tt.zone)
			_, err := compileSPLIn(t, tt.search, zone, tt.opts)
			assertRefused(t, err, tt.refused)
			if tt.refused != "" && !strings.Contains(err.Error(), fmt.Sprintf("to %s or a divisor of it", tt.proposed)) {
				t.Fatalf("error %v, want it to propose a window of %s", err, tt.proposed)
			}
			if tt.proposed > 0 {
				if _, err := compileSPLIn(t, tt.search, zone, Options{Window: tt.proposed}); err != nil {
					t.Errorf("the window proposed, %s: %v", tt.proposed, err)
				}
			}
		})
	}
}

// TestBinWindowCounts: with bin _time span=10m in the default hourly window, each bucket is a group of its own:
// more than 50 secrets read by a user within one bucket fire once, 30 and 30 in two buckets of one window do not.
func TestBinWindowCounts(t *testing.T) {
	e, err := compileSPL(t, "verb=get | bin _time span=10m | stats dc(objectRef.name) as n by _time user.username | where n > 50", Options{})
	if err != nil {
		t.Fatal(err)
	}
	read := func(user string, i int, at time.Time) []byte {
		return []byte(fmt.Sprintf(`{"verb":"get","user":{"username":%q},"objectRef":{"resource":"secrets","name":"s%d"},"stageTimestamp":%q}`,
			user, i, at.Format(time.RFC3339Nano)))
	}
	var events [][]byte
	// alice: 51 in 10:10-10:20, the first at its start, the last at its last microsecond.
	for i := range 51 {
		at := w0.Add(10*time.Minute + time.Duration(i)*11*time.Second)
		if i == 50 {
			at = w0.Add(20*time.Minute - time.Microsecond)
		}
		events = append(events, read("alice", i, at))
	}
	// bob: 30 in 10:20-10:30 and 30 in 10:30-10:40, the second 30 from 10:30:00 exactly: 60 in the hour, 30 per bucket.
	for i := range 60 {
		events = append(events, read("bob", i, w0.Add(20*time.Minute+time.Duration(i)*20*time.Second)))
	}
	var fired []string
	eachRow(t, e, events, func(i int, r Row) {
		fired = append(fired, fmt.Sprintf("%d:%s:%s:%s", i, r.Values("user.username")[0], r.Values("_time")[0], r.Values("n")[0]))
	})
	want := []string{fmt.Sprintf("50:alice:%d:51", w0.Add(10*time.Minute).Unix())}
	if !reflect.DeepEqual(fired, want) {
		t.Errorf("fired %v, want %v", fired, want)
	}
}
