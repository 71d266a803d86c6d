package engine

import (
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/auditdetect/auditdetect/processor/internal/timefmt"
	"github.com/auditdetect/auditdetect/processor/rule"
)

// bin_floor (rule.CallFuncs): a number rounded down to a multiple of a constant span, SPL's `bin _time span=10m`; with
// a time zone, a time to the start of its local days, SPL's `bin _time span=1d` in the search's zone.

// maxBinInput bounds the numbers bin_floor reads: a value longer than this is no time and no count, and reading it
// exactly would cost in proportion to its length.
const maxBinInput = 64

// binSpan is a compiled bin_floor span: whole (a positive integer) when the span is one, the common case of epoch
// seconds, computed in int64; else rat, computed exactly with big.Rat. With a time zone (loc), the span is that
// zone's local days, days of them.
type binSpan struct {
	whole int64
	rat   *big.Rat
	text  string
	days  int64
	loc   *time.Location
}

func newBinSpan(text string) (binSpan, error) {
	bad := fmt.Errorf("bin_floor: the span %q is not a positive decimal number", text)
	if !rule.IsDecimal(text) || strings.ContainsAny(text, "eE+-") || len(text) > maxBinInput {
		return binSpan{}, bad
	}
	r, ok := new(big.Rat).SetString(text)
	if !ok || r.Sign() <= 0 {
		return binSpan{}, bad
	}
	s := binSpan{rat: r, text: text}
	if r.IsInt() && r.Num().IsInt64() {
		s.whole = r.Num().Int64()
	}
	return s, nil
}

// inDays is the span counted in the local days of loc (bin_floor's time zone): a whole number of days.
func (s binSpan) inDays(loc *time.Location) (binSpan, error) {
	if s.whole <= 0 || s.whole%secondsPerDay != 0 {
		return binSpan{}, fmt.Errorf("bin_floor: with a time zone the span must be whole days (a multiple of %d seconds), not %q", secondsPerDay, s.text)
	}
	s.days, s.loc = s.whole/secondsPerDay, loc
	return s, nil
}

const secondsPerDay = 24 * 60 * 60

// floor returns x rounded down to a multiple of the span, as a decimal number; false when x is no number. With a
// time zone, x is epoch seconds and the result the start of its bucket of local days (timefmt.DayBucket); false
// when x is no time of the years 1 to 9999.
func (s binSpan) floor(x string) (string, bool) {
	if len(x) > maxBinInput || !rule.IsDecimal(x) {
		return "", false
	}
	if s.loc != nil {
		t, ok := timefmt.Epoch(x)
		if !ok {
			return "", false
		}
		return strconv.FormatInt(timefmt.DayBucket(t, s.days, s.loc).Unix(), 10), true
	}
	if s.whole > 0 && !strings.ContainsAny(x, "eE") {
		// floor(x/n)*n for an integer n is floor(floor(x)/n)*n: the fraction of x never matters.
		whole, frac, _ := strings.Cut(x, ".")
		// At most 18 digits: q*n cannot overflow.
		if n, err := strconv.ParseInt(whole, 10, 64); err == nil && len(strings.TrimLeft(whole, "+-0")) <= 18 {
			if strings.HasPrefix(whole, "-") && strings.Trim(frac, "0") != "" {
				n-- // -1.5 is in [-2, -1)
			}
			q := n / s.whole
			if n%s.whole != 0 && n < 0 {
				q--
			}
			if q == 0 { // not -0
				return "0", true
			}
			return strconv.FormatInt(q*s.whole, 10), true
		}
	}
	r := new(big.Rat)
	if strings.ContainsAny(x, "eE") {
		// Through a float: big.Rat would build 1e99999999 digit by digit.
		f, err := strconv.ParseFloat(x, 64)
		if err != nil || math.IsInf(f, 0) {
			return "", false
		}
		r.SetFloat64(f)
	} else if _, ok := r.SetString(x); !ok {
		return "", false
	}
	r.Quo(r, s.rat)
	q := new(big.Int).Div(r.Num(), r.Denom()) // Euclidean division by a positive denominator: the floor
	r.SetInt(q).Mul(r, s.rat)
	return ratText(r), true
}

