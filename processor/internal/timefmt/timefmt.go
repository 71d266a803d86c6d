// Package timefmt writes and reads times as epoch seconds and with strftime formats, in UTC or in a named time zone:
// the conversions behind the rule model's event_time, format_time, parse_time and bin_floor calls (processor/rule).
//
// Format and Parse are github.com/itchyny/timefmt-go's strftime and strptime (C's conversions in the C locale, with
// glibc's flags and widths and %f microseconds), with the subsecond conversions Splunk adds (%N, %Q) done here.
package timefmt

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	// The IANA zone database, in the binary: time.LoadLocation reads the host's (/usr/share/zoneinfo) when it has one
	// and falls back to this copy, so that spl_time_zone works in a distroless image, which has none. Here, where
	// every zone the rules name is loaded (the SPL compiler and the engine both call Zone), every binary that reads
	// a zone gets it: the collector and the auditdetect tool.
	_ "time/tzdata"

	strftime "github.com/itchyny/timefmt-go"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// The epochs a time may have: years 1 to 9999, the years a four-digit %Y writes. A number outside is no time.
const (
	minEpoch = -62135596800 // 0001-01-01T00:00:00Z
	maxEpoch = 253402300799 // 9999-12-31T23:59:59Z
)

// EpochText writes t as epoch seconds: the whole seconds, then the fraction to the microsecond without its trailing
// zeros (1764000000, 1764000000.5, 1764000000.123456), as Splunk's _time holds an event's time. A time before the
// epoch with a fraction is written as its negative distance from it (-1.5).
func EpochText(t time.Time) string {
	sec, usec := t.Unix(), int64(t.Nanosecond()/1000)
	neg := sec < 0 && usec > 0
	if neg { // -2 s + 0.5 s is -1.5
		sec, usec = sec+1, 1e6-usec
	}
	s := strconv.FormatInt(sec, 10)
	if neg && sec == 0 {
		s = "-0"
	}
	if usec == 0 {
		return s
	}
	frac := strings.TrimRight(strconv.FormatInt(usec+1e6, 10)[1:], "0")
	return s + "." + frac
}

// Epoch reads s, a decimal number of seconds since the Unix epoch (1764000000, 1764000000.123456, -5, 1.7e9), as a
// time in UTC; false when s is no such number or is out of the years 1 to 9999. The fraction is read to the
// nanosecond, exactly (not through a float), unless the number has an exponent.
func Epoch(s string) (time.Time, bool) {
	if !rule.IsDecimal(s) {
		return time.Time{}, false
	}
	if strings.ContainsAny(s, "eE") {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f < minEpoch || f > maxEpoch+1 {
			return time.Time{}, false
		}
		sec := int64(f)
		if float64(sec) > f { // a negative fraction: floor
			sec--
		}
		return checked(time.Unix(sec, int64((f-float64(sec))*1e9)).UTC())
	}
	neg := false
	switch s[0] {
	case '-':
		neg, s = true, s[1:]
	case '+':
		s = s[1:]
	}
	whole, frac, _ := strings.Cut(s, ".")
	whole = strings.TrimLeft(whole, "0")
	if len(whole) > 12 {
		return time.Time{}, false
	}
	sec := int64(0)
	if whole != "" {
		sec, _ = strconv.ParseInt(whole, 10, 64)
	}
	nsec := int64(0)
	for i := range 9 {
		nsec *= 10
		if i < len(frac) {
			nsec += int64(frac[i] - '0')
		}
	}
	if neg {
		sec, nsec = -sec, -nsec
	}
	return checked(time.Unix(sec, nsec).UTC())
}

func checked(t time.Time) (time.Time, bool) {
	if u := t.Unix(); u < minEpoch || u > maxEpoch {
		return time.Time{}, false
	}
	return t, true
}

