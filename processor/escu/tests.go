package escu

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/auditdetect/auditdetect/processor/internal/yamlfile"
	"github.com/auditdetect/auditdetect/processor/rule"
)

// Tests in a detection file, kept on the rule for package ruletest to run:
//
//   - ESCU `tests:` (contentctl): each test names attack data files by URL (`attack_data: [{data: URL}]`) and
//     expects the detection to return at least one result over them. A local path may stand in place of the URL.
//     This section belongs to Splunk's format, so it is read leniently: entries that do not have the expected shape
//     are left out rather than failing the detection.
//   - `auditdetect_tests:` (this project): a list of test cases with inline events or event files and the expected
//     result (the schema of testCase below, documented in docs/operations.md). It is read strictly: an unknown key
//     or a malformed event fails the rule with its line, as any other error in the file does.

// parseTests reads both test sections of a detection's top-level mapping.
func parseTests(file, ruleName string, root *yaml.Node) ([]rule.Test, error) {
	tests := escuTests(value(root, "tests"))
	if n := value(root, "auditdetect_tests"); n != nil {
		own, err := decodeCases(file, ruleName, n)
		if err != nil {
			return nil, err
		}
		tests = append(tests, own...)
	}
	return tests, nil
}

// escuTests maps contentctl's tests to rule tests: every attack data file together must make the detection fire.
func escuTests(n *yaml.Node) []rule.Test {
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	var out []rule.Test
	for i, item := range n.Content {
		var t struct {
			Name       string `yaml:"name"`
			ManualTest string `yaml:"manual_test"`
			AttackData []struct {
				Data string `yaml:"data"`
			} `yaml:"attack_data"`
		}
		if item.Kind != yaml.MappingNode || item.Decode(&t) != nil {
			continue
		}
		rt := rule.Test{Name: strings.TrimSpace(t.Name), Line: item.Line, Match: true}
		if rt.Name == "" {
			rt.Name = fmt.Sprintf("tests[%d]", i)
		}
		for _, d := range t.AttackData {
			if d := strings.TrimSpace(d.Data); d != "" {
				rt.Data = append(rt.Data, d)
			}
		}
		if t.ManualTest != "" {
			rt.Skip = "manual test: " + strings.TrimSpace(t.ManualTest)
		}
		out = append(out, rt)
	}
	return out
}

// ParseTestCases reads a YAML file that holds a list of test cases in the `auditdetect_tests:` schema, such as the
// built-in pack's testdata/<detection>/cases.yaml. Paths in `file:` stay as written, relative to that file.
func ParseTestCases(file string, data []byte) ([]rule.Test, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, yamlfile.Error(file, "", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, nil // an empty file holds no cases
	}
	return decodeCases(file, "", doc.Content[0])
}

// testCase is one entry of `auditdetect_tests:`.
type testCase struct {
	Name string `yaml:"name"`
	// File is one event file (or a list of them), relative to the file that holds the case.
	File stringList `yaml:"file"`
	// Events are inline events: YAML mappings, or strings holding a JSON object.
	Events []yaml.Node `yaml:"events"`
	// Match is required unless MatchAt is given.
	Match      *bool                   `yaml:"match"`
	MatchAt    intList                 `yaml:"match_at"`
	RiskObject string                  `yaml:"risk_object"`
	GeoIP      map[string]testLocation `yaml:"geoip"`
	Note       string                  `yaml:"note"`
	// Also lists the other rules of a pack that match the same event; the built-in pack's own Go test checks it
	// (it runs the whole pack), a runner that tests rules one at a time does not.
	Also []string `yaml:"also"`
}

type testLocation struct {
	City    string  `yaml:"city"`
	Country string  `yaml:"country"`
	Region  string  `yaml:"region"`
	Lat     float64 `yaml:"lat"`
	Lon     float64 `yaml:"lon"`
}

// intList accepts a YAML sequence of integers or a single integer.
type intList []int