// ratText writes r, a multiple of a decimal span, as a decimal number without trailing zeros.
func ratText(r *big.Rat) string {
	if r.IsInt() {
		return r.Num().String()
	}
	// The denominator divides a power of ten (r is an integer times a decimal): as many digits as that power.
	digits, ten, d := 0, big.NewInt(10), new(big.Int).Set(r.Denom())
	for p := big.NewInt(1); new(big.Int).Mod(p, d).Sign() != 0; p.Mul(p, ten) {
		digits++
	}
	t := strings.TrimRight(r.FloatString(digits), "0")
	return strings.TrimSuffix(t, ".")
}

// binDivides reports whether the span (a positive decimal number of seconds) divides d.
func binDivides(span string, d time.Duration) bool {
	s, ok := new(big.Rat).SetString(span)
	if !ok || s.Sign() <= 0 {
		return false
	}
	q := new(big.Rat).SetFrac64(d.Nanoseconds(), int64(time.Second))
	return q.Quo(q, s).IsInt()
}

// timeBucket is a field holding a bucket of the event time: its span, and the time zone of its days ("" for a span
// counted from the epoch).
type timeBucket struct{ span, zone string }

// timeUnit is a field holding the event time, or a bucket of it counted from the epoch, written by a strftime format
// in a time zone other than UTC (format_time with a zone): a local calendar unit, the day of strftime(_time, "%F").
type timeUnit struct {
	call   rule.Call // the format_time call, for messages
	format string
	zone   string
	bucket string // the span of the bucket the time was rounded down to first; "" for the event time itself
}

// timeFields returns, for each by-field of the windowed stats at index at that holds the event time rounded down
// to a span (bin_floor of event_time(), SPL's `bin _time span=10m`, through copies and renames), that bucket; and
// for each that holds it written by a format in a time zone (format_time of the event time or of such a bucket), that
// unit. A field holding anything else computed from them (a part of the text, a comparison) is neither: it may change
// at fewer of their bounds, or none.
func timeFields(stages []rule.Stage, at int) (map[string]timeBucket, map[string]timeUnit) {
	times := map[string]bool{}       // fields holding the event time
	spans := map[string]timeBucket{} // fields holding a bucket of it
	units := map[string]timeUnit{}   // fields holding a unit of the local calendar
	// set says what field holds from now on: the event time, a bucket, a unit, or (false, none, none) neither.
	set := func(field string, isTime bool, b timeBucket, u timeUnit) {
		delete(times, field)
		delete(spans, field)
		delete(units, field)
		if isTime {
			times[field] = true
		}
		if b.span != "" {
			spans[field] = b
		}
		if u.format != "" {
			units[field] = u
		}
	}
	for _, st := range stages[:at] {
		switch st := st.(type) {
		case rule.Eval:
			isTime, b, u := false, timeBucket{}, timeUnit{}
			switch v := st.Value.(type) {
			case rule.Call:
				switch v.Func {
				case "event_time":
					isTime = true
				case "bin_floor":
					c, isConst := v.Args[1].(rule.Constant)
					if f, ok := v.Args[0].(rule.FieldValue); ok && isConst && (times[f.Field.Name] || spans[f.Field.Name].span != "") {
						b = timeBucket{span: c.Text, zone: spans[f.Field.Name].zone} // a bucket of a bucket keeps its days
					} else if inner, ok := v.Args[0].(rule.Call); ok && isConst && inner.Func == "event_time" {
						b.span = c.Text
					}
					if z, ok := v.Args[len(v.Args)-1].(rule.Constant); ok && len(v.Args) == 3 && b.span != "" {
						b.zone = z.Text
					}
				case "format_time", "format_time_lenient": // strftime, convert ctime
					u = formatUnit(v, times, spans)
				}
			case rule.FieldValue:
				isTime, b, u = times[v.Field.Name], spans[v.Field.Name], units[v.Field.Name]
			}
			set(st.To, isTime, b, u)
		case rule.Rename:
			for _, p := range st.Pairs {
				isTime, b, u := times[p.From], spans[p.From], units[p.From]
				set(p.From, false, timeBucket{}, timeUnit{})
				set(p.To, isTime, b, u)
			}
		case rule.Copy:
			set(st.To, false, timeBucket{}, timeUnit{})
		case rule.IPLocation:
			for _, f := range st.Outputs() {
				set(f, false, timeBucket{}, timeUnit{})
			}
		case rule.Lookup:
			for _, f := range st.OutputNames() {
				set(f, false, timeBucket{}, timeUnit{})
			}
		case rule.Project:
			// A field it removes holds nothing from now on: a later fillnull gives it one value for every row.
			drop := func(f string) {
				if !st.Keeps(f) {
					set(f, false, timeBucket{}, timeUnit{})
				}
			}
			for f := range times {
				drop(f)
			}
			for f := range spans {
				drop(f)
			}
			for f := range units {
				drop(f)
			}
		}
	}
	outBuckets, outUnits := map[string]timeBucket{}, map[string]timeUnit{}
	for _, by := range stages[at].(rule.Stats).By {
		if b, ok := spans[by]; ok {
			outBuckets[by] = b
		}
		if u, ok := units[by]; ok {
			outUnits[by] = u
		}
	}
	return outBuckets, outUnits
}

