package engine

import (
	"fmt"
	"math"
	"math/big"
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

// timeBuckets returns, for each by-field of the windowed stats at index at that holds the event time rounded down
// to a span (bin_floor of event_time(), SPL's `bin _time span=10m`, through copies and renames), that bucket.
func timeBuckets(stages []rule.Stage, at int) map[string]timeBucket {
	times := map[string]bool{}       // fields holding the event time
	spans := map[string]timeBucket{} // fields holding a bucket of it
	// set says what field holds from now on: the event time, a bucket, or (false, no bucket) neither.
	set := func(field string, isTime bool, b timeBucket) {
		delete(times, field)
		delete(spans, field)
		if isTime {
			times[field] = true
		}
		if b.span != "" {
			spans[field] = b
		}
	}
	for _, st := range stages[:at] {
		switch st := st.(type) {
		case rule.Eval:
			isTime, b := false, timeBucket{}
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
				}
			case rule.FieldValue:
				isTime, b = times[v.Field.Name], spans[v.Field.Name]
			}
			set(st.To, isTime, b)
		case rule.Rename:
			for _, p := range st.Pairs {
				isTime, b := times[p.From], spans[p.From]
				set(p.From, false, timeBucket{})
				set(p.To, isTime, b)
			}
		case rule.Copy:
			set(st.To, false, timeBucket{})
		case rule.IPLocation:
			for _, f := range st.Outputs() {
				set(f, false, timeBucket{})
			}
		case rule.Lookup:
			for _, f := range st.OutputNames() {
				set(f, false, timeBucket{})
			}
		}
	}
	out := map[string]timeBucket{}
	for _, by := range stages[at].(rule.Stats).By {
		if b, ok := spans[by]; ok {
			out[by] = b
		}
	}
	return out
}

// checkTimeBuckets refuses a windowed stats grouped by a bucket of the event time whose span does not divide the
// window: the window tumbles on its own, aligned to its size, so such a bucket would be counted in part in one window
// and in part in the next (or, for a span longer than the window, in several), each part on its own, where the
// author asked for a count per bucket. For the same reason it refuses the local days of a zone other than UTC: they
// start at its midnight, where the windows start at UTC's, and last 23 or 25 hours when its clocks change.
func checkTimeBuckets(stages []rule.Stage, at int, window time.Duration) error {
	buckets := timeBuckets(stages, at)
	for _, by := range stages[at].(rule.Stats).By {
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