// Zone returns the IANA time zone named name (UTC, Europe/Berlin, Asia/Kolkata), the zone SPL's time functions work
// in (spl_time_zone). "" and "Local" are refused: they name the host's zone, which differs from one collector to the
// next, where a search's zone is its owner's, the same wherever it runs. UTC by another name (Etc/UTC, Zulu) is
// time.UTC, so that rules compiled in it are those compiled in UTC (spl.CompileIn), their state kept.
func Zone(name string) (*time.Location, error) {
	switch name {
	case "":
		return nil, fmt.Errorf("the time zone is empty: name an IANA zone such as UTC or Europe/Berlin")
	case "Local":
		return nil, fmt.Errorf("time zone %q is the host's, which differs between collectors: name an IANA zone such as UTC or Europe/Berlin", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q: name an IANA zone such as UTC or Europe/Berlin", name)
	}
	if isUTC(loc) {
		return time.UTC, nil
	}
	return loc, nil
}

// isUTC reports whether loc is UTC under another name: no offset, no change ever, and UTC its abbreviation (Etc/GMT,
// which %Z writes GMT, is not).
func isUTC(loc *time.Location) bool {
	t := time.Unix(0, 0).In(loc)
	name, offset := t.Zone()
	start, end := t.ZoneBounds()
	return name == "UTC" && offset == 0 && start.IsZero() && end.IsZero()
}

// Format writes t, in UTC, by the strftime format: the library's conversions (processor/spl/LANGUAGE.md lists them)
// and Splunk's subsecond ones, which it does not know: %N nanoseconds (9 digits), %Q milliseconds (3 digits), and
// %<n>N, %<n>Q, n from 1 to 9, that many digits, cut, not rounded. The library writes a conversion it does not know
// as it stands (%q, %Ez), as C libraries do, and a width before one it knows (%3d is 024).
func Format(t time.Time, format string) string {
	return FormatIn(t, format, time.UTC)
}

// FormatIn is Format in the zone loc: the local time there, %Z its abbreviation (CET, CEST), %z its offset then.
func FormatIn(t time.Time, format string, loc *time.Location) string {
	t = t.In(loc)
	ns := strconv.Itoa(t.Nanosecond() + 1e9)[1:]
	return string(strftime.AppendFormat(nil, t, subseconds(format, func(n int) string { return ns[:n] })))
}

// Parse reads s by the strftime format, as the library's strptime, and returns the time it names in UTC; false when
// s does not match the whole format or names no time of the years 1 to 9999. Numbers may have fewer digits than
// Format writes (%m reads 1 or 2), names are read in any case, a space in the format matches one space, and what the
// format does not give is taken from 1900-01-01 00:00:00 UTC; a day past the end of its month runs into the next
// (2025-02-29 is 2025-03-01). A conversion the library does not know matches nothing. %N and %Q, of any width, read
// 1 to 6 digits (the library's %f), or 7 to 9 after a '.' or ',' when the width is over 6 (%N, %9N); the time is
// kept to the microsecond. %Z reads a zone's abbreviation but knows the offset of UTC and GMT only: another is no
// time unless %z gives its offset.
func Parse(format, s string) (time.Time, bool) {
	return ParseIn(format, s, time.UTC)
}

// unzoned stands for "no zone given" when ParseIn reads a local time: it is no zone a text can name (%Z reads capital
// letters, digits and signs), so a result in it was given no zone, neither by %Z nor by %z.
var unzoned = time.FixedZone("unzoned", 0)

// ParseIn is Parse in the zone loc: a time the text gives no zone for (neither %z nor %Z) is a local time in loc, and
// %Z still reads UTC and GMT only (the library would take the zone's own abbreviations as the zone itself: GMT in
// Europe/London as London time, an hour off in summer). A local time that does not exist (clocks go forward over
// it) is read with the offset before the change (02:30 in Europe/Berlin on the spring day is 03:30 CEST); one that
// exists twice (clocks go back) is the later (02:30 CET), in every zone (localTime).
func ParseIn(format, s string, loc *time.Location) (time.Time, bool) {
	if loc == time.UTC {
		return parse(format, s, time.UTC)
	}
	t, ok := parse(format, s, unzoned)
	switch {
	case !ok:
		return time.Time{}, false
	case t.Location() != unzoned || hasUnix(format):
		// A zone given, or epoch seconds (%s), which name an instant: loc changes nothing.
		return t.UTC(), true
	}
	return checked(localTime(t, loc).UTC())
}

// localTime is the instant at which the clocks of loc show the wall time of t (a time in a zone of offset 0): where
// they skip it, the instant it is read as with the offset before the change (after the skip); where they show it twice,
// the later. time.Date leaves both open, and its choice follows the sign of the offset: a time skipped in
// America/New_York comes back an hour early, one shown twice the earlier.
func localTime(t time.Time, loc *time.Location) time.Time {
	y, mo, d := t.Date()
	h, mi, sec := t.Clock()
	wall := time.Date(y, mo, d, h, mi, sec, t.Nanosecond(), time.UTC)
	at := time.Date(y, mo, d, h, mi, sec, t.Nanosecond(), loc)
	_, offset := at.Zone()
	shown := at.UTC().Add(time.Duration(offset) * time.Second) // the wall time the clocks show at at
	if shown.Before(wall) {
		// Skipped, and read with the offset after the change, before the skip: the one before it is at's own.
		return wall.Add(-time.Duration(offset) * time.Second).In(loc)
	}
	if _, end := at.ZoneBounds(); shown.Equal(wall) && !end.IsZero() {
		// Shown again after the next change, when the clocks go back over it: that is the later instant.
		_, next := end.Zone()
		if later := wall.Add(-time.Duration(next) * time.Second); later.After(at) && !later.Before(end) {
			if _, o := later.In(loc).Zone(); o == next {
				return later.In(loc)
			}
		}
	}
	return at
}

// hasUnix reports whether format has %s, epoch seconds.
func hasUnix(format string) bool {
	for i := 0; i+1 < len(format); i++ {
		if format[i] == '%' {
			if format[i+1] == 's' {
				return true
			}
			i++ // %%, or another conversion
		}
	}
	return false
}

// parse is Parse with base standing for the zone of a text without one.
func parse(format, s string, base *time.Location) (time.Time, bool) {
	long := false
	format = subseconds(format, func(n int) string {
		long = long || n > 6
		return "%f"
	})
	t, err := strftime.ParseInLocation(s, format, base)
	if err != nil && long {
		t, err = strftime.ParseInLocation(cutFractions(s), format, base)
	}
	if err != nil {
		return time.Time{}, false
	}
	if name, offset := t.Zone(); offset == 0 && name != "" && name != "UTC" && name != "GMT" && t.Location() != base {
		return time.Time{}, false // the library reads an abbreviation it does not know (EST) as UTC
	}
	if base != time.UTC {
		return checked(t)
	}
	return checked(t.UTC())
}

// subseconds returns format with each of Splunk's subsecond conversions replaced by digits(its width): %N (9), %Q
// (3), %<n>N and %<n>Q (n, 1 to 9). Every other conversion is kept as written, with its flags, width and colons, so
// that one ending where %N would start (%%N, %_%N) does not lose its end to it.
func subseconds(format string, digits func(n int) string) string {
	if !strings.ContainsAny(format, "NQ") {
		return format
	}
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			b.WriteByte(format[i])
			continue
		}
		j := i + 1
		for j < len(format) && strings.IndexByte("-_^#:0123456789", format[j]) >= 0 {
			j++
		}
		if j == len(format) {
			b.WriteString(format[i:])
			break
		}
		spec, c := format[i+1:j], format[j]
		switch {
		case c != 'N' && c != 'Q':
			b.WriteString(format[i : j+1])
		case spec == "" && c == 'N':
			b.WriteString(digits(9))
		case spec == "":
			b.WriteString(digits(3))
		case len(spec) == 1 && spec[0] != '0' && '0' <= spec[0] && spec[0] <= '9':
			b.WriteString(digits(int(spec[0] - '0')))
		default: // %10N, %-3N: not Splunk's, left to the library (which writes it as it stands)
			b.WriteString(format[i : j+1])
		}
		i = j
	}
	return b.String()
}

