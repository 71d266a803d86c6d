// Command auditdetect is the rule author's and operator's tool for auditdetect rule sets, offline and without a
// collector:
//
//	auditdetect coverage  [-format markdown|json] [-macro name=definition]... [-on-rule-error skip] [-disable rule]... [RULES...]
//	auditdetect rule-test [-cases DIR] [-data-dir DIR] [-window 1h] [-max-keys N] [-allowed-lateness 5m] [-macro name=definition]... [-on-rule-error skip] [-disable rule]... [RULES...]
//	auditdetect scan      [-events FILE|-] [-format text|json] [-max-body-bytes N] [-geoip-database FILE] [-window 1h] [-max-keys N] [-allowed-lateness 5m] [-macro name=definition]... [-on-rule-error skip] [-disable rule]... [RULES...]
//	auditdetect rule-cost [-events FILE|-] [-limit N] [-max-body-bytes N] [-passes N] [-window 1h] [-max-keys N] [-allowed-lateness 5m] [-format markdown|json] [-macro name=definition]... [-on-rule-error skip] [-disable rule]... [RULES...]
//	auditdetect lint      [-format text|json] [-geoip-database FILE] [-macro name=definition]... [-on-rule-error skip] [-disable rule]... [RULES...]
//
// RULES are what the processor's `rules:` setting takes: files, directories, globs, or "builtin" (the default).
// Rules are loaded by the same loader and compiled by the same engine as in the collector.
//
// Exit status: 0 on success; 1 when a rule test failed or lint found an error; 2 for anything else that stops a command: a bad command line,
// rules that do not load (or none at all), an audit log that cannot be read or holds no readable event, output that
// cannot be written.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/auditdetect/auditdetect/processor/builtin"
	"github.com/auditdetect/auditdetect/processor/coverage"
	"github.com/auditdetect/auditdetect/processor/engine"
	"github.com/auditdetect/auditdetect/processor/lint"
	"github.com/auditdetect/auditdetect/processor/loader"
	"github.com/auditdetect/auditdetect/processor/rule"
	"github.com/auditdetect/auditdetect/processor/ruletest"
	"github.com/auditdetect/auditdetect/processor/spl"
	"go.uber.org/zap"
)

const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage:
  auditdetect coverage  [flags] [RULES...]   print the coverage catalog of a rule set
  auditdetect rule-test [flags] [RULES...]   run the rules' tests offline and print a pass/fail table
  auditdetect scan      [flags] [RULES...]   run the rules over an audit log and print the risk records they write
  auditdetect rule-cost [flags] [RULES...]   measure what each rule adds to the time per event on an audit log
  auditdetect lint      [flags] [RULES...]   list rules that load but cannot work as written; exit 1 on an error

RULES: rule files, directories, globs, or "builtin" (default). "auditdetect COMMAND -h" lists a command's flags.
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "coverage":
		return runCoverage(args[1:], stdout, stderr)
	case "rule-test":
		return runRuleTest(args[1:], stdout, stderr)
	case "scan":
		return runScan(args[1:], stdout, stderr)
	case "rule-cost":
		return runCost(args[1:], stdout, stderr)
	case "lint":
		return runLint(args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "auditdetect: unknown command %q\n%s", args[0], usage)
	return exitUsage
}

// macroFlags collects -macro name=definition, as the processor's `macros:` setting.
type macroFlags map[string]string

func (m macroFlags) String() string { return fmt.Sprint(map[string]string(m)) }

func (m macroFlags) Set(s string) error {
	name, def, ok := strings.Cut(s, "=")
	if !ok || strings.TrimSpace(name) == "" {
		return errors.New("want name=definition")
	}
	m[strings.TrimSpace(name)] = def
	return nil
}

// lookupFlags collects -lookup name=file.csv (or file.csv.gz), as the processor's `lookups:` setting.
type lookupFlags map[string]string

func (m lookupFlags) String() string { return fmt.Sprint(map[string]string(m)) }

