package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/auditdetect/auditdetect/processor/engine"
	"github.com/auditdetect/auditdetect/processor/geoip"
	"github.com/auditdetect/auditdetect/processor/normalize"
	"github.com/auditdetect/auditdetect/processor/rba"
	"github.com/auditdetect/auditdetect/processor/rule"
)

// scan runs a rule set over an audit log, offline, and prints the risk records the collector would write for it in
// fork mode: the same engine and the same RBA writer, without a collector. It is how a detection engineer tries a
// rule set on last week's audit log before deploying it (what fires, how often, on whom). Throttling
// (rule_overrides.throttle) is not applied: every match is printed.

func runScan(args []string, stdout, stderr io.Writer) int {
	fs, rf := newFlagSet("scan", stderr)
	eventsPath := fs.String("events", "", "audit log `file` to scan, required (- for stdin; gzip is read as such): one "+
		"event per line, native events, EventLists or cloud exports")
	format := fs.String("format", "text", "output `format`: text (one line per risk record) or json (one risk "+
		"record's attributes per line, as the collector writes them)")
	maxBody := maxBodyFlag(fs)
	geoDB := fs.String("geoip-database", "", "MaxMind City database `file` for iplocation rules, as the processor's geoip_database "+
		"(without it those rules are left out)")
	var opts engine.Options
	stateFlags(fs, &opts)
	if code, done := parse(fs, args); done {
		return code
	}
	switch {
	case *format != "text" && *format != "json":
		fmt.Fprintf(stderr, "scan: -format %q is not text or json\n", *format)
		return exitUsage
	case *maxBody < 1:
		fmt.Fprintln(stderr, "scan: -max-body-bytes must be positive")
		return exitUsage
	case stateError(opts) != "":
		fmt.Fprintln(stderr, "scan: "+stateError(opts))
		return exitUsage
	}
	rules, err := load(fs.Args(), rf, "scan", stderr)
	if err != nil {
		fmt.Fprintf(stderr, "scan: %v\n", err)
		return exitUsage
	}
	if *eventsPath == "" {
		// No default of stdin: run from a terminal it would wait, silently, for a log to be typed. (Checked after
		// the rules, which tell an audit log named among them as such.)
		fmt.Fprintln(stderr, "scan: no audit log: -events FILE (- for standard input)")
		return exitUsage
	}
	if *geoDB != "" {
		db, err := geoip.Open(*geoDB)
		if err != nil {
			fmt.Fprintf(stderr, "scan: %v\n", err)
			return exitUsage
		}
		defer db.Close()
		opts.GeoIP = db
	} else {
		rules = slices.DeleteFunc(rules, func(r *rule.Rule) bool {
			if r.NeedsGeoIP() {
				fmt.Fprintf(stderr, "scan: left out (it needs -geoip-database): %s\n", r.Name)
				return true
			}
			return false
		})
		if len(rules) == 0 {
			fmt.Fprintln(stderr, "scan: every rule needs -geoip-database")
			return exitUsage
		}
	}
	e, err := engine.Compile(rules, opts)
	if err != nil {
		fmt.Fprintf(stderr, "scan: %v\n", err)
		return exitUsage
	}

	out := bufio.NewWriter(stdout)
	writer := rba.NewWriter(rba.Config{})
	ev := e.Evaluator()
	defer ev.Close()
	var unparsed, matchedEvents, records, dropped int
	perRule := map[string]int{}
	start := time.Now()
	write := func(res engine.Result) {
		// The collector appends risk records after the audit record that matched: here a record stands in for it.
		recs := plog.NewLogRecordSlice()
		n, d := writer.AppendRiskRecords(recs, recs.AppendEmpty(), res)
		records += n
		dropped += d
		for i := 1; i < recs.Len(); i++ {
			rec := recs.At(i)
			attrs := rec.Attributes()
			name, _ := attrs.Get(rba.AttrSearchName)
			perRule[name.Str()]++
			if *format == "json" {
				line := attrs.AsRaw()
				line["_time"] = rec.Timestamp().AsTime().UTC().Format(time.RFC3339Nano)
				b, _ := json.Marshal(line)
				out.Write(append(b, '\n'))
				continue
			}
			object := ""
			if v, ok := attrs.Get(rba.AttrRiskObject); ok {
				kind, _ := attrs.Get(rba.AttrRiskObjectType)
				score, _ := attrs.Get(rba.AttrRiskScore)
				// The value comes from the event: escaped, so that it cannot end the line and forge another record.
				object = fmt.Sprintf("%s=%s (%d)  ", kind.Str(), rba.EscapeControl(v.Str()), score.Int())
			}
			fmt.Fprintf(out, "%s  %s  %s%s\n", rec.Timestamp().AsTime().UTC().Format(time.RFC3339), name.Str(), object,
				rec.Body().Str())
		}
	}
	// Windows answered at their close answer when the log's time passes them, and at its end (a search over the
	// file sees all of it).
	answered := 0
	writeClosed := func(closed []engine.Closed) {
		answered += len(closed)
		for _, c := range closed {
			write(engine.Result{Matches: []engine.Match{{Rule: c.Rule, Rows: []engine.Row{c.Row}}}, Time: c.Time})
		}
	}
	got, err := readEvents(*eventsPath, 0, *maxBody, func(event normalize.Event) {
		res, err := ev.Evaluate(event.Body)
		if err != nil {
			unparsed++
			return
		}
		writeClosed(e.TakeClosed())
		if len(res.Matches) == 0 {
			return
		}
		matchedEvents++
		res.Provenance = event.Provenance
		write(res)
	})
	writeClosed(e.CloseAll())
	writeErr := out.Flush()
	if err != nil && got == (readStats{}) {
		// The log could not be read at all (not there, a directory): a summary of 0 events would read as a scan.
		fmt.Fprintf(stderr, "scan: %v\n", err)
		return exitUsage
	}
	// The summary comes even when the log broke off (a truncated gzip file): what was read was scanned.
	fmt.Fprintf(stderr, "scan: %d rules, %d events in %s: %d matched", len(rules), got.events,
		time.Since(start).Round(time.Millisecond), matchedEvents)
	if answered > 0 {
		fmt.Fprintf(stderr, " (and %d groups answered when their window closed)", answered)
	}
	fmt.Fprintf(stderr, ", %d risk records", records)
	if dropped > 0 {
		fmt.Fprintf(stderr, " (%d over max_risk_events_per_record, dropped)", dropped)
	}
	fmt.Fprintf(stderr, "; left out: %d unreadable lines, %d events over -max-body-bytes, %d events the engine could not read\n",
		got.unreadable, got.oversized, unparsed)
	for _, name := range slices.Sorted(maps.Keys(perRule)) {
		fmt.Fprintf(stderr, "  %6d  %s\n", perRule[name], name)
	}
	switch {
	case err != nil:
		fmt.Fprintf(stderr, "scan: %v, after %d events\n", err, got.events)
		return exitUsage
	case writeErr != nil:
		fmt.Fprintf(stderr, "scan: %v\n", writeErr)
		return exitUsage
	case got.events == 0:
		// Not "0 matched": a log read as nothing is no evidence that nothing fires.
		fmt.Fprintf(stderr, "scan: no audit events in %s: %s\n", *eventsPath, noEvents(got, *maxBody))
		return exitUsage
	}
	return exitOK
}
