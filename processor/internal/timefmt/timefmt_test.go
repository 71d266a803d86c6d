package timefmt

import (
	"strings"
	"testing"
	"time"
)

// at is Monday 2025-11-24 16:05:09.123456789 UTC (1764000309.123456789), a time with a distinct value in every field.
var at = time.Date(2025, 11, 24, 16, 5, 9, 123456789, time.UTC)

// TestFormatDirectives: each conversion Splunk's "Date and time format variables" lists as common, and the C ones
// beside them, on one time.
func TestFormatDirectives(t *testing.T) {
	early := time.Date(2025, 1, 5, 7, 8, 9, 0, time.UTC) // a Sunday, day 5, 7 in the morning: the padded forms
	cases := []struct {
		format string
		t      time.Time
		want   string
	}{
		{"%Y", at, "2025"}, {"%y", at, "25"}, {"%C", at, "20"},
		{"%m", at, "11"}, {"%m", early, "01"}, {"%b", at, "Nov"}, {"%h", at, "Nov"}, {"%B", at, "November"},
		{"%d", at, "24"}, {"%d", early, "05"}, {"%e", early, " 5"}, {"%e", at, "24"},
		{"%j", at, "328"}, {"%j", early, "005"},
		{"%a", at, "Mon"}, {"%A", at, "Monday"}, {"%w", early, "0"}, {"%u", early, "7"}, {"%u", at, "1"},
		{"%U", early, "01"}, {"%W", early, "00"}, {"%V", at, "48"}, {"%G", at, "2025"}, {"%g", at, "25"},
		{"%H", at, "16"}, {"%H", early, "07"}, {"%k", early, " 7"},
		{"%I", at, "04"}, {"%I", time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), "12"}, {"%l", early, " 7"},
		{"%p", at, "PM"}, {"%p", early, "AM"},
		{"%M", at, "05"}, {"%S", at, "09"}, {"%s", at, "1764000309"},
		{"%N", at, "123456789"}, {"%3N", at, "123"}, {"%6N", at, "123456"}, {"%9N", at, "123456789"},
		{"%Q", at, "123"}, {"%3Q", at, "123"}, {"%6Q", at, "123456"}, {"%f", at, "123456"},
		{"%Z", at, "UTC"}, {"%z", at, "+0000"}, {"%:z", at, "+00:00"}, {"%::z", at, "+00:00:00"}, {"%:::z", at, "+00"},
		{"%T", at, "16:05:09"}, {"%R", at, "16:05"}, {"%r", at, "04:05:09 PM"}, {"%F", at, "2025-11-24"},
		{"%D", at, "11/24/25"}, {"%x", at, "11/24/25"}, {"%X", at, "16:05:09"},
		{"%c", early, "Sun Jan  5 07:08:09 2025"}, {"%+", early, "Sun Jan  5 07:08:09 UTC 2025"},
		{"%n%t", at, "\n\t"}, {"%%", at, "%"}, {"100%% at %H", at, "100% at 16"},
		// ESCU's security_content_ctime and convert's default timeformat.
		{"%Y-%m-%dT%H:%M:%S", at, "2025-11-24T16:05:09"}, {"%m/%d/%Y %H:%M:%S", at, "11/24/2025 16:05:09"},
		{"%Y-%m-%d %H:%M:%S.%3N", at, "2025-11-24 16:05:09.123"},
		// Splunk's subsecond conversions around the library's: after %%, inside another conversion (%_% is a %), and
		// with a width the library would take for its own (%10N, %-3N are not Splunk's: written as they stand).
		{"%1N %5N %7N %8N %1Q %9Q", at, "1 12345 1234567 12345678 1 123456789"}, {"%%N %%%3N", at, "%N %123"},
		{"%S.%N", time.Date(2025, 1, 5, 7, 8, 9, 5000, time.UTC), "09.000005000"}, {"%_%N", at, "%N"},
		{"%10N|%-3N|%0N", at, "      %10N|%-3N|%0N"}, {"%Q%", at, "123%"},
		// The library's glibc extensions: flags (- no padding, _ spaces, 0 zeros, ^ upper case, # swapped case), widths,
		// %P (am, pm), %v (%e-%b-%Y).
		{"%-d/%-m %_m %0e %^a %^B %#Z %6Y %3d %P %v", early, "5/1  1 05 SUN JANUARY utc 002025 005 am  5-Jan-2025"},
		// A conversion it does not know (%q, the E and O modifiers), a colon before another than z, a % at the end:
		// written as they stand; a width with nothing after it is padded to that width, as glibc does.
		{"%q %Ez %Oy %:H", at, "%q %Ez %Oy %:H"}, {"end %", at, "end %"}, {"%3", at, " %3"}, {"", at, ""},
		// Another zone is written in UTC.
		{"%H %Z", at.In(time.FixedZone("X", 3600)), "16 UTC"},
	}
	for _, c := range cases {
		if got := Format(c.t, c.format); got != c.want {
			t.Errorf("Format(%q) = %q, want %q", c.format, got, c.want)
		}
	}
}