func (m lookupFlags) Set(s string) error {
	name, file, ok := strings.Cut(s, "=")
	if !ok || strings.TrimSpace(name) == "" || file == "" {
		return errors.New("want name=file.csv")
	}
	m[strings.TrimSpace(name)] = file
	return nil
}

// stateFlags registers -window and -max-keys into opts, as the processor's settings of the same names: stateful
// rules behave (and cost) as their state lets them.
func stateFlags(fs *flag.FlagSet, opts *engine.Options) {
	opts.SkipNeverMatching = true // as the processor: a rule that can never match is said, and never evaluated
	fs.DurationVar(&opts.Window, "window", engine.DefaultWindow, "window of stats rules, as the processor's window setting")
	fs.IntVar(&opts.MaxKeys, "max-keys", engine.DefaultMaxKeys, "groups per windowed rule, as the processor's max_keys setting")
	fs.DurationVar(&opts.AllowedLateness, "allowed-lateness", defaultAllowedLateness, "how much older than the newest "+
		"event of its rule an event may be and still count in its window, as the processor's allowed_lateness setting")
}

// defaultAllowedLateness is the processor's allowed_lateness default (TestStateFlagsFollowTheProcessor): without it,
// an event a few seconds late for its window counts in the collector and not here.
const defaultAllowedLateness = 5 * time.Minute

// stateError says what is wrong with the stateful settings of opts, or "".
func stateError(opts engine.Options) string {
	switch {
	case opts.Window <= 0 || opts.MaxKeys <= 0:
		return "-window and -max-keys must be positive"
	case opts.AllowedLateness < 0:
		return "-allowed-lateness must not be negative"
	case opts.Window > engine.MaxStateDuration || opts.AllowedLateness > engine.MaxStateDuration:
		return "-window and -allowed-lateness must be at most 366 days, as the processor's settings"
	}
	return ""
}

// maxBodyFlag registers -max-body-bytes, as the processor's max_body_bytes: events over it are left out.
func maxBodyFlag(fs *flag.FlagSet) *int {
	return fs.Int("max-body-bytes", defaultMaxBodyBytes, "leave out events over this many `bytes`, as the processor's max_body_bytes")
}

// ruleFlags are the flags every command loads its rules with, as the processor's settings of the same names.
type ruleFlags struct {
	macros      macroFlags
	lookups     lookupFlags
	onRuleError string
	// disable lists rules by id or name, as rule_overrides' enabled: false.
	disable listFlags
	// escuApp is the app label of ESCU detections' search names, as the processor's escu_app.
	escuApp string
	// splTimeZone is the time zone of ESCU detections' time functions and day bins, as the processor's spl_time_zone.
	splTimeZone string
	// disabled are the rules -disable left out, once loaded.
	disabled []*rule.Rule
}

// listFlags is a repeatable string flag.
type listFlags []string

func (l *listFlags) String() string { return strings.Join(*l, ",") }

func (l *listFlags) Set(s string) error {
	*l = append(*l, s)
	return nil
}

// synopses are the commands' one-line descriptions, for their -h.
var synopses = map[string]string{
	"coverage":  "print the coverage catalog of a rule set: which rules key on which audit operation",
	"rule-test": "run the rules' own tests offline and print a pass/fail table",
	"scan":      "run a rule set over an audit log and print the risk records the collector would write",
	"rule-cost": "measure what each rule adds to the time per event on an audit log",
	"lint":      "list the rules that cannot work as written (never match, an exclusion that never applies, under -on-rule-error skip does not load: errors, exit 1; a dead alternative, no risk object, a risk object left out, a message token no result fills, deprecated or unsupported upstream, a resource named by its kind: warnings)",
}