// formatUnit is the unit a format_time call writes when it writes the event time, or a bucket of it counted from the
// epoch, in a time zone; none otherwise (in UTC the call names no zone).
func formatUnit(v rule.Call, times map[string]bool, spans map[string]timeBucket) timeUnit {
	if len(v.Args) != 3 {
		return timeUnit{}
	}
	format, isConst := v.Args[1].(rule.Constant)
	zone, zoned := v.Args[2].(rule.Constant)
	if !isConst || !zoned || format.Null || zone.Null {
		return timeUnit{}
	}
	u := timeUnit{call: v, format: format.Text, zone: zone.Text}
	switch t := v.Args[0].(type) {
	case rule.Call:
		if t.Func == "event_time" {
			return u
		}
	case rule.FieldValue:
		if times[t.Field.Name] {
			return u
		}
		if b, ok := spans[t.Field.Name]; ok && b.zone == "" {
			u.bucket = b.span
			return u
		}
	}
	return timeUnit{}
}

// checkTimeBuckets refuses a windowed stats grouped by a bucket of the event time whose span does not divide the
// window: the window tumbles on its own, aligned to its size, so such a bucket would be counted in part in one window
// and in part in the next (or, for a span longer than the window, in several), each part on its own, where the
// author asked for a count per bucket. For the same reason it refuses the local days of a zone other than UTC: they
// start at its midnight, where the windows start at UTC's, and last 23 or 25 hours when its clocks change. A by-field
// that holds a local calendar unit (strftime(_time, "%F") in a zone other than UTC) is checked as timeUnit.check says.
func checkTimeBuckets(stages []rule.Stage, at int, window time.Duration) error {
	buckets, units := timeFields(stages, at)
	for _, by := range stages[at].(rule.Stats).By {
		if u, ok := units[by]; ok {
			if err := u.check(by, window); err != nil {
				return err
			}
		}
		b, ok := buckets[by]
		if !ok {
			continue
		}
		if b.zone != "" && !alwaysUTC(b.zone) {
			return fmt.Errorf("stats by %s counts per day of the time zone %s (bin span=%s, in spl_time_zone), whose days "+
				"start at its midnight where the rule's windows start at UTC's: each day would be counted in part in "+
				"two windows; bin by span=24h (days from UTC midnight: spans of hours are counted from the epoch, in Splunk "+
				"too) or set spl_time_zone to UTC", by, b.zone, dayText(b.span))
		}
		if binDivides(b.span, window) {
			continue
		}
		return fmt.Errorf("stats by %s counts per time bucket of %s (bin span), which does not divide the rule's window "+
			"of %s: a bucket would be counted in part in one window and in part in another; set the window "+
			"(the processor's window, or rule_overrides.<rule>.window for this rule) to a multiple of the span",
			by, spanText(b.span), window)
	}
	return nil
}