func TestParse(t *testing.T) {
	cases := []struct {
		format, s string
		want      string // EpochText of the result; "" for no time
	}{
		{"%Y-%m-%dT%H:%M:%S", "2025-11-24T16:05:09", "1764000309"},
		{"%m/%d/%Y %H:%M:%S", "11/24/2025 16:05:09", "1764000309"},
		{"%m/%d/%Y %H:%M:%S", "1/2/2025 3:04:05", "1735787045"},
		{"%Y-%m-%d %H:%M:%S.%3N", "2025-11-24 16:05:09.123", "1764000309.123"},
		{"%Y-%m-%dT%H:%M:%S.%6N%z", "2025-11-24T17:05:09.123456+01:00", "1764000309.123456"},
		// Splunk's subsecond conversions read 1 to 6 digits, or up to 9 after a '.' (or ',') when wider than 6.
		{"%H:%M:%S.%N", "16:05:09.5", "-2208930890.5"},
		{"%s.%N", "1764000309.123456789", "1764000309.123456"}, {"%s,%9N", "1764000309,12", "1764000309.12"},
		{"%s.%3Q", "1764000309.25", "1764000309.25"}, {"%s.%Q", "1764000309.123456", "1764000309.123456"},
		{"%s.%N", "1764000309.1234567890", ""}, {"%s.%6N", "1764000309.1234567", ""},
		{"%s.%N%N", "1764000309.12", ""}, // the first %N takes both digits
		{"%s.%f", "1764000309.123456", "1764000309.123456"},
		{"%Y-%m-%dT%H:%M:%S%z", "2025-11-24T16:05:09Z", "1764000309"},
		{"%d %b %Y %I:%M %p", "24 nov 2025 04:05 PM", "1764000300"},
		{"%d %B %Y %I:%M %p", "24 November 2025 12:05 AM", "1763942700"},
		{"%a %b %e %T %Y", "Mon Nov 24 16:05:09 2025", "1764000309"},
		{"%F %T %Z", "2025-11-24 16:05:09 UTC", "1764000309"},
		{"%Y %j", "2025 328", "1763942400"},
		{"%s", "1764000309", "1764000309"},
		{"%y-%m-%d", "69-01-01", "-31536000"},
		{"%D", "11/24/25", "1763942400"},
		{"%H:%M", "16:05", "-2208930900"}, // the date the format does not give is 1900-01-01
		{"100%% %Y", "100% 2025", "1735689600"},
		{"%Y-%m-%d", "2025-02-29", "1740787200"}, // a day past the end of its month runs into the next: 2025-03-01
		{"%Y %j", "2025 366", "1767225600"},      // 2026-01-01
		{"%Y-%m-%d %H:%M:%S", "2025-11-24 16:05:60", "1764000360"},
		{"%F %T %Z", "2025-11-24 16:05:09 GMT", "1764000309"},
		{"%F %T %Z", "2025-11-24 16:05:09 EST", ""}, // an abbreviation the library has no offset for
		{"%F %T %Z", "2025-11-24 16:05:09 Z", ""},
		{"%F %T %Z%z", "2025-11-24 11:05:09 EST-0500", "1764000309"},
		{"%F %T %z", "2025-11-24 16:05:09 +0000", "1764000309"},
		// A space matches one space; %n and %t one or more.
		{"%Y %m", "2025  11", ""}, {"%Y  %m", "2025 11", ""}, {"%Y%n%m", "2025 \t 11", "1761955200"},
		// %B reads the full name, %b the abbreviation only.
		{"%d %B %Y", "24 Nov 2025", ""},
		// A conversion the library does not know, and a flag (which it writes but does not read), match nothing.
		{"%q %Y", "%q 2025", ""}, {"%Ey", "25", ""}, {"%Y %", "2025 %", ""}, {"%-d", "5", ""},
		// Outside the years 1 to 9999.
		{"%Y", "0", ""}, {"%Y", "-5", ""}, {"%s", "253402300800", ""}, {"%s", "-99999999999999", ""},
		{"%Y-%m-%d", "2025-11-24 junk", ""},
		{"%Y-%m-%d", "2025-13-01", ""},
		{"%H:%M:%S", "24:00:00", ""},
		{"%Y-%m-%d", "", ""},
		{"%b", "Foo", ""},
	}
	for _, c := range cases {
		tm, ok := Parse(c.format, c.s)
		got := ""
		if ok {
			got = EpochText(tm)
		}
		if got != c.want {
			t.Errorf("Parse(%q, %q) = %q, want %q", c.format, c.s, got, c.want)
		}
	}
}