func newFlagSet(name string, stderr io.Writer) (*flag.FlagSet, *ruleFlags) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: auditdetect %s [flags] [RULES...]\n\n%s.\nRULES: rule files, directories, "+
			"globs, or \"builtin\" (default). Flags go before RULES.\n\nflags:\n", name, synopses[name])
		fs.PrintDefaults()
	}
	rf := &ruleFlags{macros: macroFlags{}, lookups: lookupFlags{}}
	fs.Var(rf.macros, "macro", "`name=definition` of an SPL macro, as in the processor's macros setting (repeatable)")
	fs.Var(rf.lookups, "lookup", "`name=file.csv`: the CSV file (or gzip-compressed file.csv.gz) of an SPL lookup, as in the processor's lookups setting (repeatable)")
	fs.StringVar(&rf.onRuleError, "on-rule-error", "fail", "`fail` or skip a rule that does not load, as the processor's on_rule_error setting")
	fs.Var(&rf.disable, "disable", "leave out the rule with this `id or name`, as the processor's rule_overrides enabled: false (repeatable)")
	fs.StringVar(&rf.splTimeZone, "spl-time-zone", "UTC", "IANA time `zone` (Europe/Berlin) of ESCU detections' convert ctime/mktime, strftime, strptime and bin span=1d, as the processor's spl_time_zone")
	fs.StringVar(&rf.escuApp, "escu-app", loader.DefaultESCUApp, "app `label` in ESCU detections' search_name (<label> - <name> - Rule), as the processor's escu_app; \"\" for the name alone")
	return fs, rf
}

// parse parses a command's flags. done says the command ends there, with code: 0 after -h (the usage is printed), 2
// on a bad flag.
func parse(fs *flag.FlagSet, args []string) (code int, done bool) {
	switch err := fs.Parse(args); {
	case errors.Is(err, flag.ErrHelp):
		return exitOK, true
	case err != nil:
		return exitUsage, true
	}
	return 0, false
}

// loadRules loads the rules named by paths with the loader's warnings going to log (nil: dropped), and leaves out
// those -disable names; no rule left is an error. Unless quiet, skipped rules (-on-rule-error skip) are reported on
// stderr.
func loadRules(paths []string, rf *ruleFlags, command string, stderr io.Writer, log *zap.Logger, quiet bool) ([]*rule.Rule, *loader.Result, error) {
	if rf.onRuleError != "fail" && rf.onRuleError != "skip" {
		return nil, nil, fmt.Errorf("-on-rule-error %q is not fail or skip", rf.onRuleError)
	}
	if len(paths) == 0 {
		paths = []string{loader.Builtin}
	}
	for _, p := range paths {
		// The flag package stops at the first argument that is not a flag: a flag written after RULES lands here.
		if _, err := os.Stat(p); err != nil && strings.HasPrefix(p, "-") {
			return nil, nil, fmt.Errorf("%s after the rules: flags go before RULES (auditdetect %s [flags] [RULES...])", p, command)
		}
	}
	zone, err := spl.LoadTimeZone(rf.splTimeZone)
	if err != nil {
		return nil, nil, fmt.Errorf("-spl-time-zone: %w", err)
	}
	res, err := loader.Load(loader.Options{Paths: paths, Builtin: builtin.FS, Macros: rf.macros, Lookups: rf.lookups,
		SPLTimeZone: zone, SkipErrors: rf.onRuleError == "skip", Logger: log, ESCUApp: rf.escuApp})
	if err != nil {
		if res != nil {
			// As the collector's start: beside the rules that do not load, the ones that load and the engine refuses.
			_, refused := engine.Runnable(res.Rules, engine.Options{GeoIP: engine.NoLocations{}})
			err = errors.Join(append([]error{err}, refused...)...)
		}
		return nil, nil, skipHint(err, command)
	}
	if !quiet {
		for _, err := range res.Skipped {
			fmt.Fprintf(stderr, "%s: skipped: %v\n", command, err)
		}
	}
	rules, err := disable(res.Rules, res.Correlated, rf.disable, rf.onRuleError == "skip", command, stderr)
	if err != nil {
		return nil, nil, err
	}
	rf.disabled = slices.DeleteFunc(slices.Clone(res.Rules), func(r *rule.Rule) bool { return slices.Contains(rules, r) })
	if len(rules) == 0 {
		if quiet {
			// The caller meant to report the skipped rules itself, with the rules that loaded: there are none.
			for _, err := range res.Skipped {
				fmt.Fprintf(stderr, "%s: skipped: %v\n", command, err)
			}
		}
		if len(rf.disable) > 0 {
			return nil, nil, fmt.Errorf("no rules left from %s: -disable names every rule loaded", strings.Join(paths, " "))
		}
		return nil, nil, fmt.Errorf("no rules loaded from %s", strings.Join(paths, " "))
	}
	return rules, res, nil
}

