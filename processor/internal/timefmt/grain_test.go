package timefmt

import (
	"slices"
	"testing"
	"time"
)

// TestFormatGrain: a format's grain is its finest conversion's, whatever its flags and width; one that writes no part
// of the clock or the calendar, or one finer than a second, has none.
func TestFormatGrain(t *testing.T) {
	cases := []struct {
		format string
		unit   string // "" for none
		period time.Duration
		every  bool
	}{
		{"%Y-%m-%d", "day", day, true},
		{"%F", "day", day, true},
		{"%H", "hour", time.Hour, true},
		{"%Y-%m-%dT%H:%M:%S", "second", time.Second, true},
		{"%s", "second", time.Second, true},
		{"%R", "minute", time.Minute, true},
		{"%p", "half day (AM, PM)", 12 * time.Hour, true},
		{"%Y-%m", "month", day, false},
		{"%b %Y", "month", day, false},
		{"%Y", "year", day, false},
		{"%C", "century", day, false},
		{"%U", "week", day, false},
		{"%G-W%V", "ISO week", week, true},
		{"%G", "ISO year", week, false},
		{"%V %m", "month", day, false}, // month starts and Mondays: some midnights
		{"%-d", "day", day, true},
		{"%_3H", "hour", time.Hour, true},
		{"%^a", "day", day, true},
		{"%:z %H", "hour", time.Hour, true},
		// None.
		{"%Z", "", 0, false},
		{"%z %:z %::z", "", 0, false},
		{"day %%d", "", 0, false}, // %% then the letter d
		{"%Ey %q", "", 0, false},  // written as they stand
		{"%F %T.%3N", "", 0, false},
		{"%f", "", 0, false},
		{"%H%", "hour", time.Hour, true},
		{"%F %Q", "", 0, false},
		{"%F %3Q", "", 0, false},
		{"%F %9N", "", 0, false},
		{"%F %-3N", "day", day, true}, // not Splunk's: written as it stands
		{"%F %10N", "day", day, true},
		{"%F %%N", "day", day, true},
	}
	for _, c := range cases {
		g, ok := FormatGrain(c.format)
		if c.unit == "" {
			if ok {
				t.Errorf("FormatGrain(%q) = %+v, want none", c.format, g)
			}
			continue
		}
		if !ok || g.Unit != c.unit || g.Period != c.period || g.Every != c.every {
			t.Errorf("FormatGrain(%q) = %+v, %v; want %s, %v, every %v", c.format, g, ok, c.unit, c.period, c.every)
		}
	}
}

// TestFormatGrainHolds: the text of a format is the same all through each cell of its grain and, for a grain whose
// text changes at each bound, differs across each bound, in UTC and on the local clock of a zone (+05:30), over
// enough cells to pass the ends of months, years and ISO years.
func TestFormatGrainHolds(t *testing.T) {
	formats := []string{"%S", "%s", "%T", "%c", "%+", "%r", "%M", "%R", "%H", "%k", "%I", "%l", "%p", "%P", "%d", "%e",
		"%j", "%a", "%A", "%w", "%u", "%D", "%x", "%F", "%v", "%U", "%W", "%m", "%b", "%B", "%h", "%Y", "%y", "%C",
		"%V", "%G", "%g", "%Y-%m", "%G-W%V", "%Y %H", "%F %-3N", "%F %10N"}
	for _, name := range []string{"UTC", "Asia/Kolkata"} {
		loc := zone(t, name)
		_, offset := time.Date(2024, 6, 1, 0, 0, 0, 0, loc).Zone()
		for _, format := range formats {
			g, ok := FormatGrain(format)
			if !ok {
				t.Fatalf("FormatGrain(%q): none", format)
			}
			// The first bound after 2024-11-30 on the local clock, then 400 cells.
			from := time.Date(2024, 11, 30, 0, 0, 0, 0, time.UTC)
			bound := time.Unix(0, 0).Add(g.Phase - time.Duration(offset)*time.Second)
			bound = bound.Add(from.Sub(bound).Truncate(g.Period) + g.Period)
			changes := 0
			for range 400 {
				text := FormatIn(bound, format, loc)
				if before := FormatIn(bound.Add(-time.Nanosecond), format, loc); before != text {
					changes++
				} else if g.Every {
					t.Errorf("%s, %q: the same text %q across the bound %v", name, format, text, bound)
				}
				for _, in := range []time.Duration{g.Period / 2, g.Period - time.Nanosecond} {
					if got := FormatIn(bound.Add(in), format, loc); got != text {
						t.Errorf("%s, %q: %q at %v, %q within the same cell at %v", name, format, text, bound, got, bound.Add(in))
					}
				}
				bound = bound.Add(g.Period)
			}
			if changes == 0 && format != "%C" { // a century's end is further off
				t.Errorf("%s, %q: no change at any bound", name, format)
			}
		}
	}
}

