package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/auditdetect/auditdetect/processor/auditgen"
	"github.com/auditdetect/auditdetect/processor/coverage"
	"github.com/auditdetect/auditdetect/processor/engine"
	"github.com/auditdetect/auditdetect/processor/normalize"
	"github.com/auditdetect/auditdetect/processor/rule"
)

// The cost report: what each rule of a rule set adds to the processor's time per event, on an operator's own audit
// log. The engine reads an event only as far as its candidate rules need, so a rule's cost depends on the traffic:
// which operations it is a candidate for, and which fields it reads (a rule on every operation that reads a request
// body costs every event a search of it). Each rule runs alone in an engine of its own; the cost it adds is that
// engine's time per event less an empty engine's (which reads the verb). Rules share what they read and the answers
// of their common terms, so the costs of a set's rules add up to more than the set's.

// costReport is the report's JSON form; the Markdown shows the same.
type costReport struct {
	// Source says where the events came from: a file, stdin, or the generated mix.
	Source string `json:"source"`
	Events int    `json:"events"`
	// Limited says the read stopped at -limit before the end of the file.
	Limited      bool `json:"limited"`
	AverageBytes int  `json:"average_bytes"`
	// Unreadable counts lines without a readable audit event; Oversized events over -max-body-bytes, which the
	// processor passes on unevaluated.
	Unreadable int `json:"unreadable_lines"`
	Oversized  int `json:"oversized_events"`
	Passes     int `json:"passes"`
	// EmptyNS and AllNS are an empty engine's and the whole rule set's time per event, in nanoseconds. NoiseNS is how
	// far apart two empty engines measured in the same passes came out: differences below it mean nothing.
	EmptyNS float64    `json:"empty_engine_ns_per_event"`
	AllNS   float64    `json:"all_rules_ns_per_event"`
	NoiseNS float64    `json:"noise_ns_per_event"`
	Rules   []ruleCost `json:"rules"`
}

type ruleCost struct {
	// Number is the rule's position in the loaded set, as in the coverage catalog.
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
	// AloneNS is the time per event of an engine holding only this rule; AddedNS that less EmptyNS. AllocsPerEvent
	// is what that engine allocates per event (matches build rows; an event that matches nothing allocates nothing).
	AloneNS        float64 `json:"alone_ns_per_event"`
	AddedNS        float64 `json:"added_ns_per_event"`
	AllocsPerEvent float64 `json:"allocs_per_event"`
	// Prefilter is the rule's literal prefilter, when it has one, and what it did in the counting pass.
	Prefilter *prefilterReport `json:"prefilter,omitempty"`
}

// prefilterReport is a rule's search of an event's bytes before it reads a request or response body
// (engine.Prefilter): clauses that must all hold, each a list of literals of which one must be there. Reached counts
// the events that passed the rule's other terms and were searched, Passed those the search let through, Held those
// the terms it guards then held. A search that lets most events through saves little.
type prefilterReport struct {
	SearchedFor [][]prefilterLiteral `json:"searched_for"`
	Reached     uint64               `json:"reached_events"`
	Passed      uint64               `json:"passed_events"`
	Held        uint64               `json:"held_events"`
}

type prefilterLiteral struct {
	Text    string `json:"text"`
	AnyCase bool   `json:"any_case"`
}

const (
	// defaultCostEvents is how many generated events the report runs over without -events or -limit.
	defaultCostEvents = 4000
	// defaultCostLimit is how many events of a file (-events) the report reads at most without -limit.
	defaultCostLimit = 10000
	// defaultMaxBodyBytes is the processor's max_body_bytes default (TestCostDefaultsFollowTheProcessor).
	defaultMaxBodyBytes = 8 << 20
)

