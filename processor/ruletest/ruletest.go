// Package ruletest runs the tests that rules carry (rule.Rule.Tests: ESCU `tests:`, `auditdetect_tests:`) and
// side-car test cases (a directory of <rule file stem>/cases.yaml, the built-in pack's layout) through the real
// engine, offline: attack data named by URL is reported as skipped, never fetched.
//
// Each test gets a fresh engine holding only its rule, so windowed rules start from empty windows and one test
// cannot disturb another. It knows nothing of pdata.
package ruletest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/auditdetect/auditdetect/processor/engine"
	"github.com/auditdetect/auditdetect/processor/escu"
	"github.com/auditdetect/auditdetect/processor/rule"
)

// Options say where side-car cases and local attack data are, and how to compile.
type Options struct {
	// CasesDir, when set, holds side-car cases: <CasesDir>/<stem>/cases.yaml for the rule loaded from <stem>.yml,
	// with event files relative to that cases.yaml. A folder without a loaded rule is reported as a failure.
	CasesDir string
	// DataDir holds local copies of attack data: a test's URL is run from DataDir/<file name of the URL> when that
	// file exists, and skipped otherwise.
	DataDir string
	// Engine is how rules are compiled (window, max_keys), as in the collector. GeoIP is set per test.
	Engine engine.Options
	// Disabled are rules that loaded and are left out (rule_overrides' enabled: false): their side-car cases are
	// skipped, not reported as cases of no loaded rule.
	Disabled []*rule.Rule
}

// Status is a test's outcome.
type Status string

const (
	Pass Status = "PASS"
	Fail Status = "FAIL"
	Skip Status = "SKIP"
)

// Result is the outcome of one test.
type Result struct {
	// Rule is the rule's name; empty for a side-car folder with no rule.
	Rule string
	Test string
	// Source is where the test is written: file:line.
	Source string
	Status Status
	// Events is the number of events the test ran.
	Events int
	// Detail says why a test failed or was skipped.
	Detail string
}

// Report is the outcome of a run.
type Report struct {
	Results []Result
	// Untested lists the rules that carry no test and have no side-car cases.
	Untested []string
}

// Counts returns the number of passed, failed and skipped tests.
func (r *Report) Counts() (passed, failed, skipped int) {
	for _, res := range r.Results {
		switch res.Status {
		case Pass:
			passed++
		case Fail:
			failed++
		case Skip:
			skipped++
		}
	}
	return passed, failed, skipped
}

// Failed reports whether any test failed.
func (r *Report) Failed() bool {
	_, failed, _ := r.Counts()
	return failed > 0
}

// Run runs every test of rules, in rule order.
func Run(rules []*rule.Rule, opts Options) *Report {
	rep := &Report{}
	sidecars, orphans := sidecarCases(rules, opts.Disabled, opts.CasesDir)
	rep.Results = append(rep.Results, orphans...)
	for _, r := range rules {
		var tests []located
		for _, t := range r.Tests {
			tests = append(tests, located{test: t, file: r.Origin.File})
		}
		tests = append(tests, sidecars[r]...)
		if len(tests) == 0 {
			rep.Untested = append(rep.Untested, r.Name)
			continue
		}
		for _, lt := range tests {
			res := run(r, lt, opts)
			res.Rule, res.Test = r.Name, lt.test.Name
			res.Source = lt.file
			if lt.test.Line > 0 {
				res.Source += ":" + strconv.Itoa(lt.test.Line)
			}
			rep.Results = append(rep.Results, res)
		}
	}
	return rep
}

// located is a test and the file it is written in, which relative event paths are read from.
type located struct {
	test rule.Test
	file string
	// err is a side-car file that could not be read: the test fails with it.
	err error
}

// Stem names a rule by its file, without folder or extension: builtin:kubernetes_x.yml and rules/kubernetes_x.yml
// are both kubernetes_x.
func Stem(r *rule.Rule) string {
	name := r.Origin.File
	if i := strings.LastIndexAny(name, `/\:`); i >= 0 {
		name = name[i+1:]
	}
	return strings.TrimSuffix(name, path.Ext(name))
}

