package builtin_test

import (
	"bufio"
	"bytes"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/auditdetect/auditdetect/processor/builtin"
	"github.com/auditdetect/auditdetect/processor/engine"
	"github.com/auditdetect/auditdetect/processor/loader"
	"github.com/auditdetect/auditdetect/processor/rule"
)

// testCase is one entry of testdata/<rule>/cases.yaml (format in testdata/README.md).
type testCase struct {
	File string `yaml:"file"`
	// Match says whether the folder's rule matches the event of a .json file, or any event of a .jsonl sequence.
	Match *bool `yaml:"match"`
	// MatchAt is, for a .jsonl sequence, the 1-based index of the only event the folder's rule matches on.
	MatchAt    int      `yaml:"match_at"`
	RiskObject string   `yaml:"risk_object"`
	Also       []string `yaml:"also"`
	Note       string   `yaml:"note"`
}

// testGeo is the GeoIP database of the tests: documentation addresses with made-up locations.
type testGeo map[string]engine.Location

func (g testGeo) Lookup(ip netip.Addr) (engine.Location, bool) {
	loc, ok := g[ip.String()]
	return loc, ok
}

var geo = testGeo{
	"203.0.113.45": {City: "Amsterdam", Country: "Netherlands", Region: "North Holland", Lat: 52.37, Lon: 4.89},
}

// packRules loads the embedded pack the way the processor does for `rules: [builtin]`.
func packRules(t *testing.T) []*rule.Rule {
	t.Helper()
	res, err := loader.Load(loader.Options{Paths: []string{loader.Builtin}, Builtin: builtin.FS})
	if err != nil {
		t.Fatalf("load the pack: %v", err)
	}
	if len(res.Rules) == 0 {
		t.Fatal("the pack holds no rules")
	}
	return res.Rules
}

// stem names a rule by its file (`builtin:<stem>.yml`), as the testdata folders do.
func stem(r *rule.Rule) string {
	name := r.Origin.File
	if i := strings.LastIndexAny(name, "/:"); i >= 0 {
		name = name[i+1:]
	}
	return strings.TrimSuffix(name, path.Ext(name))
}

func compile(t *testing.T, rules []*rule.Rule) *engine.Engine {
	t.Helper()
	e, err := engine.Compile(rules, engine.Options{GeoIP: geo})
	if err != nil {
		t.Fatalf("compile the pack: %v", err)
	}
	return e
}

func readEvents(t *testing.T, file string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(file, ".jsonl") {
		return [][]byte{bytes.TrimSpace(b)}
	}
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
			out = append(out, append([]byte(nil), line...))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestPack runs every test event through the real engine with the whole pack loaded: each rule must match its
// positive events with the expected risk object, stay quiet on its near misses, and no other rule may match unless
// the case says so.
func TestPack(t *testing.T) {
	rules := packRules(t)
	byStem := map[string]*rule.Rule{}
	for _, r := range rules {
		byStem[stem(r)] = r
	}
	compile(t, rules) // fail early, once, on a rule the engine refuses

	dirs, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	tested := map[string]bool{}
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		name := d.Name()
		r := byStem[name]
		if r == nil {
			t.Errorf("testdata/%s: no rule rules/%s.yml in the pack", name, name)
			continue
		}
		b, err := os.ReadFile(filepath.Join("testdata", name, "cases.yaml"))
		if err != nil {
			t.Errorf("testdata/%s: %v", name, err)
			continue
		}
		var cases []testCase
		if err := yaml.Unmarshal(b, &cases); err != nil {
			t.Errorf("testdata/%s/cases.yaml: %v", name, err)
			continue
		}
		var pos, neg int
		for _, c := range cases {
			if c.MatchAt > 0 || (c.Match != nil && *c.Match) {
				pos++
			} else {
				neg++
			}
			t.Run(name+"/"+strings.TrimSuffix(c.File, path.Ext(c.File)), func(t *testing.T) {
				runCase(t, rules, r, filepath.Join("testdata", name, c.File), c)
			})
		}
		if pos == 0 || neg == 0 {
			t.Errorf("testdata/%s: needs at least one matching and one near-miss case, has %d and %d", name, pos, neg)
		}
		tested[name] = true
	}
	for s := range byStem {
		if !tested[s] {
			t.Errorf("rules/%s.yml has no test events in testdata/%s", s, s)
		}
	}
}

func runCase(t *testing.T, rules []*rule.Rule, r *rule.Rule, file string, c testCase) {
	if c.Note != "" {
		t.Log(c.Note)
	}
	events := readEvents(t, file)
	if len(events) == 0 {
		t.Fatalf("%s: no events", file)
	}
	if c.MatchAt > len(events) {
		t.Fatalf("%s: match_at %d but only %d events", file, c.MatchAt, len(events))
	}
	// A fresh engine per case, so that the windows of stats rules start empty.
	e := compile(t, rules)
	want := 0 // the 1-based event the rule must match on; 0 for none
	switch {
	case c.MatchAt > 0:
		want = c.MatchAt
	case c.Match != nil && *c.Match:
		if len(events) != 1 {
			t.Fatalf("%s: match: true is for single events; use match_at for sequences", file)
		}
		want = 1
	}
	for i, ev := range events {
		matches, err := e.Match(ev)
		if err != nil {
			t.Fatalf("%s event %d: %v", file, i+1, err)
		}
		var mine *engine.Match
		var others []string
		for j := range matches {
			if matches[j].Rule == r {
				mine = &matches[j]
			} else {
				others = append(others, stem(matches[j].Rule))
			}
		}
		if (mine != nil) != (i+1 == want) {
			t.Errorf("%s event %d: rule matched = %v, want %v", file, i+1, mine != nil, i+1 == want)
		}
		if mine != nil {
			checkRows(t, r, *mine, c.RiskObject)
		}
		if len(events) == 1 {
			slices.Sort(others)
			also := slices.Clone(c.Also)
			slices.Sort(also)
			if !slices.Equal(others, also) {
				t.Errorf("%s: other rules matched %v, want %v", file, others, also)
			}
		}
	}
}

// checkRows checks that a match carries what its risk events need: the risk object, every field the message names.
func checkRows(t *testing.T, r *rule.Rule, m engine.Match, riskObject string) {
	t.Helper()
	if len(m.Rows) == 0 {
		t.Fatalf("match without rows")
	}
	for _, row := range m.Rows {
		for _, o := range r.Risk.Objects {
			if vals := row.Values(o.Field); riskObject != "" && !slices.Contains(vals, riskObject) {
				t.Errorf("risk object %s = %q, want %q", o.Field, vals, riskObject)
			}
		}
		for _, o := range r.Risk.Threats {
			if len(row.Values(o.Field)) == 0 {
				t.Errorf("threat object field %s is empty", o.Field)
			}
		}
		for _, f := range messageTokens(r.Risk.Message) {
			if len(row.Values(f)) == 0 {
				t.Errorf("message token $%s$ has no value in the row %v", f, row.Fields)
			}
		}
	}
}

func messageTokens(msg string) []string {
	var out []string
	parts := strings.Split(msg, "$")
	for i := 1; i < len(parts)-1; i += 2 {
		if p := parts[i]; p != "" && !strings.ContainsAny(p, " \t") {
			out = append(out, p)
		}
	}
	return out
}