// skipHint follows a load error that advises the collector's setting (an ES|QL rule's: "skip it with on_rule_error:
// skip") with a line that names this tool's flag for it, which is spelt otherwise.
func skipHint(err error, command string) error {
	if !strings.Contains(err.Error(), "on_rule_error: skip") {
		return err
	}
	return fmt.Errorf("%w\n%s: here on_rule_error: skip is the flag -on-rule-error skip (auditdetect %s "+
		"-on-rule-error skip [flags] [RULES...])", err, command, command)
}

// load loads the rules named by paths; skipped rules (-on-rule-error skip) are reported on stderr, after the
// command's name, and so are rules that cannot work as written (deprecated upstream, never matching: what the
// collector warns about at start-up).
func load(paths []string, rf *ruleFlags, command string, stderr io.Writer) ([]*rule.Rule, error) {
	rules, _, err := loadRules(paths, rf, command, stderr, nil, false)
	if err != nil {
		return nil, err
	}
	// As the collector does, the rules the engine refuses (a windowed condition it cannot answer as the window
	// fills) are left out under -on-rule-error skip and fail the load, all of them, under fail; iplocation rules are
	// judged without a database here.
	kept, refused := engine.Runnable(rules, engine.Options{GeoIP: engine.NoLocations{}})
	if len(refused) > 0 && rf.onRuleError != "skip" {
		return nil, skipHint(errors.Join(refused...), command)
	}
	for _, err := range refused {
		fmt.Fprintf(stderr, "%s: skipped: %v\n", command, err)
	}
	if rules = kept; len(rules) == 0 {
		return nil, fmt.Errorf("no rules left from %s: the engine refuses every rule loaded", strings.Join(paths, " "))
	}
	for _, r := range rules {
		// As the collector warns at start-up: a rule that can never match finds nothing in a scan or a test either.
		if w := r.StatusWarning(); w != "" {
			fmt.Fprintf(stderr, "%s: rule %q (%s) is %s\n", command, r.Name, r.Origin, w)
		}
		l := lint.Check(r)
		for _, f := range l.Because {
			fmt.Fprintf(stderr, "%s: rule %q (%s) can never match: %s\n", command, r.Name, r.Origin, f)
		}
		if !l.NeverMatches {
			for _, f := range l.NeverExcludes {
				fmt.Fprintf(stderr, "%s: rule %q (%s) has an exclusion that never applies (it matches more than written): %s\n",
					command, r.Name, r.Origin, f)
			}
		}
	}
	return rules, nil
}

// disable leaves out the rules named (by id or name) in names, each reported on stderr; a name that no loaded rule
// has is an error, as a rule_overrides key of the processor is, or under skip (where the rule it names may be one
// that failed to load) a line on stderr, as the processor's warning.
func disable(rules, correlated []*rule.Rule, names []string, skip bool, command string, stderr io.Writer) ([]*rule.Rule, error) {
	if len(names) == 0 {
		return rules, nil
	}
	off := map[string]bool{}
	for _, n := range names {
		found := false
		for _, r := range rules {
			if r.NamedBy(n) {
				off[r.ID], found = true, true
			}
		}
		for _, r := range correlated {
			if !found && r.NamedBy(n) {
				// As the processor's rule_overrides: a rule that only feeds correlations is loaded, and not run alone.
				fmt.Fprintf(stderr, "%s: -disable %s: the Sigma rule %s only feeds correlation rules, and does not run alone\n", command, n, r.Name)
				found = true
			}
		}
		if !found {
			err := fmt.Errorf("-disable: no loaded rule has the id or name %q", n)
			if s := rule.Suggest(n, rules); s != "" {
				err = fmt.Errorf("-disable: no loaded rule has the id or name %q (did you mean %q?)", n, s)
			}
			if !skip {
				return nil, err
			}
			fmt.Fprintf(stderr, "%s: ignored: %v\n", command, err)
		}
	}
	kept := rules[:0:0]
	for _, r := range rules {
		if off[r.ID] {
			fmt.Fprintf(stderr, "%s: disabled: %s\n", command, r.Name)
			continue
		}
		kept = append(kept, r)
	}
	return kept, nil
}