func runCost(args []string, stdout, stderr io.Writer) int {
	fs, rf := newFlagSet("rule-cost", stderr)
	eventsPath := fs.String("events", "", "audit log `file` (- for stdin; gzip is read as such): one event per line, native "+
		"events, EventLists or cloud exports; default: generated events of a typical cluster")
	// No default in the flag itself: it has one per source, and the flag package would print a third "(default N)".
	limit := fs.Int("limit", 0, fmt.Sprintf("at most this many `events` to read from the file (default %d) or, without "+
		"-events, to generate (default %d)", defaultCostLimit, defaultCostEvents))
	maxBody := maxBodyFlag(fs)
	passes := fs.Int("passes", 5, "timed `passes` over the events per engine; the fastest counts")
	format := fs.String("format", "markdown", "output `format`: markdown or json")
	// Stateful rules cost what their state costs: measure them with the collector's settings.
	var opts engine.Options
	stateFlags(fs, &opts)
	if code, done := parse(fs, args); done {
		return code
	}
	if !flagSet(fs, "limit") {
		*limit = defaultCostLimit
		if *eventsPath == "" {
			*limit = defaultCostEvents
		}
	}
	switch {
	case *format != "markdown" && *format != "json":
		fmt.Fprintf(stderr, "rule-cost: -format %q is not markdown or json\n", *format)
		return exitUsage
	case *passes < 1 || *limit < 1 || *maxBody < 1:
		fmt.Fprintln(stderr, "rule-cost: -passes, -limit and -max-body-bytes must be positive")
		return exitUsage
	case stateError(opts) != "":
		fmt.Fprintln(stderr, "rule-cost: "+stateError(opts))
		return exitUsage
	}
	rules, err := load(fs.Args(), rf, "rule-cost", stderr)
	if err != nil {
		fmt.Fprintf(stderr, "rule-cost: %v\n", err)
		return exitUsage
	}
	rep := &costReport{Passes: *passes}
	var events [][]byte
	if *eventsPath == "" {
		for _, ev := range auditgen.Generate(1, *limit) {
			events = append(events, ev.Body)
		}
		rep.Source = "generated events (processor/auditgen, seed 1)"
	} else {
		got, err := readEvents(*eventsPath, *limit, *maxBody, func(ev normalize.Event) {
			events = append(events, slices.Clone(ev.Body))
		})
		if err != nil {
			fmt.Fprintf(stderr, "rule-cost: %v\n", err)
			return exitUsage
		}
		rep.Limited, rep.Unreadable, rep.Oversized = got.limited, got.unreadable, got.oversized
		rep.Source = *eventsPath
		if *eventsPath == "-" {
			rep.Source = "standard input"
		}
	}
	if len(events) == 0 {
		fmt.Fprintf(stderr, "rule-cost: no audit events in %s (lines without a readable event: %d; events over "+
			"-max-body-bytes: %d): %s\n", rep.Source, rep.Unreadable, rep.Oversized,
			noEvents(readStats{unreadable: rep.Unreadable, oversized: rep.Oversized}, *maxBody))
		return exitUsage
	}
	start := time.Now()
	if err := measure(rep, rules, events, opts); err != nil {
		fmt.Fprintf(stderr, "rule-cost: %v\n", err)
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
		fmt.Fprintf(stderr, "rule-cost: %v\n", err)
		return exitUsage
	}
	fmt.Fprintf(stderr, "rule-cost: %d rules, %d events, %d %s in %s\n", len(rules), len(events), *passes,
		plural(*passes, "pass", "passes"), time.Since(start).Round(time.Millisecond))
	return exitOK
}