// cutFractions drops the digits past the sixth of each run of 7 to 9 digits after a '.' or ',' in s (16:05:09.123456789
// becomes 16:05:09.123456), for the library's %f, which reads 6.
func cutFractions(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		b.WriteByte(s[i])
		if s[i] != '.' && s[i] != ',' {
			continue
		}
		n := 0
		for i+1+n < len(s) && '0' <= s[i+1+n] && s[i+1+n] <= '9' {
			n++
		}
		if n > 6 && n <= 9 {
			b.WriteString(s[i+1 : i+7])
			i += n
		}
	}
	return b.String()
}

const secondsPerDay = 24 * 60 * 60

// DayBucket returns the start of the bucket of n days (n at least 1) that t falls in, in loc: the first instant of
// the first of the bucket's local days, the buckets counted in local days from 1970-01-01, as they are in UTC. With
// n 1 it is the start of t's local day, which is 23 or 25 hours long on the days the clocks change.
func DayBucket(t time.Time, n int64, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	day := time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / secondsPerDay // exact: a UTC midnight
	day -= (day%n + n) % n
	return dayStart(time.Unix(day*secondsPerDay, 0).UTC(), loc)
}

// dayStart returns the first instant of the day date (a UTC midnight naming a date) in loc: its local midnight; where
// the clocks skip midnight (00:00 to 01:00), the instant they skip it; where they go back over it, the first midnight.
func dayStart(date time.Time, loc *time.Location) time.Time {
	y, m, d := date.Date()
	sameDay := func(t time.Time) bool {
		ty, tm, td := t.In(loc).Date()
		return ty == y && tm == m && td == d
	}
	t := time.Date(y, m, d, 0, 0, 0, 0, loc)
	if _, end := t.ZoneBounds(); !sameDay(t) && !end.IsZero() {
		t = end // midnight skipped: time.Date gave the evening before, in the zone that ends when the day begins
	}
	if start, _ := t.ZoneBounds(); !start.IsZero() && sameDay(start.Add(-time.Nanosecond)) {
		// The day began in the zone before this one (the clocks went back over midnight), at its midnight.
		_, off := start.Add(-time.Nanosecond).Zone()
		t = date.Add(-time.Duration(off) * time.Second)
	}
	return t.In(loc)
}
