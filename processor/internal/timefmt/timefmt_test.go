package timefmt

import (
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

// FuzzFormatParse: no format and no text makes them panic, and what Format writes of a time with %s, Parse reads.
func FuzzFormatParse(f *testing.F) {
	for _, s := range []string{"%Y-%m-%dT%H:%M:%S", "%3N%:z%", "%c %+ %%", "%9Q%j%U%W%V", "%s.%N", "%G-W%V-%u %10Y%_%N"} {
		f.Add(s, "2025-11-24T16:05:09", "1764000309.25")
	}
	f.Fuzz(func(t *testing.T, format, text, epoch string) {
		_, _ = Parse(format, text)
		if tm, ok := Epoch(epoch); ok {
			_ = Format(tm, format)
			_ = EpochText(tm)
			if back, ok := Parse("%s", Format(tm, "%s")); !ok || back.Unix() != tm.Unix() {
				t.Fatalf("%%s of %v read back as %v, %v", tm, back, ok)
			}
		}
	})
}