// TestOffsets: the offsets a zone's clocks show, each once: Europe/Berlin's two, Asia/Kolkata's one, and the two of a
// leap year past the zone database's table, where Go reports a change of nothing at the end of the year.
func TestOffsets(t *testing.T) {
	date := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
	cases := []struct {
		zone     string
		from, to time.Time
		want     []int
	}{
		{"Europe/Berlin", date(2020, 1, 1), date(2100, 1, 1), []int{3600, 7200}},
		{"Europe/Berlin", date(2025, 4, 1), date(2025, 5, 1), []int{7200}},
		{"Asia/Kolkata", date(2020, 1, 1), date(2100, 1, 1), []int{19800}},
		{"America/St_Johns", date(2020, 1, 1), date(2100, 1, 1), []int{-12600, -9000}},
		{"America/Caracas", date(2010, 1, 1), date(2100, 1, 1), []int{-16200, -14400}},
		{"UTC", date(2020, 1, 1), date(2100, 1, 1), []int{0}},
		{"Europe/Berlin", date(2040, 12, 30), date(2041, 4, 1), []int{3600, 7200}},
	}
	for _, c := range cases {
		if got := Offsets(zone(t, c.zone), c.from, c.to); !slices.Equal(got, c.want) {
			t.Errorf("Offsets(%s, %v, %v) = %v, want %v", c.zone, c.from, c.to, got, c.want)
		}
	}
}

// TestChanges: the instants a zone's clocks change at, with the offsets on each side: America/New_York's two of 2020,
// America/Whitehorse's last of 2020, where only the abbreviation changed (PDT to MST, both -07:00: %Z changes there),
// none in Asia/Kolkata, and past the zone database's table no change of nothing at the end of a leap year.
func TestChanges(t *testing.T) {
	date := func(y int, m time.Month, d, h int) time.Time { return time.Date(y, m, d, h, 0, 0, 0, time.UTC) }
	type change struct {
		at            time.Time
		before, after int
	}
	cases := []struct {
		zone     string
		from, to time.Time
		want     []change
	}{
		{"America/New_York", date(2020, 1, 1, 0), date(2021, 1, 1, 0),
			[]change{{date(2020, 3, 8, 7), -18000, -14400}, {date(2020, 11, 1, 6), -14400, -18000}}},
		{"America/Whitehorse", date(2020, 6, 1, 0), date(2021, 1, 1, 0), []change{{date(2020, 11, 1, 7), -25200, -25200}}},
		{"Asia/Kolkata", date(2020, 1, 1, 0), date(2100, 1, 1, 0), nil},
		{"Europe/Berlin", date(2040, 12, 30, 0), date(2041, 4, 1, 0), []change{{date(2041, 3, 31, 1), 3600, 7200}}},
	}
	for _, c := range cases {
		var got []change
		for _, ch := range Changes(zone(t, c.zone), c.from, c.to) {
			got = append(got, change{ch.At.UTC(), ch.Before, ch.After})
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("Changes(%s, %v, %v) = %v, want %v", c.zone, c.from, c.to, got, c.want)
		}
	}
}
