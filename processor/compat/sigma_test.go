package compat

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/auditdetect/auditdetect/processor/engine"
	"github.com/auditdetect/auditdetect/processor/internal/eventrisk"
	"github.com/auditdetect/auditdetect/processor/loader"
	"github.com/auditdetect/auditdetect/processor/rule"
)

// loadDir loads one corpus folder with on_rule_error: skip and returns its rules keyed by file base name.
func loadDir(t *testing.T, dir string) (map[string]*rule.Rule, *loader.Result) {
	t.Helper()
	res, err := loader.Load(loader.Options{Paths: []string{dir}, SkipErrors: true})
	if err != nil {
		t.Fatalf("loading %s: %v", dir, err)
	}
	var refused []error
	res.Rules, refused = engine.Runnable(res.Rules, engine.Options{})
	res.Skipped = append(res.Skipped, refused...)
	byFile := map[string]*rule.Rule{}
	for _, r := range res.Rules {
		byFile[filepath.Base(r.Origin.File)] = r
	}
	return byFile, res
}

// falcoMatches runs the rules over the 15 falco events, in file order through one engine, and returns the names of
// the rules each event matched.
func falcoMatches(t *testing.T, dir string, rules []*rule.Rule) map[string][]string {
	t.Helper()
	e, err := engine.Compile(rules, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	events, _ := filepath.Glob(filepath.Join(dir, "events", "falco", "*.json"))
	if len(events) != 15 {
		t.Fatalf("found %d falco events, want 15", len(events))
	}
	sort.Strings(events)
	got := map[string][]string{}
	for _, path := range events {
		body, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		ms, err := e.Match(body)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for _, m := range ms {
			got[filepath.Base(path)] = append(got[filepath.Base(path)], m.Rule.Name)
		}
	}
	return got
}

func checkTruthTable(t *testing.T, got, want map[string][]string) {
	t.Helper()
	for _, m := range []map[string][]string{got, want} {
		for _, names := range m {
			sort.Strings(names)
		}
	}
	for name := range merge(got, want) {
		if strings.Join(got[name], "|") != strings.Join(want[name], "|") {
			t.Errorf("%s: matched %q, want %q", name, got[name], want[name])
		}
	}
}

func merge(a, b map[string][]string) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

// A hand-written case (testdata/*_cases.yaml): an event built from a base event and a JSON merge patch, whether the
// rule must match it, and, for stateful rules, the events sent after it to the same engine.
type caseEvent struct {
	Base  string         `yaml:"base"`
	Patch map[string]any `yaml:"patch"`
	Match bool           `yaml:"match"`
}

type handCase struct {
	Name      string `yaml:"name"`
	caseEvent `yaml:",inline"`
	Then      []caseEvent `yaml:"then"`
	// Close, for a window answered when it closes: whether the end of the events (engine.CloseAll) answers.
	Close *bool `yaml:"close"`
}

type ruleCases struct {
	Rule  string     `yaml:"rule"`
	Cases []handCase `yaml:"cases"`
}

// runHandCases runs every case of file against its rule (each case on a fresh engine), and checks that every rule
// loaded has a case that matches and a near miss that does not.
func runHandCases(t *testing.T, file string, rules map[string]*rule.Rule) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	var all []ruleCases
	if err := yaml.Unmarshal(data, &all); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	covered := map[string][2]bool{}
	for _, rc := range all {
		r := rules[rc.Rule]
		if r == nil {
			t.Errorf("%s names %s, which is not a loaded rule", file, rc.Rule)
			continue
		}
		for _, c := range rc.Cases {
			t.Run(strings.TrimSuffix(rc.Rule, filepath.Ext(rc.Rule))+"/"+c.Name, func(t *testing.T) {
				e, err := engine.Compile([]*rule.Rule{r}, engine.Options{})
				if err != nil {
					t.Fatal(err)
				}
				for i, ev := range append([]caseEvent{c.caseEvent}, c.Then...) {
					ms, err := e.Match(buildEvent(t, ev, i))
					if err != nil {
						t.Fatal(err)
					}
					if got := len(ms) == 1; got != ev.Match {
						t.Errorf("event %d: matched %v, want %v", i+1, got, ev.Match)
					}
					if len(ms) == 1 {
						checkRisk(t, ms[0])
					}
					cov := covered[rc.Rule]
					cov[map[bool]int{true: 0, false: 1}[ev.Match]] = true
					covered[rc.Rule] = cov
				}
				closed := e.CloseAll()
				if c.Close == nil {
					if len(closed) > 0 {
						t.Errorf("answered %d times when its window closed; say so with close: true", len(closed))
					}
					return
				}
				if got := len(closed) == 1; got != *c.Close {
					t.Errorf("at the window's close: %d answers, want close: %v", len(closed), *c.Close)
				}
				if len(closed) == 1 {
					checkRisk(t, engine.Match{Rule: closed[0].Rule, Rows: []engine.Row{closed[0].Row}})
					cov := covered[rc.Rule]
					cov[0] = true
					covered[rc.Rule] = cov
				}
			})
		}
	}
	for name := range rules {
		if cov := covered[name]; !cov[0] || !cov[1] {
			t.Errorf("%s: %s needs a hand-written event it matches and a near miss (have match %v, near miss %v)", file, name, cov[0], cov[1])
		}
	}
}