// sidecarCases reads <dir>/<stem>/cases.yaml for every rule; folders that match no rule come back as failures.
func sidecarCases(rules, disabled []*rule.Rule, dir string) (map[*rule.Rule][]located, []Result) {
	out := map[*rule.Rule][]located{}
	if dir == "" {
		return out, nil
	}
	off := map[string]*rule.Rule{}
	for _, r := range disabled {
		off[Stem(r)] = r
	}
	byStem := map[string]*rule.Rule{}
	several := map[string][]string{} // stems of files that hold several rules (Sigma rules and correlations)
	for _, r := range rules {
		s := Stem(r)
		if prev, ok := byStem[s]; ok && prev.Origin.File == r.Origin.File {
			if len(several[s]) == 0 {
				several[s] = []string{prev.Name}
			}
			several[s] = append(several[s], r.Name)
		}
		byStem[s] = r
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return out, []Result{{Test: "cases", Source: dir, Status: Fail, Detail: err.Error()}}
	}
	var orphans []Result
	for _, e := range entries {
		file := filepath.Join(dir, e.Name(), "cases.yaml")
		if !e.IsDir() {
			continue
		}
		data, err := os.ReadFile(file)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if names := several[e.Name()]; len(names) > 0 {
			orphans = append(orphans, Result{Test: "cases", Source: file, Status: Fail,
				Detail: fmt.Sprintf("the file %s holds several rules (%s): side-car cases name the rule of a file of one; "+
					"test these with the rules' own tests, or put each rule in a file of its own", e.Name(), strings.Join(names, ", "))})
			continue
		}
		r := byStem[e.Name()]
		if d := off[e.Name()]; r == nil && d != nil {
			orphans = append(orphans, Result{Rule: d.Name, Test: "cases", Source: file, Status: Skip,
				Detail: "the rule is disabled"})
			continue
		}
		if r == nil {
			orphans = append(orphans, Result{Test: "cases", Source: file, Status: Fail,
				Detail: fmt.Sprintf("no loaded rule comes from a file named %s.yml", e.Name())})
			continue
		}
		if err != nil {
			out[r] = append(out[r], located{test: rule.Test{Name: "cases.yaml"}, file: file, err: err})
			continue
		}
		cases, err := escu.ParseTestCases(file, data)
		if err != nil {
			out[r] = append(out[r], located{test: rule.Test{Name: "cases.yaml"}, file: file, err: err})
			continue
		}
		for _, c := range cases {
			out[r] = append(out[r], located{test: c, file: file})
		}
	}
	return out, orphans
}

// run runs one test on a fresh engine that holds only r.
func run(r *rule.Rule, lt located, opts Options) Result {
	t := lt.test
	if lt.err != nil {
		return Result{Status: Fail, Detail: lt.err.Error()}
	}
	if t.Skip != "" {
		return Result{Status: Skip, Detail: t.Skip}
	}
	events, skip, err := readEvents(t, lt.file, opts.DataDir)
	switch {
	case err != nil:
		return Result{Status: Fail, Detail: err.Error()}
	case skip != "":
		return Result{Status: Skip, Detail: skip}
	case len(events) == 0:
		return Result{Status: Fail, Detail: "the test has no events"}
	}
	eopts := opts.Engine
	eopts.GeoIP = newFixtureGeoIP(t.GeoIP)
	e, err := engine.Compile([]*rule.Rule{r}, eopts)
	if err != nil {
		return Result{Status: Fail, Events: len(events), Detail: err.Error()}
	}
	var matchedAt []int
	var problems []string
	// A window answered at its close answers at the event whose time closes it, or at the end of the events.
	closed := func(at int, cs []engine.Closed) {
		for _, c := range cs {
			matchedAt = append(matchedAt, at)
			problems = append(problems, checkRows(r, engine.Match{Rule: c.Rule, Rows: []engine.Row{c.Row}}, t.RiskObject, at)...)
		}
	}
	for i, ev := range events {
		matches, err := e.Match(ev)
		if err != nil {
			return Result{Status: Fail, Events: len(events), Detail: fmt.Sprintf("event %d: %v", i+1, err)}
		}
		for _, m := range matches {
			matchedAt = append(matchedAt, i+1)
			problems = append(problems, checkRows(r, m, t.RiskObject, i+1)...)
		}
		closed(i+1, e.TakeClosed())
	}
	closed(len(events), e.CloseAll())
	matchedAt = slices.Compact(matchedAt)
	problems = append(expectation(t, matchedAt), problems...)
	res := Result{Status: Pass, Events: len(events)}
	if len(problems) > 0 {
		res.Status = Fail
		res.Detail = strings.Join(problems, "; ")
		if t.Note != "" {
			res.Detail += " (" + t.Note + ")"
		}
	}
	return res
}

// expectation compares the events the rule matched with what the test expects.
func expectation(t rule.Test, matchedAt []int) []string {
	switch {
	case len(t.MatchAt) > 0:
		want := slices.Clone(t.MatchAt)
		slices.Sort(want)
		if !slices.Equal(matchedAt, slices.Compact(want)) {
			return []string{fmt.Sprintf("matched on events %s, want %s", ints(matchedAt), ints(want))}
		}
	case t.Match && len(matchedAt) == 0:
		return []string{"matched no event, want a match"}
	case !t.Match && len(matchedAt) > 0:
		return []string{fmt.Sprintf("matched on events %s, want no match", ints(matchedAt))}
	}
	return nil
}

