package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/auditdetect/auditdetect/processor/auditgen"
	"github.com/auditdetect/auditdetect/processor/coverage"
	"github.com/auditdetect/auditdetect/processor/engine"
	"github.com/auditdetect/auditdetect/processor/event"
	"github.com/auditdetect/auditdetect/processor/normalize"
	"github.com/auditdetect/auditdetect/processor/rule"
)

// The cost report: what each rule of a rule set adds to the processor's time per event, on an operator's own audit
// log. The engine reads an event only as far as its candidate rules need, so a rule's cost depends on the traffic:
// which operations it is a candidate for, and which fields it reads (a rule on every operation that reads a request
// body costs every event a search of it). Each rule runs alone in an engine of its own; the cost it adds is that
// engine's time per event less an empty engine's (which reads the verb, and the resource when a verb is named).
// Rules share what they read, so the costs of a set's rules add up to more than the set's.

// costReport is the report's JSON form; the Markdown shows the same.
type costReport struct {
	Events int `json:"events"`
	// Source says where the events came from: a file, or the generated mix.
	Source       string `json:"source"`
	AverageBytes int    `json:"average_bytes"`
	Unreadable   int    `json:"unreadable_lines"`
	Passes       int    `json:"passes"`
	// EmptyNS and AllNS are an empty engine's and the whole rule set's time per event, in nanoseconds.
	EmptyNS float64    `json:"empty_engine_ns_per_event"`
	AllNS   float64    `json:"all_rules_ns_per_event"`
	Rules   []ruleCost `json:"rules"`
}

type ruleCost struct {
	Number     int      `json:"number"`
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	Format     string   `json:"format"`
	File       string   `json:"file"`
	Operations []string `json:"operations"`
	// Evaluated counts the events whose operation makes the rule a candidate; Matched those it matched (with every
	// rule of the set loaded, in one pass in file order, as the collector would see them).
	Evaluated int `json:"evaluated_events"`
	Matched   int `json:"matched_events"`
	// AloneNS is the time per event of an engine holding only this rule; AddedNS that less EmptyNS.
	AloneNS float64 `json:"alone_ns_per_event"`
	AddedNS float64 `json:"added_ns_per_event"`
}

// defaultCostEvents is how many generated events the report runs over without -events.
const defaultCostEvents = 4000

func runCost(args []string, stdout, stderr io.Writer) int {
	fs, rf := newFlagSet("cost", stderr)
	eventsPath := fs.String("events", "", "audit log `file`: one event per line (native events, EventLists, cloud exports); "+
		"default: 4,000 generated events of a typical cluster")
	limit := fs.Int("limit", 10000, "read at most this many `events` from the file")
	passes := fs.Int("passes", 5, "timed `passes` over the events per engine; the fastest counts")
	format := fs.String("format", "markdown", "output `format`: markdown or json")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	switch {
	case *format != "markdown" && *format != "json":
		fmt.Fprintf(stderr, "cost: -format %q is not markdown or json\n", *format)
		return exitUsage
	case *passes < 1 || *limit < 1:
		fmt.Fprintln(stderr, "cost: -passes and -limit must be positive")
		return exitUsage
	}
	rules, err := load(fs.Args(), rf, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "cost: %v\n", err)
		return exitUsage
	}
	rep := &costReport{Passes: *passes}
	var events [][]byte
	if *eventsPath == "" {
		for _, ev := range auditgen.Generate(1, defaultCostEvents) {
			events = append(events, ev.Body)
		}
		rep.Source = "generated events (processor/auditgen, seed 1)"
	} else {
		events, rep.Unreadable, err = readEvents(*eventsPath, *limit)
		if err != nil {
			fmt.Fprintf(stderr, "cost: %v\n", err)
			return exitUsage
		}
		rep.Source = *eventsPath
	}
	if len(events) == 0 {
		fmt.Fprintf(stderr, "cost: no audit events in %s\n", *eventsPath)
		return exitUsage
	}
	if err := measure(rep, rules, events); err != nil {
		fmt.Fprintf(stderr, "cost: %v\n", err)
		return exitUsage
	}
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(rep)
	} else {
		err = writeCostMarkdown(stdout, rep)
	}
	if err != nil {
		fmt.Fprintf(stderr, "cost: %v\n", err)
		return exitFailed
	}
	return exitOK
}