// checkRisk checks the risk row of a Sigma or Elastic match: the user and the client address, or for an
// aggregating ES|QL rule, whose rows are its groups, that the row fills the risk and threat objects.
func checkRisk(t *testing.T, m engine.Match) {
	t.Helper()
	if len(m.Rows) != 1 {
		t.Fatalf("%d rows, want 1", len(m.Rows))
	}
	if slices.ContainsFunc(m.Rule.Pipeline, func(st rule.Stage) bool { _, ok := st.(rule.Stats); return ok }) {
		for _, f := range append([]string{m.Rule.Risk.Objects[0].Field}, m.Rule.Risk.Threats[0].Field) {
			if len(m.Rows[0].Values(f)) == 0 {
				t.Errorf("the row has no %s, which the risk block names", f)
			}
		}
		return
	}
	row := m.Rows[0]
	// The first address (the client, as X-Forwarded-For names it) and the last (the one the API server saw).
	all := row.Values("sourceIPs{}")
	if len(all) == 0 {
		t.Fatal("the row has no sourceIPs")
	}
	want := []string{all[0]}
	if last := all[len(all)-1]; last != all[0] {
		want = append(want, last)
	}
	if got := row.Values(eventrisk.SourceField); !slices.Equal(got, want) {
		t.Errorf("src_ip = %q, want the first and the last source address %q", got, want)
	}
	if got := row.Values(eventrisk.SeverityField); len(got) != 1 {
		t.Errorf("severity = %q, want the rule's severity", got)
	}
}

// buildEvent applies the case's merge patch to its base event.
// buildEvent is the case event: its base event with its patch applied. The n-th event of a case gets an auditID of
// its own, as every request does: the engine takes an event with the auditID and stage of one it has seen for a
// redelivery of that event (engine/replay.go).
func buildEvent(t *testing.T, ev caseEvent, n int) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "events", ev.Base+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	doc = mergePatch(doc, ev.Patch)
	if _, patched := ev.Patch["auditID"]; !patched {
		doc["auditID"] = fmt.Sprintf("%v-%d", doc["auditID"], n)
	}
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// mergePatch is RFC 7396: objects merge recursively, null removes a key, anything else replaces.
func mergePatch(doc map[string]any, patch map[string]any) map[string]any {
	for k, pv := range patch {
		if pv == nil {
			delete(doc, k)
			continue
		}
		pm, isMap := pv.(map[string]any)
		if !isMap {
			doc[k] = pv
			continue
		}
		dm, ok := doc[k].(map[string]any)
		if !ok {
			dm = map[string]any{}
		}
		doc[k] = mergePatch(dm, pm)
	}
	return doc
}