// flagSet reports whether the flag was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// measure fills rep: the counts from one pass of the whole set, then each engine's fastest pass. The engines take
// turns pass by pass, each pass in another order (a rule that reads whole bodies leaves the next one a cold cache),
// so that a machine whose speed drifts, and the order, weigh on them alike. Two empty engines give the noise floor.
func measure(rep *costReport, rules []*rule.Rule, events [][]byte, opts engine.Options) error {
	total := 0
	for _, b := range events {
		total += len(b)
	}
	rep.Events, rep.AverageBytes = len(events), total/len(events)
	// iplocation rules run without locations: their lookups cost what they cost, and find nothing.
	opts.GeoIP = engine.NoLocations{}
	counting := opts
	counting.CountPrefilters = true // for the counting pass only: the timed engines count nothing
	all, err := engine.Compile(rules, counting)
	if err != nil {
		return err
	}
	compiled := all.Rules()
	cat := coverage.Build(all)
	index := map[*rule.Rule]int{}
	for i, r := range compiled {
		index[r] = i
		rep.Rules = append(rep.Rules, ruleCost{Number: i + 1, ID: r.ID, Name: r.Name, Format: r.Origin.Format,
			File: r.Origin.File, Operations: cat.Rules[i].Operations})
	}
	ev := all.Evaluator()
	for _, b := range events {
		_ = ev.Candidates(b, func(r *rule.Rule) { rep.Rules[index[r]].Evaluated++ })
		res, _ := ev.Evaluate(b)
		for _, m := range res.Matches {
			rep.Rules[index[m.Rule]].Matched++
		}
		// A window answered when it closes answers with the event whose time closes it, or at the end.
		for _, c := range all.TakeClosed() {
			rep.Rules[index[c.Rule]].Matched++
		}
	}
	for _, c := range all.CloseAll() {
		rep.Rules[index[c.Rule]].Matched++
	}
	ev.Close()
	for i, r := range compiled {
		if p, ok := all.Prefilter(r); ok {
			pr := &prefilterReport{Reached: p.Reached, Passed: p.Passed, Held: p.Held}
			for _, cl := range p.Clauses {
				var lits []prefilterLiteral
				for _, l := range cl {
					lits = append(lits, prefilterLiteral{Text: l.Text, AnyCase: l.Fold})
				}
				pr.SearchedFor = append(pr.SearchedFor, lits)
			}
			rep.Rules[i].Prefilter = pr
		}
	}

	// Engines 0 and 1 are empty, 2 the whole set (fresh: the counting pass above filled its windows), then one per
	// rule.
	sets := append([][]*rule.Rule{nil, nil, compiled}, each(compiled)...)
	engines := make([]*engine.Engine, len(sets))
	for i, set := range sets {
		if engines[i], err = engine.Compile(set, opts); err != nil {
			return err
		}
	}
	best := make([]time.Duration, len(engines))
	allocs := make([]float64, len(engines))
	for i := range best {
		best[i] = math.MaxInt64
	}
	order := make([]int, len(engines))
	ids := auditgen.NewIDs(events)
	for p := 0; p <= rep.Passes; p++ {
		// New auditIDs for each pass: unchanged, the events would be a redelivery to the stateful rules, which would
		// hand back what they produced on the pass before instead of running (engine/replay.go).
		ids.RenewAll(events, uint32(p+1))
		// Pass p starts at another engine and, every other pass, runs them backwards.
		for k := range order {
			order[k] = (k + p*len(engines)/(rep.Passes+1)) % len(engines)
		}
		if p%2 == 1 {
			slices.Reverse(order)
		}
		for _, i := range order {
			switch p {
			case 0: // not timed: it teaches each engine's reader the key orders of the log
				timePass(engines[i], events)
			case 1: // allocations are counted in the first timed pass, once the engine's state is made
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				best[i] = timePass(engines[i], events)
				runtime.ReadMemStats(&after)
				allocs[i] = float64(after.Mallocs-before.Mallocs) / float64(len(events))
			default:
				best[i] = min(best[i], timePass(engines[i], events))
			}
		}
	}
	perEvent := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(len(events)) }
	empty0, empty1 := perEvent(best[0]), perEvent(best[1])
	rep.EmptyNS, rep.NoiseNS = min(empty0, empty1), math.Abs(empty0-empty1)
	rep.AllNS = perEvent(best[2])
	for i := range rep.Rules {
		rep.Rules[i].AloneNS = perEvent(best[i+3])
		rep.Rules[i].AddedNS = rep.Rules[i].AloneNS - rep.EmptyNS
		rep.Rules[i].AllocsPerEvent = allocs[i+3]
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

// timePass evaluates every event once through one Evaluator, as the processor evaluates a batch. measure renews
// the events' auditIDs before each pass, so that stateful rules count them as new events, as they would a cluster's.
func timePass(e *engine.Engine, events [][]byte) time.Duration {
	ev := e.Evaluator()
	defer ev.Close()
	start := time.Now()
	for i, b := range events {
		_, _ = ev.Evaluate(b)
		if i%100 == 99 {
			e.TakeClosed() // as the processor does after each batch: closing windows is part of the cost
		}
	}
	e.TakeClosed()
	return time.Since(start)
}

func writeCostMarkdown(w io.Writer, rep *costReport) error {
	bw := bufio.NewWriter(w)
	what := fmt.Sprintf("%d events", rep.Events)
	if rep.Limited {
		what = fmt.Sprintf("the first %d events (-limit)", rep.Events)
	}
	fmt.Fprintf(bw, "# Rule cost\n\n%s: %s, %d bytes on average", coverage.Cell(rep.Source), what, rep.AverageBytes)
	if rep.Unreadable > 0 {
		fmt.Fprintf(bw, "; lines without a readable audit event, left out: %d", rep.Unreadable)
	}
	if rep.Oversized > 0 {
		fmt.Fprintf(bw, "; events over -max-body-bytes, left out as the processor passes them on unevaluated: %d", rep.Oversized)
	}
	fmt.Fprintf(bw, ". Time per event, the fastest of %d %s (wall clock).\n\n", rep.Passes, plural(rep.Passes, "pass", "passes"))
	fmt.Fprintf(bw, "| engine | ns per event |\n| --- | ---: |\n")
	fmt.Fprintf(bw, "| empty (reads each event's verb) | %.0f |\n", rep.EmptyNS)
	fmt.Fprintf(bw, "| all %d rules | %.0f |\n", len(rep.Rules), rep.AllNS)
	fmt.Fprintf(bw, "| noise: two empty engines differed by | %.0f |\n\n", rep.NoiseNS)
	fmt.Fprintf(bw, "Each rule alone, costliest first. *Added* is its engine's time less the empty engine's: reading "+
		"the resource of every event of a verb it names, then its filter on the events it is evaluated on. Rules "+
		"share what they read and the answers of the terms they have in common, so the added times sum to more "+
		"than the whole set's. An added time within the noise is written ≈0; run again, or with more -passes, "+
		"before reading much into differences of that size.\n\n")
	fmt.Fprintf(bw, "| rule # | rule | format | operations | evaluated on | matched events | allocs per event | added ns per event |\n")
	fmt.Fprintf(bw, "| ---: | --- | --- | --- | ---: | ---: | ---: | ---: |\n")
	for _, r := range rep.Rules {
		added := fmt.Sprintf("%.0f", r.AddedNS)
		if math.Abs(r.AddedNS) <= rep.NoiseNS {
			added = "≈0"
		}
		fmt.Fprintf(bw, "| %d | %s | %s | %s | %.1f%% (%d) | %d | %.2f | %s |\n", r.Number, coverage.Cell(r.Name),
			r.Format, coverage.Cell(operationsCell(r.Operations)), 100*float64(r.Evaluated)/float64(rep.Events),
			r.Evaluated, r.Matched, r.AllocsPerEvent, added)
	}
	writePrefilters(bw, rep)
	return bw.Flush()
}

// writePrefilters writes the table of the rules' literal prefilters, in rule order.
func writePrefilters(w io.Writer, rep *costReport) {
	rules := slices.Clone(rep.Rules)
	rules = slices.DeleteFunc(rules, func(r ruleCost) bool { return r.Prefilter == nil })
	if len(rules) == 0 {
		return
	}
	slices.SortFunc(rules, func(a, b ruleCost) int { return a.Number - b.Number })
	fmt.Fprintf(w, "\n## Literal prefilters\n\nBefore a rule reads a request or response body, it searches the event's bytes "+
		"for literals its terms need: every clause (and) must find one of its literals (or). *Reached* counts the "+
		"events that passed the rule's other terms and were searched, *let through* those the search did not turn "+
		"away, *held* those whose body terms then held (with every rule loaded, in the counting pass). A search that "+
		"lets through most of what reaches it, and then holds on few, saves little: a rarer literal in the rule's "+
		"body terms, or a term on a head field, would.\n\n")
	fmt.Fprintf(w, "| rule # | rule | searched for | reached | let through | held |\n| ---: | --- | --- | ---: | ---: | ---: |\n")
	for _, r := range rules {
		p := r.Prefilter
		var clauses []string
		for _, cl := range p.SearchedFor {
			var lits []string
			for _, l := range cl {
				s := strconv.Quote(l.Text)
				if l.AnyCase {
					s += " (any case)"
				}
				lits = append(lits, s)
			}
			clauses = append(clauses, strings.Join(lits, " or "))
		}
		through := "-"
		if p.Reached > 0 {
			through = fmt.Sprintf("%d (%.0f%%)", p.Passed, 100*float64(p.Passed)/float64(p.Reached))
		}
		fmt.Fprintf(w, "| %d | %s | %s | %d | %s | %d |\n", r.Number, coverage.Cell(r.Name),
			coverage.Cell(strings.Join(clauses, "; and ")), p.Reached, through, p.Held)
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
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
