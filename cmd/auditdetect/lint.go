package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/auditdetect/auditdetect/processor/coverage"
	"github.com/auditdetect/auditdetect/processor/engine"
	"github.com/auditdetect/auditdetect/processor/geoip"
	"github.com/auditdetect/auditdetect/processor/lint"
	"github.com/auditdetect/auditdetect/processor/loader"
	"github.com/auditdetect/auditdetect/processor/rule"
)

// A lint finding is an error when the rule cannot work as written (it never matches, an exclusion never applies,
// under -on-rule-error skip it does not load), a warning when it works but not all of it (a dead alternative, a
// risk object the loader leaves out, no risk object at all, a message token no result row fills, deprecated upstream).
const (
	lintError   = "error"
	lintWarning = "warning"
)

type lintFinding struct {
	// Where is the rule's file and the line of its query ("file:line"), as the collector's log names it.
	Where   string `json:"where"`
	Rule    string `json:"rule,omitempty"`
	ID      string `json:"id,omitempty"`
	Level   string `json:"level"`
	Message string `json:"message"`
}

// runLint checks a rule set for rules that load but cannot work as written: what the collector warns about at
// start-up, as a list a rule author's CI can fail on (exit 1 when there is an error).
func runLint(args []string, stdout, stderr io.Writer) int {
	fs, rf := newFlagSet("lint", stderr)
	format := fs.String("format", "text", "output `format`: text (one finding a line, file:line first) or json")
	geoDB := fs.String("geoip-database", "", "MaxMind City database `file`, as the processor's geoip_database: without "+
		"it, a rule using iplocation is an error (the collector refuses it; the built-in pack's is left out)")
	if code, done := parse(fs, args); done {
		return code
	}
	if *geoDB != "" {
		db, err := geoip.Open(*geoDB)
		if err != nil {
			fmt.Fprintf(stderr, "lint: -geoip-database: %v\n", err)
			return exitUsage
		}
		db.Close()
	}
	if *format != "text" && *format != "json" {
		fmt.Fprintf(stderr, "lint: -format %q is not text or json\n", *format)
		return exitUsage
	}
	// The loader says what it leaves out or cannot use at warning level, as in the collector's log.
	core, logs := observer.New(zapcore.WarnLevel)
	rules, res, err := loadRules(fs.Args(), rf, "lint", stderr, zap.New(core), true)
	if err != nil {
		fmt.Fprintf(stderr, "lint: %v\n", err)
		return exitUsage
	}
	var findings []lintFinding
	failed := map[string]bool{} // by rule name: the loader's warnings about a rule that then failed are not said
	for _, err := range res.Skipped {
		f := lintFinding{Level: lintError, Message: "does not load: " + err.Error()}
		if re := (*rule.Error)(nil); errors.As(err, &re) {
			f.Where = (rule.Origin{File: re.File, Line: re.Line}).String()
			f.Rule, f.Message = re.Rule, "does not load: "+re.Reason
			failed[re.Rule] = re.Rule != ""
		}
		findings = append(findings, f)
	}
	// A rule that loads may still be one the engine refuses (a windowed condition that can stop holding, a dc()
	// threshold past its ceiling): the collector fails to start with it, or skips it. Each is compiled on its own,
	// as the collector does under skip; iplocation rules against an empty database (lint needs no locations).
	refused := map[*rule.Rule]bool{}
	for _, r := range rules {
		if _, err := engine.Compile([]*rule.Rule{r}, engine.Options{GeoIP: engine.NoLocations{}}); err != nil {
			refused[r], failed[r.Name] = true, true
			reason := err.Error()
			if re := (*rule.Error)(nil); errors.As(err, &re) {
				reason = re.Reason
			}
			findings = append(findings, lintFinding{Where: r.Origin.String(), Rule: r.Name, ID: r.ID, Level: lintError,
				Message: "does not load: " + reason})
		}
	}
	// The loader's warnings are said of the rules that run, as lint's own findings are: not of a rule -disable
	// leaves out, nor of one that failed to load.
	running := map[string]*rule.Rule{}
	for _, r := range rules {
		running[r.Name] = r
	}
	for _, e := range logs.All() {
		ctx := e.ContextMap()
		name, _ := ctx["rule"].(string)
		where, _ := ctx["file"].(string)
		f := lintFinding{Where: where, Rule: name, Level: lintWarning, Message: e.Message}
		switch {
		case e.Message == "Skipping rule that failed to load":
			continue // res.Skipped, above
		case name != "" && (failed[name] || running[name] == nil):
			continue
		case name != "":
			f.ID = running[name].ID
			if f.Where == "" {
				f.Where = running[name].Origin.String()
			}
		case where == "":
			// A warning about the configuration (a -macro no rule uses), not about one rule.
			f.Where = "-macro"
		}
		if field, ok := ctx["field"].(string); ok {
			f.Message += fmt.Sprintf(" (field %q; results: %s)", field, strings.Join(toStrings(ctx["results"]), ", "))
		} else if token, ok := ctx["token"].(string); ok {
			f.Message += fmt.Sprintf(" (token %s; results: %s", token, strings.Join(toStrings(ctx["results"]), ", "))
			if why, ok := ctx["reason"].(string); ok {
				f.Message += "; " + why
			}
			f.Message += ")"
		} else if err, ok := ctx["error"].(string); ok {
			f.Message += ": " + err
		}
		findings = append(findings, f)
	}
	for _, r := range rules {
		if refused[r] {
			continue
		}
		add := func(level, msg string) {
			findings = append(findings, lintFinding{Where: r.Origin.String(), Rule: r.Name, ID: r.ID, Level: level, Message: msg})
		}
		if *geoDB == "" && r.NeedsGeoIP() && !loader.WaitsForGeoIP(r) {
			add(lintError, "does not load without a GeoIP database: it uses iplocation, and the collector refuses it "+
				"(or skips it under on_rule_error: skip) unless geoip_database is set; lint it with -geoip-database FILE")
			continue
		}
		l := lint.Check(r)
		switch {
		case l.NeverMatches:
			add(lintError, "can never match an API server's audit event: "+joinFindings(l.Because))
		case len(l.NeverExcludes) > 0:
			add(lintError, "an exclusion never applies, so the rule matches more than written: NOT "+joinFindings(l.NeverExcludes))
		}
		if dead := l.DeadAlternatives(); len(dead) > 0 {
			add(lintWarning, "an alternative is never true (the rest of the rule runs): "+joinFindings(dead))
		}
		for _, h := range coverage.ResourceHints(r) {
			add(lintWarning, h.String())
		}
		if w := r.StatusWarning(); w != "" {
			add(lintWarning, w)
		}
	}
	// A Sigma rule that only feeds correlations is still a rule that must match something: a correlation over one
	// that never matches counts nothing of it (a temporal one never fires).
	for _, r := range res.Correlated {
		if l := lint.Check(r); l.NeverMatches {
			findings = append(findings, lintFinding{Where: r.Origin.String(), Rule: r.Name, ID: r.ID, Level: lintError,
				Message: "feeds correlation rules but can never match an API server's audit event: " + joinFindings(l.Because)})
		}
	}
	sort.SliceStable(findings, func(i, j int) bool { return whereLess(findings[i].Where, findings[j].Where) })

	errs, warnings := 0, 0
	for _, f := range findings {
		if f.Level == lintError {
			errs++
		} else {
			warnings++
		}
	}
	if *format == "json" {
		out := struct {
			Summary struct {
				Rules    int `json:"rules"`
				Errors   int `json:"errors"`
				Warnings int `json:"warnings"`
			} `json:"summary"`
			Findings []lintFinding `json:"findings"`
		}{Findings: findings}
		if out.Findings == nil {
			out.Findings = []lintFinding{}
		}
		out.Summary.Rules, out.Summary.Errors, out.Summary.Warnings = len(rules), errs, warnings
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			fmt.Fprintf(stderr, "lint: %v\n", err)
			return exitUsage
		}
	} else {
		for _, f := range findings {
			rule := ""
			if f.Rule != "" {
				rule = fmt.Sprintf("rule %q: ", f.Rule)
			}
			if _, err := fmt.Fprintf(stdout, "%s: %s: %s%s\n", f.Where, f.Level, rule, f.Message); err != nil {
				fmt.Fprintf(stderr, "lint: %v\n", err)
				return exitUsage
			}
		}
	}
	fmt.Fprintf(stderr, "lint: %d rules: %d errors, %d warnings\n", len(rules), errs, warnings)
	if errs > 0 {
		return exitFailed
	}
	return exitOK
}

func joinFindings(fs []lint.Finding) string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.String()
	}
	return strings.Join(out, "; ")
}

func toStrings(v any) []string {
	switch v := v.(type) {
	case []string:
		return v
	case []any:
		out := make([]string, 0, len(v))
		for _, x := range v {
			out = append(out, fmt.Sprint(x))
		}
		return out
	}
	return nil
}

// whereLess orders "file:line" by file, then by line as a number.
func whereLess(a, b string) bool {
	fa, la := splitWhere(a)
	fb, lb := splitWhere(b)
	if fa != fb {
		return fa < fb
	}
	return la < lb
}

func splitWhere(w string) (string, int) {
	i := strings.LastIndexByte(w, ':')
	if i < 0 {
		return w, 0
	}
	n := 0
	for _, c := range w[i+1:] {
		if c < '0' || c > '9' {
			return w, 0
		}
		n = n*10 + int(c-'0')
	}
	return w[:i], n
}