// The offsets a zone's units are checked in: those its clocks show from 2023 on, through the rules its database
// gives for the years to come. Older ones are no time events are read in, and checking them would refuse rules that
// cut nothing today: America/Mexico_City (-05:00 in summer until 2022), Asia/Amman, Asia/Damascus and Asia/Tehran
// gave up their summer offsets in 2022; Asia/Pyongyang's +08:30 ended in 2018, America/Caracas's -04:30 in 2016.
var (
	unitOffsetsFrom = time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)
	unitOffsetsTo   = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
)

// check refuses a windowed stats grouped by the unit where the rule's windows cut some of the zone's units (its days,
// its hours) that they would not cut in UTC. The windows are counted from the epoch (time.Truncate), each group
// counted within one, so a unit cut by a window's start is counted in part in two windows, each part on its own,
// where a search the scheduler runs in the zone starts where its units do and counts each whole (or each of its
// windows within one unit). Where the windows cut UTC's units too (hours in windows of 90 minutes), the window is
// the author's choice, as a search's interval is in Splunk, and the rule loads: only what the zone adds is refused.
//
// Units and windows do not cut each other when every bound of the unit's grid (timefmt.Grain) is a window's start, or,
// for a grain whose text changes at each bound, every window's start a bound of the grid. The grid is checked in each
// offset the zone's clocks show (unitOffsetsFrom), as if it held all the time, then each instant they change at apart
// (around.cut): the days of 23 and 25 hours of Europe/Berlin start and end at local midnights of its two offsets, but
// America/New_York's 01:00 comes twice when its clocks go back, "01" for two hours. A unit written from a bucket of
// the event time (bin _time span=1h, then strftime) changes at the first bucket that starts in it: its grid is moved
// to the buckets' starts, when the span divides the grid's period; with another span, or a bucket of local days, it
// is not checked, nor is a format with no grain of a second or more.
func (u timeUnit) check(by string, window time.Duration) error {
	g, ok := timefmt.FormatGrain(u.format)
	if !ok {
		return nil
	}
	loc, err := timefmt.Zone(u.zone)
	if err != nil {
		return nil // the front end loaded it; a name no longer known is no zone to compare
	}
	var span time.Duration
	if u.bucket != "" {
		if span, ok = spanDuration(u.bucket); !ok || g.Period%span != 0 {
			return nil
		}
	}
	// phase is where the grid's bounds fall, after the epoch modulo its period, in a zone offset seconds east of UTC.
	phase := func(offset int) time.Duration {
		q := mod(g.Phase-time.Duration(offset)*time.Second, g.Period)
		if span > 0 {
			q = mod(q+mod(-q, span), g.Period) // the start of the bucket it falls in, or of the next
		}
		return q
	}
	epoch := time.Unix(0, 0)
	windows := epoch.Truncate(window).Sub(epoch) // where the windows start, after the epoch modulo their size
	if !gridsNest(g, phase(0), window, windows) {
		return nil
	}
	offsets := timefmt.Offsets(loc, unitOffsetsFrom, unitOffsetsTo)
	arounds := u.aroundChanges(g, loc, span, phase)
	where := ""
	for _, offset := range offsets {
		if !gridsNest(g, phase(offset), window, windows) {
			where = "at its offset " + offsetText(offset)
			break
		}
	}
	for i := 0; where == "" && i < len(arounds); i++ {
		if a := arounds[i]; a.cut(window, windows) {
			where = fmt.Sprintf("where its clocks change from %s to %s, at %s", offsetText(a.change.Before),
				offsetText(a.change.After), a.change.At.UTC().Format("2006-01-02 15:04 UTC"))
		}
	}
	if where == "" {
		return nil
	}
	fix := ""
	if w := unitWindow(g, offsets, phase, arounds); w > 0 {
		fix = fmt.Sprintf("set the window (the processor's window, or rule_overrides.<rule>.window for this rule) "+
			"to %s or a divisor of it, whose windows start where the zone's %ss do, or ", w, g.Unit)
	}
	return fmt.Errorf("stats by %s counts per %s of the time zone %s (%s, in spl_time_zone), whose %ss the rule's "+
		"windows of %s, counted from the epoch, cut in two (%s): each part would be counted on its "+
		"own, where a search scheduled on the zone's clock does not cut them; %sset spl_time_zone to UTC",
		by, g.Unit, u.zone, rule.ValueText(rule.Call{Func: "format_time", Args: u.call.Args[:2]}), g.Unit, window,
		where, fix)
}