func TestEpoch(t *testing.T) {
	cases := []struct{ in, want string }{
		{"1764000309", "2025-11-24T16:05:09Z"},
		{"1764000309.123456", "2025-11-24T16:05:09.123456Z"},
		{"1764000309.1234567891", "2025-11-24T16:05:09.123456789Z"}, // past nanoseconds: cut
		{"+0001764000309.5", "2025-11-24T16:05:09.5Z"},
		{"-1.5", "1969-12-31T23:59:58.5Z"},
		{"1.764000309e9", "2025-11-24T16:05:09Z"},
		{"0", "1970-01-01T00:00:00Z"},
		{"253402300799", "9999-12-31T23:59:59Z"},
		{"253402300800", ""}, {"-62135596801", ""}, {"1e300", ""}, {"99999999999999999999", ""},
		{"abc", ""}, {"", ""}, {"12abc", ""}, {" 1", ""}, {"nan", ""}, {"0x10", ""},
	}
	for _, c := range cases {
		tm, ok := Epoch(c.in)
		got := ""
		if ok {
			got = tm.Format(time.RFC3339Nano)
		}
		if got != c.want {
			t.Errorf("Epoch(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestEpochText(t *testing.T) {
	cases := []struct {
		t    time.Time
		want string
	}{
		{time.Unix(1764000000, 0), "1764000000"},
		{time.Unix(1764000000, 123456000), "1764000000.123456"},
		{time.Unix(1764000000, 123456789), "1764000000.123456"}, // to the microsecond
		{time.Unix(1764000000, 500000000), "1764000000.5"},
		{time.Unix(1764000000, 999), "1764000000"},
		{time.Unix(-2, 500000000), "-1.5"},
		{time.Unix(-1, 500000000), "-0.5"},
	}
	for _, c := range cases {
		if got := EpochText(c.t); got != c.want {
			t.Errorf("EpochText(%v) = %q, want %q", c.t, got, c.want)
		}
		if c.want == "-0.5" || c.want == "-1.5" {
			continue
		}
		// What EpochText writes, Epoch reads back (to the microsecond).
		if back, ok := Epoch(c.want); !ok || !back.Equal(c.t.Truncate(time.Microsecond)) {
			t.Errorf("Epoch(EpochText(%v)) = %v, %v", c.t, back, ok)
		}
	}
}

// FuzzFormatParse: no format and no text makes them panic, and what Format writes of a time with %s, Parse reads. In
// zones ahead of and behind UTC, and one whose clocks change by half an hour (Australia/Lord_Howe): a time's local day
// starts at or before it, on its date, and no earlier instant is of that date; what FormatIn writes with the offset
// (%::z, to the second, for the offsets of local mean time), ParseIn reads back; a local time ParseIn reads is shown
// by the zone's clocks then, or is one they skipped and it is read after the skip.
func FuzzFormatParse(f *testing.F) {
	for _, s := range []string{"%Y-%m-%dT%H:%M:%S", "%3N%:z%", "%c %+ %%", "%9Q%j%U%W%V", "%s.%N", "%G-W%V-%u %10Y%_%N"} {
		f.Add(s, "2025-11-24T16:05:09", "1764000309.25")
	}
	f.Add("%F %T", "2025-03-09 02:30:00", "1762065000")  // skipped in America/New_York
	f.Add("%F %T", "2025-11-02 01:30:00", "-2208988800") // shown twice there; 1900
	zones := []*time.Location{zone(f, "Europe/Berlin"), zone(f, "America/New_York"), zone(f, "Australia/Lord_Howe")}
	date := func(t time.Time, loc *time.Location) [3]int {
		y, m, d := t.In(loc).Date()
		return [3]int{y, int(m), d}
	}
	f.Fuzz(func(t *testing.T, format, text, epoch string) {
		_, _ = Parse(format, text)
		for _, loc := range zones {
			if tm, ok := ParseIn(format, text, loc); ok && format == "%F %T" {
				wall, _ := Parse(format, text)
				_, offset := tm.In(loc).Zone()
				if shown := tm.Add(time.Duration(offset) * time.Second); shown.Before(wall) {
					t.Fatalf("%q in %s read as %v, which its clocks show as %v", text, loc, tm, shown)
				}
			}
		}
		tm, ok := Epoch(epoch)
		if !ok {
			return
		}
		_ = Format(tm, format)
		_ = EpochText(tm)
		if back, ok := Parse("%s", Format(tm, "%s")); !ok || back.Unix() != tm.Unix() {
			t.Fatalf("%%s of %v read back as %v, %v", tm, back, ok)
		}
		for _, loc := range zones {
			_ = FormatIn(tm, format, loc)
			if day := DayBucket(tm, 1, loc); day.After(tm) || date(day, loc) != date(tm, loc) ||
				date(day.Add(-time.Nanosecond), loc) == date(tm, loc) {
				t.Fatalf("the local day of %v in %s starts at %v", tm, loc, day)
			}
			const full = "%Y-%m-%dT%H:%M:%S%::z"
			if y := tm.In(loc).Year(); y >= 0 && y <= 9999 {
				if back, ok := ParseIn(full, FormatIn(tm, full, loc), loc); !ok || back.Unix() != tm.Unix() {
					t.Fatalf("%s of %v in %s read back as %v, %v", FormatIn(tm, full, loc), tm, loc, back, ok)
				}
			}
		}
	})
}

func zone(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := Zone(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// TestZone: an IANA name is a zone; the host's zone and an unknown name are not.
func TestZone(t *testing.T) {
	for _, name := range []string{"UTC", "Europe/Berlin", "Asia/Kolkata", "America/St_Johns", "Etc/GMT+5"} {
		if loc, err := Zone(name); err != nil || loc.String() != name {
			t.Errorf("Zone(%q) = %v, %v", name, loc, err)
		}
	}
	for name, want := range map[string]string{
		"":            "the time zone is empty",
		"Local":       `time zone "Local" is the host's`,
		"Europe/Bonn": `unknown time zone "Europe/Bonn"`,
		"CET ":        `unknown time zone "CET "`,
		"../etc/x":    `unknown time zone "../etc/x"`,
	} {
		if _, err := Zone(name); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Zone(%q): error %v, want %q", name, err, want)
		}
	}
}

// TestFormatIn: the local time of the zone, its abbreviation and offset at that time (CET in winter, CEST in summer),
// and zones of half and three-quarter hours.
func TestFormatIn(t *testing.T) {
	const f = "%Y-%m-%dT%H:%M:%S %Z %z"
	cases := []struct {
		zone string
		t    time.Time
		want string
	}{
		{"Europe/Berlin", at, "2025-11-24T17:05:09 CET +0100"},
		{"Europe/Berlin", time.Date(2025, 7, 1, 12, 0, 0, 0, time.UTC), "2025-07-01T14:00:00 CEST +0200"},
		// The last second of CEST and the first of CET on the autumn day: 02:59:59 then 02:00:00 again.
		{"Europe/Berlin", time.Unix(1761440399, 0), "2025-10-26T02:59:59 CEST +0200"},
		{"Europe/Berlin", time.Unix(1761440400, 0), "2025-10-26T02:00:00 CET +0100"},
		{"Asia/Kolkata", at, "2025-11-24T21:35:09 IST +0530"},
		{"America/St_Johns", at, "2025-11-24T12:35:09 NST -0330"},
		{"America/St_Johns", time.Date(2025, 7, 1, 12, 0, 0, 0, time.UTC), "2025-07-01T09:30:00 NDT -0230"},
		{"Asia/Kathmandu", at, "2025-11-24T21:50:09 +0545 +0545"}, // no abbreviation in the database: the offset
		{"UTC", at, "2025-11-24T16:05:09 UTC +0000"},
	}
	for _, c := range cases {
		if got := FormatIn(c.t, f, zone(t, c.zone)); got != c.want {
			t.Errorf("FormatIn(%v, %s) = %q, want %q", c.t, c.zone, got, c.want)
		}
	}
	// %s is the instant, whatever the zone.
	if got := FormatIn(at, "%s", zone(t, "Asia/Kolkata")); got != "1764000309" {
		t.Errorf("%%s in Asia/Kolkata = %q", got)
	}
}

// TestParseIn: a time without a zone is a local time of the zone; one with a zone (%z, or %Z reading UTC or GMT) and
// epoch seconds (%s) name their instant wherever they are read.
func TestParseIn(t *testing.T) {
	cases := []struct {
		zone, format, s string
		want            string // EpochText; "" for no time
	}{
		{"Europe/Berlin", "%Y-%m-%dT%H:%M:%S", "2025-11-24T17:05:09", "1764000309"},
		{"Europe/Berlin", "%Y-%m-%dT%H:%M:%S", "2025-07-01T14:00:00", "1751371200"}, // CEST
		{"Asia/Kolkata", "%m/%d/%Y %H:%M:%S", "11/24/2025 21:35:09", "1764000309"},
		{"America/St_Johns", "%F %T.%3N", "2025-11-24 12:35:09.250", "1764000309.25"},
		{"America/St_Johns", "%F %T", "2025-07-01 09:30:00", "1751371200"}, // NDT
		// A zone in the text wins.
		{"Europe/Berlin", "%F %T %z", "2025-11-24 16:05:09 +0000", "1764000309"},
		{"Europe/Berlin", "%FT%T%z", "2025-11-24T16:05:09Z", "1764000309"},
		{"Europe/Berlin", "%F %T %Z", "2025-11-24 16:05:09 UTC", "1764000309"},
		{"Europe/London", "%F %T %Z", "2025-07-01 12:00:00 GMT", "1751371200"}, // GMT, not London's summer time
		{"Europe/Berlin", "%F %T %Z", "2025-11-24 17:05:09 CET", ""},           // as in UTC: no abbreviation but UTC and GMT
		{"Europe/Berlin", "%s", "1764000309", "1764000309"},
		{"Europe/Berlin", "%%s %Y-%m-%d", "%s 2025-11-24", "1763938800"}, // a literal %s: a local date
		// The clocks go forward over 02:00-03:00 on 2025-03-30: 02:30 is read with the offset before, 03:30 CEST.
		{"Europe/Berlin", "%F %T", "2025-03-30 02:30:00", "1743298200"},
		// They go back over 02:00-03:00 on 2025-10-26: 02:30 happens twice, the later (CET) is read.
		{"Europe/Berlin", "%F %T", "2025-10-26 02:30:00", "1761442200"},
		// The same west of Greenwich, where time.Date chooses the other way: America/New_York's 02:30 on 2025-03-09 is
		// 03:30 EDT (07:30Z), not 01:30 EST; its 01:30 on 2025-11-02 is the later, EST (06:30Z), not EDT.
		{"America/New_York", "%F %T", "2025-03-09 02:30:00", "1741505400"},
		{"America/New_York", "%F %T", "2025-11-02 01:30:00", "1762065000"},
		// America/Sao_Paulo skipped midnight on 2018-11-04: 00:30 is 01:30 -02 on the 4th, not 23:30 on the 3rd.
		{"America/Sao_Paulo", "%F %T", "2018-11-04 00:30:00", "1541302200"},
		// Outside the years 1 to 9999 once in the zone.
		{"Asia/Kolkata", "%F %T", "0001-01-01 00:00:00", ""},
		{"Europe/Berlin", "%F", "not a date", ""},
	}
	for _, c := range cases {
		tm, ok := ParseIn(c.format, c.s, zone(t, c.zone))
		got := ""
		if ok {
			got = EpochText(tm)
		}
		if got != c.want {
			t.Errorf("ParseIn(%q, %q, %s) = %q, want %q", c.format, c.s, c.zone, got, c.want)
		}
	}
}

// TestDayBucket: the start of a time's local day, 23 or 25 hours long when the clocks change, for zones of whole, half
// and three-quarter hours; buckets of several days counted from 1970-01-01.
func TestDayBucket(t *testing.T) {
	cases := []struct {
		zone  string
		at    int64 // epoch seconds
		days  int64
		start int64
	}{
		// Europe/Berlin, 2025-03-30: 00:00 CET (2025-03-29T23:00Z) to 00:00 CEST (2025-03-30T22:00Z), 23 hours.
		{"Europe/Berlin", 1743289200, 1, 1743289200},
		{"Europe/Berlin", 1743336000, 1, 1743289200},
		{"Europe/Berlin", 1743371999, 1, 1743289200},
		{"Europe/Berlin", 1743372000, 1, 1743372000},
		// 2025-10-26: 00:00 CEST (2025-10-25T22:00Z) to 00:00 CET (2025-10-26T23:00Z), 25 hours.
		{"Europe/Berlin", 1761480000, 1, 1761429600},
		{"Europe/Berlin", 1761519599, 1, 1761429600},
		{"Europe/Berlin", 1761519600, 1, 1761519600},
		// Asia/Kolkata, +05:30: 2025-11-24 starts at 2025-11-23T18:30Z.
		{"Asia/Kolkata", 1764000000, 1, 1763922600},
		{"Asia/Kolkata", 1764008999, 1, 1763922600},
		{"Asia/Kolkata", 1764009000, 1, 1764009000},
		// America/St_Johns, -03:30: 2025-11-24 starts at 03:30Z; its spring day (2025-03-09) lasts 23 hours.
		{"America/St_Johns", 1764000000, 1, 1763955000},
		{"America/St_Johns", 1763954999, 1, 1763868600},
		{"America/St_Johns", 1741521600, 1, 1741491000},
		{"America/St_Johns", 1741573799, 1, 1741491000},
		{"America/St_Johns", 1741573800, 1, 1741573800},
		// America/Havana skips midnight (00:00 to 01:00 on 2025-03-09): that day starts when it is skipped, 05:00Z.
		{"America/Havana", 1741521600, 1, 1741496400},
		// ... and goes back over it on 2025-11-02 (01:00 CDT to 00:00 CST): the day starts at the first midnight,
		{"America/Havana", 1762084800, 1, 1762056000},
		// as Africa/Tunis's 1977-09-24 (01:00 CEST to 00:00 CET) does, at 1977-09-23T22:00Z, where time.Date gives the
		// second.
		{"Africa/Tunis", 243943200, 1, 243900000},
		// Two days, counted from 1970-01-01 (day 20416 is 2025-11-24, even): the same as UTC's when the zone is UTC.
		{"UTC", 1764000000, 2, 1763942400},
		{"UTC", 1764000000 + 86400, 2, 1763942400},
		{"Asia/Kolkata", 1764000000 + 86400, 2, 1763922600},
		// Before 1970.
		{"UTC", -1, 1, -86400},
		{"Europe/Berlin", -1, 1, -3600},
	}
	for _, c := range cases {
		got := DayBucket(time.Unix(c.at, 0), c.days, zone(t, c.zone))
		if got.Unix() != c.start {
			t.Errorf("DayBucket(%d, %d, %s) = %d (%v), want %d (%v)", c.at, c.days, c.zone, got.Unix(), got,
				c.start, time.Unix(c.start, 0).In(zone(t, c.zone)))
		}
	}
}

// TestParseInAtClockChanges: at every change of the clocks of zones east and west of Greenwich, north and south, of
// an hour, half an hour (Australia/Lord_Howe) and a day (Pacific/Apia, 2011), a local time the clocks skip is read
// with the offset before the change, and one they pass twice as the later instant, as ParseIn says: time.Date, which
// leaves both unspecified, answers the other way in zones behind UTC.
func TestParseInAtClockChanges(t *testing.T) {
	from, to := time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, name := range []string{"Europe/Berlin", "America/New_York", "America/Sao_Paulo", "America/Havana",
		"America/St_Johns", "Australia/Sydney", "Australia/Lord_Howe", "Pacific/Apia", "Asia/Tehran", "America/Santiago"} {
		loc := zone(t, name)
		for at := from; at.Before(to); {
			_, change := at.In(loc).ZoneBounds()
			if change.IsZero() {
				break
			}
			if !change.After(at) { // Go's rule-based zones report a bound at the end of each year, a change of nothing
				change = at.Add(time.Hour)
			}
			at = change
			_, before := change.Add(-time.Second).Zone()
			_, after := change.Zone()
			if before == after {
				continue
			}
			// The middle of the hour (or day) skipped or repeated, as local time, and the instant to read it as.
			middle := time.Duration(after-before) * time.Second / 2
			local := change.Add(time.Duration(min(before, after))*time.Second + middle.Abs())
			want := local.Add(-time.Duration(before) * time.Second) // skipped: the offset before the change
			if after < before {
				want = local.Add(-time.Duration(after) * time.Second) // repeated: the later instant
			}
			text := local.UTC().Format("2006-01-02 15:04:05")
			if got, ok := ParseIn("%F %T", text, loc); !ok || !got.Equal(want) {
				t.Errorf("%s: %s (change at %v, %+d s to %+d s) read as %v, %v; want %v", name, text, change.UTC(),
					before, after, got.UTC(), ok, want.UTC())
			}
		}
	}
}