func (l *intList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		var i int
		if err := n.Decode(&i); err != nil {
			return err
		}
		*l = intList{i}
		return nil
	}
	var s []int
	if err := n.Decode(&s); err != nil {
		return err
	}
	*l = s
	return nil
}

func decodeCases(file, ruleName string, n *yaml.Node) ([]rule.Test, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, errorAt(file, n, ruleName, "auditdetect_tests must be a list of test cases")
	}
	var out []rule.Test
	for i, item := range n.Content {
		t, err := decodeCase(file, ruleName, i, item)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

func decodeCase(file, ruleName string, i int, n *yaml.Node) (rule.Test, error) {
	fail := func(at *yaml.Node, format string, args ...any) (rule.Test, error) {
		return rule.Test{}, errorAt(file, at, ruleName, fmt.Sprintf("test case %d: ", i+1)+fmt.Sprintf(format, args...))
	}
	if n.Kind != yaml.MappingNode {
		return fail(n, "must be a mapping")
	}
	// Strict, so that a misspelt key (match_At) is an error rather than a test that asserts nothing.
	for k := 0; k+1 < len(n.Content); k += 2 {
		if key := n.Content[k]; !caseKeys[key.Value] {
			return fail(key, "unknown key %q", key.Value)
		}
	}
	var c testCase
	if err := n.Decode(&c); err != nil {
		return fail(n, "%s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	t := rule.Test{
		Name:       strings.TrimSpace(c.Name),
		Line:       n.Line,
		Data:       c.File,
		MatchAt:    c.MatchAt,
		RiskObject: c.RiskObject,
		Note:       strings.TrimSpace(c.Note),
	}
	switch {
	case len(c.MatchAt) > 0:
		if c.Match != nil && !*c.Match {
			return fail(n, "match: false contradicts match_at")
		}
		for _, at := range c.MatchAt {
			if at < 1 {
				return fail(n, "match_at %d: events are numbered from 1", at)
			}
		}
		t.Match = true
	case c.Match != nil:
		t.Match = *c.Match
	default:
		return fail(n, "say what the rule must do: match: true, match: false, or match_at: [N, ...]")
	}
	if len(c.File) == 0 && len(c.Events) == 0 {
		return fail(n, "no events: give file or events")
	}
	for j := range c.Events {
		ev, err := eventJSON(&c.Events[j])
		if err != nil {
			return fail(&c.Events[j], "event %d: %v", j+1, err)
		}
		t.Events = append(t.Events, ev)
	}
	if t.Name == "" {
		t.Name = strings.Join(c.File, ",")
		if t.Name == "" {
			t.Name = fmt.Sprintf("case %d", i+1)
		}
	}
	for ip, loc := range c.GeoIP {
		if _, err := netip.ParseAddr(ip); err != nil {
			return fail(n, "geoip: %q is not an IP address", ip)
		}
		if t.GeoIP == nil {
			t.GeoIP = map[string]rule.TestLocation{}
		}
		t.GeoIP[ip] = rule.TestLocation(loc)
	}
	return t, nil
}

// caseKeys are the keys of testCase.
var caseKeys = map[string]bool{
	"name": true, "file": true, "events": true, "match": true, "match_at": true, "risk_object": true,
	"geoip": true, "note": true, "also": true,
}

// eventJSON turns an inline event into JSON: a YAML mapping is converted; a string must hold a JSON object.
func eventJSON(n *yaml.Node) ([]byte, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		b := []byte(strings.TrimSpace(n.Value))
		var obj map[string]any
		if err := json.Unmarshal(b, &obj); err != nil {
			return nil, fmt.Errorf("not a JSON object: %v", err)
		}
		return b, nil
	case yaml.MappingNode:
		var obj map[string]any
		if err := n.Decode(&obj); err != nil {
			return nil, err
		}
		return json.Marshal(obj)
	}
	return nil, fmt.Errorf("an event is a mapping or a string holding a JSON object")
}