// around is the text a unit's format writes near a change of the zone's clocks, where neither offset's grid holds
// alone: the text may stay the same across the change (01:00 EDT, then 01:00 EST) or change at it where no grid has a
// bound (%Z). at are the instants it may change at, in order, each with the text from it on (texts); bound is the
// change's own (the first bucket that starts from it), after the epoch, when the text changes there, else 0.
type around struct {
	change timefmt.Change
	at     []time.Time
	texts  []string
	bound  time.Duration
}

// aroundChanges returns, for each change of loc's clocks from unitOffsetsFrom on, the instants the text of u may
// change at around it: up to three bounds of the grid of the offset before, the change itself (or the first bucket
// that starts from it) and up to three bounds of the grid of the offset after, none past the changes before and after.
func (u timeUnit) aroundChanges(g timefmt.Grain, loc *time.Location, span time.Duration, phase func(int) time.Duration) []around {
	const cells = 3
	epoch := time.Unix(0, 0)
	changes := timefmt.Changes(loc, unitOffsetsFrom, unitOffsetsTo)
	var out []around
	for i, c := range changes {
		lo, hi := unitOffsetsFrom, unitOffsetsTo
		if i > 0 {
			lo = changes[i-1].At
		}
		if i+1 < len(changes) {
			hi = changes[i+1].At
		}
		at := c.At
		if span > 0 {
			at = at.Add(mod(-at.Sub(epoch), span))
		}
		if !at.Before(hi) {
			continue
		}
		var points []time.Time
		b := at.Add(-mod(at.Sub(epoch)-phase(c.Before), g.Period))
		if b.Equal(at) {
			b = b.Add(-g.Period)
		}
		for k := 0; k < cells && !b.Before(lo); k++ {
			points = append(points, b)
			b = b.Add(-g.Period)
		}
		slices.Reverse(points)
		points = append(points, at)
		b = at.Add(mod(phase(c.After)-at.Sub(epoch), g.Period))
		if b.Equal(at) {
			b = b.Add(g.Period)
		}
		for k := 0; k < cells && b.Before(hi); k++ {
			points = append(points, b)
			b = b.Add(g.Period)
		}
		a := around{change: c, at: points, texts: make([]string, len(points))}
		for k, p := range points {
			a.texts[k] = timefmt.FormatIn(p, u.format, loc)
			if p.Equal(at) && k > 0 && a.texts[k] != a.texts[k-1] {
				a.bound = at.Sub(epoch)
			}
		}
		out = append(out, a)
	}
	return out
}

// cut reports whether the windows, of size window and starting at start after the epoch modulo their size, cut a run
// of one text around the change: it starts or ends where no window does, and is not within one window. A run that
// goes on past the instants looked at is judged on the part of it that is known.
func (a around) cut(window, start time.Duration) bool {
	epoch := time.Unix(0, 0)
	index := func(t time.Time) time.Duration {
		x := t.Sub(epoch) - start
		return (x - mod(x, window)) / window
	}
	starts := func(t time.Time) bool { return mod(t.Sub(epoch)-start, window) == 0 }
	for i := 0; i < len(a.at); {
		j := i + 1
		for j < len(a.at) && a.texts[j] == a.texts[i] {
			j++
		}
		last := a.at[j-1] // the run holds at least until then, and ends before at[j]
		if j < len(a.at) {
			last = a.at[j].Add(-time.Nanosecond)
		}
		across := index(a.at[i]) != index(last)
		uneven := i > 0 && !starts(a.at[i]) || j < len(a.at) && !starts(a.at[j])
		if across && uneven {
			return true
		}
		i = j
	}
	return false
}

