package timefmt

import (
	"slices"
	"strings"
	"time"
)

// Grain is the grid on which the text a strftime format writes can change: only where the clock it reads (UTC's, or
// a zone's local clock) passes Phase + k*Period from 1970-01-01 00:00, and with Every at each of them (%H at every
// hour; %m at some midnights only, a month's first). The grids of the conversions nest (a second divides a minute,
// an hour, half a day, a day, a week, and weeks start at midnight), so that a format's is its finest conversion's.
type Grain struct {
	Unit   string        // what a cell is, for messages: "hour", "day", "month"
	Period time.Duration // a second to a week
	Phase  time.Duration // in [0, Period): ISO weeks start on Mondays, 4 days after 1970-01-01, a Thursday
	Every  bool
	fine   int // among grains of one period whose text changes at some bounds, the finer first: a week, a month, a year
}

const (
	day  = 24 * time.Hour
	week = 7 * day
)

// grains are the conversions that read the clock or the calendar, by their letter (after flags and a width). %c, %+,
// %T, %X and %r write seconds, %R minutes, %D, %x, %F and %v a day; %U and %W number weeks from Sunday and Monday
// from each year's first day (so change on Jan 1 too), %V ISO weeks (Monday to Sunday), and %G and %g ISO years,
// which change on some Mondays. %Z and %z change where the clocks do, no cell of a calendar: they have none.
var grains = func() map[byte]Grain {
	second := Grain{Unit: "second", Period: time.Second, Every: true}
	minute := Grain{Unit: "minute", Period: time.Minute, Every: true}
	hour := Grain{Unit: "hour", Period: time.Hour, Every: true}
	halfDay := Grain{Unit: "half day (AM, PM)", Period: 12 * time.Hour, Every: true}
	oneDay := Grain{Unit: "day", Period: day, Every: true}
	weekOfYear := Grain{Unit: "week", Period: day, fine: 1}
	month := Grain{Unit: "month", Period: day, fine: 2}
	year := Grain{Unit: "year", Period: day, fine: 3}
	century := Grain{Unit: "century", Period: day, fine: 4}
	isoWeek := Grain{Unit: "ISO week", Period: week, Phase: 4 * day, Every: true}
	isoYear := Grain{Unit: "ISO year", Period: week, Phase: 4 * day, fine: 1}
	return map[byte]Grain{
		'S': second, 's': second, 'T': second, 'X': second, 'r': second, 'c': second, '+': second,
		'M': minute, 'R': minute,
		'H': hour, 'k': hour, 'I': hour, 'l': hour,
		'p': halfDay, 'P': halfDay,
		'd': oneDay, 'e': oneDay, 'j': oneDay, 'a': oneDay, 'A': oneDay, 'w': oneDay, 'u': oneDay,
		'D': oneDay, 'x': oneDay, 'F': oneDay, 'v': oneDay,
		'U': weekOfYear, 'W': weekOfYear,
		'm': month, 'b': month, 'B': month, 'h': month,
		'Y': year, 'y': year, 'C': century,
		'V': isoWeek, 'G': isoYear, 'g': isoYear,
	}
}()

// FormatGrain returns the grain of format (as Format reads it: flags and widths change no conversion's cell); false
// when it writes no part of the clock or the calendar (%Z, %z, literal text) or a part finer than a second (%N, %Q,
// %f), whose text changes from one event to the next. A %N or %Q that is not Splunk's (%10N, %-3N) is written as it
// stands, as text.
func FormatGrain(format string) (Grain, bool) {
	format = subseconds(format, func(int) string { return "%f" })
	var g Grain
	found := false
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			continue
		}
		j := i + 1
		for j < len(format) && strings.IndexByte("-_^#0123456789", format[j]) >= 0 {
			j++
		}
		if j == len(format) {
			break
		}
		i = j
		c := format[j]
		if c == 'f' {
			return Grain{}, false
		}
		if c == ':' { // %:z and its kin, or text: nothing after the colons is a conversion
			for i+1 < len(format) && format[i+1] == ':' {
				i++
			}
			continue
		}
		cg, ok := grains[c]
		switch {
		case !ok: // %%, %n, %t, %Z, %z, a conversion the library writes as it stands
		case !found || cg.Period < g.Period || cg.Period == g.Period && (cg.Every && !g.Every || cg.fine < g.fine):
			g, found = cg, true
		}
	}
	return g, found
}

// Offsets returns the offsets from UTC, in seconds east, that loc's clocks show at some time in [from, to), each
// once, in the order they first do.
func Offsets(loc *time.Location, from, to time.Time) []int {
	_, first := from.In(loc).Zone()
	out := []int{first}
	for _, c := range Changes(loc, from, to) {
		if !slices.Contains(out, c.After) {
			out = append(out, c.After)
		}
	}
	return out
}

// Change is an instant at which a zone's clocks change their offset from UTC or their abbreviation (%Z): the offsets,
// in seconds east, before it and from it on.
type Change struct {
	At            time.Time
	Before, After int
}

// Changes returns the changes of loc's clocks in (from, to), in order.
func Changes(loc *time.Location, from, to time.Time) []Change {
	var out []Change
	name, offset := from.In(loc).Zone()
	for at := from; at.Before(to); {
		_, next := at.In(loc).ZoneBounds()
		switch {
		case next.IsZero(): // no change after at
			return out
		case !next.After(at):
			// Past its table, Go computes a zone's changes from its rule a year at a time and reports a bound at the
			// end of each year (the 31st of December, in a leap year, before at): a change of nothing.
			next = at.Add(time.Hour)
		}
		if !next.Before(to) {
			return out
		}
		if n, o := next.In(loc).Zone(); n != name || o != offset {
			out = append(out, Change{At: next, Before: offset, After: o})
			name, offset = n, o
		}
		at = next
	}
	return out
}