func runCoverage(args []string, stdout, stderr io.Writer) int {
	fs, rf := newFlagSet("coverage", stderr)
	format := fs.String("format", "markdown", "output `format`: markdown or json")
	if code, done := parse(fs, args); done {
		return code
	}
	if *format != "markdown" && *format != "json" {
		fmt.Fprintf(stderr, "coverage: -format %q is not markdown or json\n", *format)
		return exitUsage
	}
	rules, err := load(fs.Args(), rf, "coverage", stderr)
	if err != nil {
		fmt.Fprintf(stderr, "coverage: %v\n", err)
		return exitUsage
	}
	// The catalog needs the operation index, not locations: iplocation rules compile against an empty database.
	e, err := engine.Compile(rules, engine.Options{GeoIP: engine.NoLocations{}})
	if err != nil {
		fmt.Fprintf(stderr, "coverage: %v\n", err)
		return exitUsage
	}
	c := coverage.Build(e)
	if *format == "json" {
		err = c.WriteJSON(stdout)
	} else {
		err = c.WriteMarkdown(stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "coverage: %v\n", err)
		return exitUsage
	}
	return exitOK
}

func runRuleTest(args []string, stdout, stderr io.Writer) int {
	fs, rf := newFlagSet("rule-test", stderr)
	var opts ruletest.Options
	fs.StringVar(&opts.CasesDir, "cases", "", "`directory` of side-car test cases: DIR/<rule file name without .yml>/cases.yaml")
	fs.StringVar(&opts.DataDir, "data-dir", "", "`directory` of local copies of attack data named by URL (looked up by file name)")
	stateFlags(fs, &opts.Engine)
	if code, done := parse(fs, args); done {
		return code
	}
	if msg := stateError(opts.Engine); msg != "" {
		fmt.Fprintln(stderr, "rule-test: "+msg)
		return exitUsage
	}
	for flagName, dir := range map[string]string{"-cases": opts.CasesDir, "-data-dir": opts.DataDir} {
		if info, err := os.Stat(dir); dir != "" && (err != nil || !info.IsDir()) {
			fmt.Fprintf(stderr, "rule-test: %s %s is not a directory\n", flagName, dir)
			return exitUsage
		}
	}
	rules, err := load(fs.Args(), rf, "rule-test", stderr)
	if err != nil {
		fmt.Fprintf(stderr, "rule-test: %v\n", err)
		return exitUsage
	}
	opts.Disabled = rf.disabled
	start := time.Now()
	rep := ruletest.Run(rules, opts)
	if err := ruletest.WriteTable(stdout, rep); err != nil {
		fmt.Fprintf(stderr, "rule-test: %v\n", err)
		return exitUsage
	}
	fmt.Fprintf(stderr, "rule-test: %d rules in %s\n", len(rules), time.Since(start).Round(time.Millisecond))
	if usesBuiltin := len(fs.Args()) == 0 || slices.Contains(fs.Args(), loader.Builtin); usesBuiltin && opts.CasesDir == "" {
		// The pack's own cases are not in the binary: they are test data of the repository.
		fmt.Fprintln(stderr, "rule-test: the built-in pack's cases are in processor/builtin/testdata of the "+
			"repository: -cases processor/builtin/testdata (make rule-test passes it)")
	}
	if rep.Failed() {
		return exitFailed
	}
	if passed, _, _ := rep.Counts(); passed == 0 {
		// A CI job that runs no test (the cases folder forgotten or misspelt) must not pass for having passed them.
		fmt.Fprintln(stderr, "rule-test: no rule test ran: give tests in the rule files (tests:, auditdetect_tests:) or -cases DIR")
		return exitUsage
	}
	return exitOK
}