// gridsNest reports whether windows of size window, starting at start after the epoch modulo their size, and the
// grid of g whose bounds fall at phase, cut none of each other's cells: every bound of the grid is a window's start
// (each cell a run of whole windows), or every window's start is a bound of the grid and the text changes at each
// (each cell within one window).
func gridsNest(g timefmt.Grain, phase, window, start time.Duration) bool {
	if g.Period%window == 0 && mod(phase-start, window) == 0 {
		return true
	}
	return g.Every && window%g.Period == 0 && mod(start-phase, g.Period) == 0
}

// unitWindow is the longest window that starts at every bound of g's grid in each of the offsets, and at each change
// of the clocks the text changes at, 0 when none does: the common divisor of the period and the bounds' phases, which
// divides a day.
func unitWindow(g timefmt.Grain, offsets []int, phase func(int) time.Duration, arounds []around) time.Duration {
	w := g.Period
	for _, o := range append([]int{0}, offsets...) {
		w = gcd(w, phase(o))
	}
	for _, a := range arounds {
		w = gcd(w, a.bound)
	}
	if w <= 0 || (24*time.Hour)%w != 0 {
		return 0
	}
	return w
}

func gcd(a, b time.Duration) time.Duration {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// mod is x modulo m (m positive), in [0, m).
func mod(x, m time.Duration) time.Duration {
	return (x%m + m) % m
}

// offsetText writes an offset from UTC in seconds east as +05:30.
func offsetText(offset int) string {
	sign := "+"
	if offset < 0 {
		sign, offset = "-", -offset
	}
	text := fmt.Sprintf("%s%02d:%02d", sign, offset/3600, offset/60%60)
	if offset%60 != 0 {
		text += fmt.Sprintf(":%02d", offset%60)
	}
	return text
}

// spanDuration is a bin_floor span (decimal seconds) as a duration, when it is a whole number of nanoseconds of one.
func spanDuration(span string) (time.Duration, bool) {
	r, ok := new(big.Rat).SetString(span)
	if !ok || r.Sign() <= 0 {
		return 0, false
	}
	r.Mul(r, big.NewRat(int64(time.Second), 1))
	if !r.IsInt() || !r.Num().IsInt64() || r.Num().Int64() > int64(MaxStateDuration) {
		return 0, false
	}
	return time.Duration(r.Num().Int64()), true
}

// dayText writes a span of whole days as SPL does (1d).
func dayText(span string) string {
	if n, err := strconv.ParseInt(span, 10, 64); err == nil && n%secondsPerDay == 0 {
		return strconv.FormatInt(n/secondsPerDay, 10) + "d"
	}
	return span + "s"
}

// alwaysUTC reports whether the zone named name is UTC at every time (Etc/UTC, Etc/GMT): no offset and no change.
func alwaysUTC(name string) bool {
	loc, err := timefmt.Zone(name)
	if err != nil {
		return false
	}
	t := time.Unix(0, 0).In(loc)
	start, end := t.ZoneBounds()
	_, offset := t.Zone()
	return offset == 0 && start.IsZero() && end.IsZero()
}

// spanText writes a span of seconds as a duration (10m0s) when it is a whole number of them.
func spanText(span string) string {
	if n, err := strconv.ParseInt(span, 10, 64); err == nil && n > 0 && n <= int64(MaxStateDuration/time.Second) {
		return (time.Duration(n) * time.Second).String()
	}
	return span + "s"
}