func TestSigmaCorpusLoads(t *testing.T) {
	dir := corpusDir(t)
	files, _ := filepath.Glob(filepath.Join(dir, "sigma", "*.yml"))
	// Every file loads with on_rule_error: fail.
	res, err := loader.Load(loader.Options{Paths: []string{filepath.Join(dir, "sigma")}})
	if err != nil {
		t.Fatalf("loading the Sigma corpus: %v", err)
	}
	if len(res.Rules) != len(files) || len(files) != 12 {
		t.Fatalf("loaded %d rules from %d files, want all 12", len(res.Rules), len(files))
	}
	for _, r := range res.Rules {
		if r.Origin.Format != "sigma" || r.Origin.Line == 0 || r.ID == r.Name {
			t.Errorf("%s: origin %+v, id %q", r.Name, r.Origin, r.ID)
		}
	}
	if _, err := engine.Compile(res.Rules, engine.Options{}); err != nil {
		t.Fatalf("compiling: %v", err)
	}
}

func TestSigmaOnFalcoEvents(t *testing.T) {
	dir := corpusDir(t)
	byFile, res := loadDir(t, filepath.Join(dir, "sigma"))
	got := falcoMatches(t, dir, res.Rules)
	// Only the kube-system pod is caught. The privileged-pod rule reads a top-level `capabilities` field, which no
	// audit event has, so the two privileged pods (securityContext.privileged in requestObject.spec) are missed as
	// written: REFERENCE §6, rules run as written.
	checkTruthTable(t, got, map[string][]string{
		"create_pod_kube_system_namespace.json": {"Creation Of Pod In System Namespace"},
	})
	if r := byFile["kubernetes_audit_privileged_pod_creation.yml"]; r == nil || !readsField(r.Filter, "capabilities") {
		t.Errorf("the privileged-pod rule should read the top-level capabilities field as written")
	}
}

// readsField reports whether the expression compares the named field.
func readsField(e rule.Expr, name string) bool {
	var terms []rule.Expr
	switch e := e.(type) {
	case rule.And:
		terms = e
	case rule.Or:
		terms = e
	case rule.Not:
		terms = []rule.Expr{e.X}
	case rule.Compare:
		return e.Field.Name == name
	case rule.Exists:
		return e.Field.Name == name
	}
	for _, x := range terms {
		if readsField(x, name) {
			return true
		}
	}
	return false
}

func TestSigmaHandWrittenEvents(t *testing.T) {
	byFile, _ := loadDir(t, filepath.Join(corpusDir(t), "sigma"))
	runHandCases(t, "sigma_cases.yaml", byFile)
}

func TestSigmaRiskMapping(t *testing.T) {
	byFile, _ := loadDir(t, filepath.Join(corpusDir(t), "sigma"))
	for _, tt := range []struct {
		file       string
		score      int
		techniques string
	}{
		{"kubernetes_audit_change_admission_controller.yml", 47, "T1078 T1552 T1552.007"},
		{"kubernetes_audit_secrets_enumeration.yml", 21, "T1552.007"},
		{"kubernetes_audit_unauthorized_unauthenticated_actions.yml", 21, ""},
	} {
		r := byFile[tt.file]
		if r == nil {
			t.Fatalf("%s not loaded", tt.file)
		}
		if got := strings.Join(r.MitreTechniques, " "); got != tt.techniques {
			t.Errorf("%s: techniques %q, want %q", tt.file, got, tt.techniques)
		}
		want := rule.Risk{
			Message: r.Name + ": $verb$ $requestURI$ by $user.username$ from $src_ip$",
			Objects: []rule.RiskObject{{Field: "user.username", Type: "user", Score: tt.score}},
			Threats: []rule.ThreatObject{{Field: "src_ip", Type: "ip_address"}},
		}
		if got, _ := json.Marshal(r.Risk); string(got) != mustJSON(t, want) {
			t.Errorf("%s: risk %s, want %s", tt.file, got, mustJSON(t, want))
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
