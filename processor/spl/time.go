package spl

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// Splunk's _time, the convert command that writes it for people, and the bin command that buckets it.

// timeField is Splunk's event timestamp, in seconds since the epoch. An audit event has no such field: a search
// that reads it after the first pipe gets it from the engine's event time (rule.Call event_time), set before its
// first command (withEventTime).
const timeField = "_time"

// defaultTimeFormat is convert's timeformat when none is given, as Splunk documents it.
const defaultTimeFormat = "%m/%d/%Y %H:%M:%S"

// convertFuncs are the conversions of convert that are supported, with the rule.Call each compiles to ("" for none,
// which only excludes fields from a wildcard and, without wildcards, changes nothing).
var convertFuncs = map[string]string{"ctime": "format_time_lenient", "mktime": "parse_time_lenient", "none": ""}

// otherConvertFuncs are Splunk's other conversions, refused by name.
var otherConvertFuncs = map[string]bool{
	"auto": true, "dur2sec": true, "memk": true, "mstime": true, "num": true, "rmcomma": true, "rmunit": true,
}

// parseConvert parses `convert [timeformat=<format>] <func>(<field>) [AS <field>] [[,] <func>(<field>) ...]`. Each
// conversion becomes an Eval of its field (or of the AS field), computed from the field's values in order: a value
// the conversion cannot read is kept as it is, as Splunk's convert leaves it.
func (p *parser) parseConvert(pos int) (command, *posError) {
	format := defaultTimeFormat
	var c evalCmd
	seenConv := false
	err := p.eachListItem(func(t token) *posError {
		p.next()
		if t.kind != kWord {
			return errAt(t.pos, "expected a conversion such as ctime(field), found %s", t.describe())
		}
		next, err := p.peek()
		if err != nil {
			return err
		}
		if next.kind == kEq {
			if !strings.EqualFold(t.text, "timeformat") {
				return errAt(t.pos, "unsupported convert option %q (timeformat= is supported)", t.text)
			}
			if seenConv {
				return errAt(t.pos, "timeformat= must come before the conversions")
			}
			format, err = p.optionValue(t)
			return err
		}
		fn := strings.ToLower(t.text)
		model, ok := convertFuncs[fn]
		switch {
		case !ok && otherConvertFuncs[fn]:
			return errAt(t.pos, "unsupported convert function %s() (supported: ctime, mktime, none)", t.text)
		case !ok:
			return errAt(t.pos, "unknown convert function %s (convert takes ctime(field), mktime(field) or none(field))", t.describe())
		case next.kind != kLParen:
			return errAt(t.pos, "%s needs a field: %s(field)", t.text, t.text)
		}
		seenConv = true
		p.next() // (
		ft, err := p.peek()
		if err != nil {
			return err
		}
		field, err := p.fieldArg("a field name")
		if err != nil {
			return err
		}
		if err := p.notMetadata(token{pos: ft.pos, text: field}, "convert"); err != nil {
			return err
		}
		rp, err := p.next()
		if err != nil {
			return err
		}
		if rp.kind != kRParen {
			return errAt(rp.pos, "expected ')' after %s(%s, found %s", t.text, field, rp.describe())
		}
		to := field
		if ok, err := p.peekWord("as", false); err != nil {
			return err
		} else if ok {
			p.next()
			if to, err = p.fieldArg("a new field name after AS"); err != nil {
				return err
			}
		}
		if model == "" {
			return nil // none(field)
		}
		c.evals = append(c.evals, rule.Eval{To: to, Value: rule.Call{Func: model, Args: p.zoned(
			rule.FieldValue{Field: rule.Field{Name: field}}, rule.Constant{Text: format},
		)}})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !seenConv {
		return nil, errAt(pos, "convert needs a conversion such as ctime(field)")
	}
	return c, nil
}

// checkBaseTime refuses _time in the base search: the base search is the filter each audit event is matched with
// as it arrives, before any command, and the event has no _time field there.
func checkBaseTime(n node) *posError {
	pos, _, origin, ok := firstTerm(n, func(f string) bool { return f == timeField })
	if !ok {
		return nil
	}
	err := errAt(pos, "_time is not a field of the audit event the base search filters: it is the event's time, "+
		"known after the first pipe; compare it there (| where _time >= 1764000000), or leave the time range to "+
		"the collector's window")
	if origin != nil {
		f := *origin
		f.Reason = err.reason
		err.reason, err.macro = f.Describe(fmt.Sprintf("definition %d:%d", f.Line, f.Column)), &f
	}
	return err
}

// withEventTime puts the stage that sets _time from the event's time before the first stage that reads _time, when
// that stage comes before stats replaces the event's row with its own (or is that stats): after it, as in Splunk,
// _time is what stats made of it. A stage that sets _time first (eval _time=..., rename x as _time) is read instead.
// The stages before stay first, so that a leading search or where is still read as a condition on the event itself.
func withEventTime(stages []rule.Stage) []rule.Stage {
	for i, st := range stages {
		reads, writes := touches(st, timeField)
		switch {
		case reads:
			set := rule.Eval{To: timeField, Value: rule.Call{Func: "event_time"}}
			return append(stages[:i:i], append([]rule.Stage{set}, stages[i:]...)...)
		case writes:
			return stages
		}
		if _, ok := st.(rule.Stats); ok {
			return stages
		}
	}
	return stages
}

// touches reports whether the stage reads the row field name, and whether it sets it.
func touches(st rule.Stage, name string) (reads, writes bool) {
	see := func(f rule.Field) {
		if f.Name == name {
			reads = true
		}
	}
	rule.EachExprField(st, see)
	switch st := st.(type) {
	case rule.Eval:
		writes = st.To == name
	case rule.Rename:
		for _, pr := range st.Pairs {
			see(rule.Field{Name: pr.From})
			writes = writes || pr.To == name
		}
	case rule.FillNull:
		// Filling _time reads it: it fills only a row without one.
		for _, f := range st.Fields {
			see(rule.Field{Name: f})
		}
	case rule.IPLocation:
		see(rule.Field{Name: st.Field})
		writes = slices.Contains(st.Outputs(), name)
	case rule.Lookup:
		for _, in := range st.InputNames() {
			see(rule.Field{Name: in})
		}
		writes = slices.Contains(st.OutputNames(), name)
	case rule.Stats:
		for _, b := range st.By {
			see(rule.Field{Name: b})
		}
		for _, a := range st.Aggs {
			see(rule.Field{Name: a.Field})
		}
	case rule.Project:
		// `table _time ...` shows the event's time; a projection that removes it leaves later commands none, as in
		// Splunk. A wildcard (`fields`'s internal `_*`, `table *`) keeps a _time the row has, and makes none.
		reads = !st.Remove && slices.Contains(st.Fields, name)
		writes = !reads && !st.Keeps(name)
	}
	return reads, writes
}

// spanSeconds are the timescales of a bin span, as Splunk's Search Reference lists them, in seconds.
var spanSeconds = map[string]int64{
	"": 1, "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
	"m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
	"h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
	"d": 86400, "day": 86400, "days": 86400,
}

// calendarSpans are Splunk's timescales of varying length (weeks start on a weekday, months have their own lengths)
// and those under a second, refused by name.
var calendarSpans = map[string]bool{
	"w": true, "week": true, "weeks": true, "mon": true, "month": true, "months": true,
	"q": true, "qtr": true, "qtrs": true, "quarter": true, "quarters": true, "y": true, "yr": true, "yrs": true,
	"year": true, "years": true, "ms": true, "us": true, "cs": true, "ds": true,
}

// maxSpanSeconds bounds a bin span: a year and a day, as the collector bounds its windows.
const maxSpanSeconds = 366 * 86400

// otherBinOptions are bin's options other than span, refused by name.
var otherBinOptions = map[string]bool{"bins": true, "minspan": true, "start": true, "end": true, "aligntime": true}

// parseBin parses `bin [span=<int>[<timescale>]] _time [AS <field>]` (and its alias bucket; span may come before or
// after the field): _time, or with AS the new field, becomes the start of its bucket (rule.Call bin_floor). A span of
// seconds, minutes or hours is counted from the epoch, as Splunk aligns them ("base UTC time (epoch 0)", which
// aligntime changes), span=24h included; a span of days is counted in days of the search's time zone, from its
// midnight, as Splunk aligns them ("aligntime ... Ignored if span is in days"; "To use day boundaries, use span=1d.
// Do not use span=86400s, or span=1440m, or span=24h"). Only _time is binned: Splunk writes the bins of another
// numeric field as ranges ("0-10").
func (p *parser) parseBin(cmd token) (command, *posError) {
	name := strings.ToLower(cmd.text)
	var field, to string
	var fieldTok token
	span, days := int64(0), false
	for {
		end, err := p.atEnd()
		if err != nil {
			return nil, err
		}
		if end {
			break
		}
		t, _ := p.next()
		next, err := p.peek()
		if err != nil {
			return nil, err
		}
		if t.kind == kWord && next.kind == kEq {
			switch opt := strings.ToLower(t.text); {
			case opt == "span" && span != 0:
				return nil, errAt(t.pos, "span= is given twice")
			case opt == "span":
				p.next() // =
				v, err := p.value(false)
				if err != nil {
					return nil, err
				}
				if v.kind != kWord && v.kind != kString {
					return nil, errAt(next.pos, "missing value after %s", next.describe())
				}
				if span, days, err = parseSpan(v); err != nil {
					return nil, err
				}
			case otherBinOptions[opt]:
				return nil, errAt(t.pos, "unsupported %s option %s= (only span=<int><unit> is supported, such as span=10m)", name, t.text)
			default:
				return nil, errAt(t.pos, "unknown %s option %q (%s takes span=<int><unit>, such as span=10m)", name, t.text, name)
			}
			continue
		}
		if t.kind == kWord && strings.EqualFold(t.text, "as") && field != "" && to == "" {
			if to, err = p.fieldArg("a new field name after AS"); err != nil {
				return nil, err
			}
			continue
		}
		switch {
		case t.kind != kWord && t.kind != kString:
			return nil, errAt(t.pos, "expected a field name, found %s", t.describe())
		case field != "":
			return nil, errAt(t.pos, "%s takes one field, found a second: %s", name, t.describe())
		}
		if err := checkFieldName(t); err != nil {
			return nil, err
		}
		field, fieldTok = t.text, t
	}
	switch {
	case field == "":
		return nil, errAt(cmd.pos, "%s needs a field: %s _time span=10m", name, name)
	case field != timeField:
		return nil, errAt(fieldTok.pos, "%s of %s is not supported: only _time is binned (Splunk writes the bins of other "+
			"numeric fields as ranges such as 0-10)", name, fieldTok.describe())
	case span == 0:
		return nil, errAt(cmd.pos, "%s needs span=<int><unit> (such as span=10m): the number of bins Splunk picks from the "+
			"search's time range (bins=100) has no counterpart in a stream", name)
	}
	if to == "" {
		to = field
	}
	args := []rule.Value{rule.FieldValue{Field: rule.Field{Name: field}}, rule.Constant{Text: strconv.FormatInt(span, 10)}}
	if days {
		args = p.zoned(args...)
	}
	return evalCmd{evals: []rule.Eval{{To: to, Value: rule.Call{Func: "bin_floor", Args: args}}}}, nil
}

// parseSpan reads a bin span, `<int>[<timescale>]`, as seconds; days says its timescale is days.
func parseSpan(v token) (secs int64, days bool, err *posError) {
	text := v.text
	i := 0
	for i < len(text) && '0' <= text[i] && text[i] <= '9' {
		i++
	}
	digits, unit := text[:i], strings.ToLower(text[i:])
	switch {
	case strings.Contains(unit, "log"):
		return 0, false, errAt(v.pos, "log spans (span=%s) are not supported: only _time is binned, with span=<int><unit>", text)
	case digits == "" && unit != "" && (spanSeconds[unit] != 0 || calendarSpans[unit]):
		return 0, false, errAt(v.pos, "span=%s needs a number: span=1%s", text, text)
	case digits == "" || strings.HasPrefix(unit, "."):
		return 0, false, errAt(v.pos, "span=%s is not a span: write span=<int><unit>, such as span=10m (units s, m, h, d)", text)
	case calendarSpans[unit]:
		return 0, false, errAt(v.pos, "span=%s is not supported: spans are whole seconds, minutes, hours or days (s, m, h, d), "+
			"not weeks, months, quarters, years or fractions of a second", text)
	}
	unitSecs, known := spanSeconds[unit]
	if !known {
		return 0, false, errAt(v.pos, "unknown span unit %q in span=%s (units: s, sec, m, min, h, hr, d, day)", text[i:], text)
	}
	n, perr := strconv.ParseInt(digits, 10, 64)
	switch {
	case perr != nil || n > maxSpanSeconds/unitSecs:
		return 0, false, errAt(v.pos, "span=%s is too long (at most 366 days)", text)
	case n == 0:
		return 0, false, errAt(v.pos, "span=%s is not positive", text)
	}
	return n * unitSecs, unitSecs == spanSeconds["d"], nil
}