// readEvents reads up to limit audit events from an audit log, finding them in each line as the processor finds them
// in a record's body; lines with none (not JSON, another log's lines, a truncated event) are counted.
func readEvents(path string, limit int) (events [][]byte, unreadable int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	norm := normalize.New(normalize.Config{})
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	for len(events) < limit && sc.Scan() {
		line := sc.Bytes()
		if len(strings.TrimSpace(string(line))) == 0 {
			continue
		}
		found := 0
		_, _ = norm.Each(line, func(ev normalize.Event) {
			// The processor counts a malformed event (a truncated line) as unparsed and passes it on: no cost to
			// report.
			if len(events) < limit && event.Valid(ev.Body) == nil {
				events = append(events, slices.Clone(ev.Body))
				found++
			}
		})
		if found == 0 {
			unreadable++
		}
	}
	if err := sc.Err(); err != nil {
		return nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	return events, unreadable, nil
}

// measure fills rep: the counts from one pass of the whole set, then each engine's fastest pass. The engines take
// turns pass by pass, so that a machine whose speed drifts (a shared VM) slows them all alike.
func measure(rep *costReport, rules []*rule.Rule, events [][]byte) error {
	total := 0
	for _, b := range events {
		total += len(b)
	}
	rep.Events, rep.AverageBytes = len(events), total/len(events)
	// iplocation rules run without locations: their lookups cost what they cost, and find nothing.
	opts := engine.Options{GeoIP: noLocations{}}
	all, err := engine.Compile(rules, opts)
	if err != nil {
		return err
	}
	compiled := all.Rules()
	cat := coverage.Build(all)
	byID := map[string]*ruleCost{}
	for i, r := range compiled {
		rep.Rules = append(rep.Rules, ruleCost{Number: i + 1, ID: r.ID, Name: r.Name, Format: r.Origin.Format,
			File: r.Origin.File, Operations: cat.Rules[i].Operations})
	}
	for i := range rep.Rules {
		byID[rep.Rules[i].ID] = &rep.Rules[i]
	}
	ev := all.Evaluator()
	for _, b := range events {
		_ = ev.Candidates(b, func(r *rule.Rule) { byID[r.ID].Evaluated++ })
		res, _ := ev.Evaluate(b)
		for _, m := range res.Matches {
			byID[m.Rule.ID].Matched++
		}
	}
	ev.Close()

	// Engine 0 is empty, 1 the whole set (fresh: the counting pass above filled its windows), then one per rule.
	engines := make([]*engine.Engine, 0, len(compiled)+2)
	for _, set := range append([][]*rule.Rule{nil, compiled}, each(compiled)...) {
		e, err := engine.Compile(set, opts)
		if err != nil {
			return err
		}
		engines = append(engines, e)
	}
	best := make([]time.Duration, len(engines))
	for i := range best {
		best[i] = math.MaxInt64
	}
	for p := 0; p <= rep.Passes; p++ {
		for i, e := range engines {
			// The first pass is not timed: it teaches each engine's reader the key orders of the log.
			if d := timePass(e, events); p > 0 {
				best[i] = min(best[i], d)
			}
		}
	}
	perEvent := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(len(events)) }
	rep.EmptyNS, rep.AllNS = perEvent(best[0]), perEvent(best[1])
	for i := range rep.Rules {
		rep.Rules[i].AloneNS = perEvent(best[i+2])
		rep.Rules[i].AddedNS = rep.Rules[i].AloneNS - rep.EmptyNS
	}
	slices.SortStableFunc(rep.Rules, func(a, b ruleCost) int {
		switch {
		case a.AddedNS > b.AddedNS:
			return -1
		case a.AddedNS < b.AddedNS:
			return 1
		}
		return 0
	})
	return nil
}

// each returns one single-rule set per rule.
func each(rules []*rule.Rule) [][]*rule.Rule {
	out := make([][]*rule.Rule, len(rules))
	for i, r := range rules {
		out[i] = []*rule.Rule{r}
	}
	return out
}

// timePass evaluates every event once through one Evaluator, as the processor evaluates a batch. Stateful rules see
// the events again on later passes, as a redelivery: recognised by their auditID, not counted twice.
func timePass(e *engine.Engine, events [][]byte) time.Duration {
	ev := e.Evaluator()
	defer ev.Close()
	start := time.Now()
	for _, b := range events {
		_, _ = ev.Evaluate(b)
	}
	return time.Since(start)
}

func writeCostMarkdown(w io.Writer, rep *costReport) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "# Rule cost\n\n%s, %d events, %d bytes on average", rep.Source, rep.Events, rep.AverageBytes)
	if rep.Unreadable > 0 {
		fmt.Fprintf(bw, " (lines without a readable audit event, left out: %d)", rep.Unreadable)
	}
	fmt.Fprintf(bw, ". Time per event, the fastest of %d passes (wall clock).\n\n", rep.Passes)
	fmt.Fprintf(bw, "| engine | ns per event |\n| --- | ---: |\n")
	fmt.Fprintf(bw, "| empty (reads each event's verb) | %.0f |\n", rep.EmptyNS)
	fmt.Fprintf(bw, "| all %d rules | %.0f |\n\n", len(rep.Rules), rep.AllNS)
	fmt.Fprintf(bw, "Each rule alone, costliest first. *Added* is its engine's time less the empty engine's: reading "+
		"the resource of every event of a verb it names, then its filter on the events it is evaluated on. Rules "+
		"share what they read, so the added times sum to more than the whole set's; differences of a few percent "+
		"of the empty engine's time are noise.\n\n")
	fmt.Fprintf(bw, "| # | rule | format | operations | evaluated on | matched | added ns per event |\n")
	fmt.Fprintf(bw, "| --- | --- | --- | --- | ---: | ---: | ---: |\n")
	for _, r := range rep.Rules {
		fmt.Fprintf(bw, "| %d | %s | %s | %s | %.1f%% | %d | %.0f |\n", r.Number, markdownCell(r.Name), r.Format,
			operationsCell(r.Operations), 100*float64(r.Evaluated)/float64(rep.Events), r.Matched, r.AddedNS)
	}
	return bw.Flush()
}

// operationsCell shortens a rule's operations for a table cell: "every operation" for any-any, else the first few.
func operationsCell(ops []string) string {
	if slices.Equal(ops, []string{coverage.Any + "-" + coverage.Any}) {
		return "every operation"
	}
	const shown = 4
	if len(ops) > shown {
		return strings.Join(ops[:shown], ", ") + fmt.Sprintf(" and %d more", len(ops)-shown)
	}
	return strings.Join(ops, ", ")
}

func markdownCell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