// checkRows checks that a match would write risk events: each row has a value for every risk object field, and
// the expected risk object when the test names one.
func checkRows(r *rule.Rule, m engine.Match, want string, event int) []string {
	var out []string
	if len(m.Rows) == 0 {
		return []string{fmt.Sprintf("event %d: a match without result rows", event)}
	}
	for _, row := range m.Rows {
		for _, o := range r.Risk.Objects {
			vals := row.Values(o.Field)
			switch {
			case len(vals) == 0:
				out = append(out, fmt.Sprintf("event %d: risk object field %s is empty, so no risk event is written", event, o.Field))
			case want != "" && !slices.Contains(vals, want):
				out = append(out, fmt.Sprintf("event %d: risk object %s = %q, want %q", event, o.Field, vals, want))
			}
		}
	}
	return out
}

func ints(v []int) string {
	if len(v) == 0 {
		return "none"
	}
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

// readEvents reads the test's data files, then its inline events. skip is set when data is a URL with no local copy.
func readEvents(t rule.Test, from, dataDir string) (events [][]byte, skip string, err error) {
	for _, d := range t.Data {
		file := d
		if isURL(d) {
			local := ""
			if dataDir != "" {
				if u, err := url.Parse(d); err == nil {
					local = filepath.Join(dataDir, path.Base(u.Path))
				}
			}
			if local == "" || !exists(local) {
				return nil, fmt.Sprintf("attack data %s is a URL and this run is offline (put a copy in the data directory to run it)", d), nil
			}
			file = local
		} else if !filepath.IsAbs(file) {
			if strings.HasPrefix(from, "builtin:") {
				return nil, "", fmt.Errorf("%s: a rule of the embedded pack cannot name files relative to itself", d)
			}
			file = filepath.Join(filepath.Dir(from), file)
		}
		evs, err := readFile(file)
		if err != nil {
			return nil, "", err
		}
		events = append(events, evs...)
	}
	return append(events, t.Events...), "", nil
}

func isURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

func exists(name string) bool {
	info, err := os.Stat(name)
	return err == nil && info.Mode().IsRegular()
}

// maxLine bounds one event line; audit events with whole objects reach hundreds of KiB.
const maxLine = 64 << 20

// readFile reads events from a file: one JSON object for the whole file (pretty-printed or not), a JSON array of
// objects, or one object per line (the API server's log, attack data's JSON lines).
func readFile(name string) ([][]byte, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	trimmed := bytes.TrimSpace(data)
	if json.Valid(trimmed) {
		switch {
		case bytes.HasPrefix(trimmed, []byte("{")):
			return [][]byte{trimmed}, nil
		case bytes.HasPrefix(trimmed, []byte("[")):
			var arr []json.RawMessage
			if err := json.Unmarshal(trimmed, &arr); err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			out := make([][]byte, len(arr))
			for i, ev := range arr {
				out[i] = ev
			}
			return out, nil
		}
	}
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, maxLine)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		if !json.Valid(line) {
			return nil, fmt.Errorf("%s:%d: not a JSON event", name, n)
		}
		out = append(out, bytes.Clone(line))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

// fixtureGeoIP serves a test's GeoIP fixture. It is never nil, so that iplocation rules compile without a database
// (every address then has no location).
type fixtureGeoIP map[netip.Addr]engine.Location

func newFixtureGeoIP(m map[string]rule.TestLocation) fixtureGeoIP {
	g := fixtureGeoIP{}
	for k, loc := range m {
		// The escu parser has checked that the keys are addresses.
		if a, err := netip.ParseAddr(k); err == nil {
			g[a] = engine.Location{City: loc.City, Country: loc.Country, Region: loc.Region, Lat: loc.Lat, Lon: loc.Lon}
		}
	}
	return g
}

func (g fixtureGeoIP) Lookup(ip netip.Addr) (engine.Location, bool) {
	loc, ok := g[ip.Unmap()]
	return loc, ok
}

// WriteTable prints the results as an aligned table followed by the rules without tests and a summary line.
func WriteTable(w io.Writer, rep *Report) error {
	var table bytes.Buffer
	tw := tabwriter.NewWriter(&table, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RESULT\tRULE\tTEST\tEVENTS\tSOURCE\tDETAIL")
	for _, r := range rep.Results {
		rl := r.Rule
		if rl == "" {
			rl = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", r.Status, rl, r.Test, r.Events, r.Source, oneLine(r.Detail))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// tabwriter pads an empty last column; the table has no trailing blanks.
	for _, line := range strings.Split(strings.TrimSuffix(table.String(), "\n"), "\n") {
		if _, err := io.WriteString(w, strings.TrimRight(line, " ")+"\n"); err != nil {
			return err
		}
	}
	for _, name := range rep.Untested {
		fmt.Fprintf(w, "no tests: %s\n", name)
	}
	passed, failed, skipped := rep.Counts()
	_, err := fmt.Fprintf(w, "rule tests: %d passed, %d failed, %d skipped; %d rules without tests\n",
		passed, failed, skipped, len(rep.Untested))
	return err
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
