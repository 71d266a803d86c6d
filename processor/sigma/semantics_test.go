package sigma

import (
	"fmt"
	"strings"
	"testing"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// hostPathPod is a pod creation whose keys hold every kind of value: an object (hostPath), an empty object
// (emptyDir), null (securityContext), an empty array (args, tolerations).
const hostPathPod = `{"kind":"Event","verb":"create","user":{"username":"alice"},"sourceIPs":["10.0.0.1"],
"objectRef":{"resource":"pods","namespace":"default"},
"requestObject":{"kind":"Pod","spec":{"volumes":[{"name":"root","hostPath":{"path":"/"}},{"name":"tmp","emptyDir":{}}],
"containers":[{"image":"nginx","securityContext":null,"args":[]}],"tolerations":[]}}}`

// TestSigmaSemantics pins where Sigma's semantics (the specification, pySigma) decide: exists and null, all with
// expanding modifiers, quantifiers on a list identifier, patterns and underscore identifiers.
func TestSigmaSemantics(t *testing.T) {
	tests := []struct {
		name, detection string
		event           string // "" for testEvent
		want            bool
	}{
		// exists is the presence of the key, "be it empty or null".
		{"exists on an object", "  sel: {requestObject.spec.volumes.hostPath|exists: true}\n  condition: sel", hostPathPod, true},
		{"exists false on an object", "  sel: {requestObject.spec.volumes.hostPath|exists: false}\n  condition: sel", hostPathPod, false},
		{"exists on an empty object", "  sel: {requestObject.spec.volumes.emptyDir|exists: true}\n  condition: sel", hostPathPod, true},
		{"exists on an empty array", "  sel: {requestObject.spec.tolerations|exists: true}\n  condition: sel", hostPathPod, true},
		{"exists on null", "  sel: {requestObject.spec.containers.securityContext|exists: true}\n  condition: sel", hostPathPod, true},
		{"exists on a value", "  sel: {requestObject.spec.volumes.name|exists: true}\n  condition: sel", hostPathPod, true},
		{"exists on an absent key", "  sel: {requestObject.spec.hostPID|exists: true}\n  condition: sel", hostPathPod, false},
		{"exists false on an absent key", "  sel: {requestObject.spec.hostPID|exists: false}\n  condition: sel", hostPathPod, true},
		// null is "absent or null".
		{"null on an object", "  sel: {requestObject.spec.volumes.hostPath: null}\n  condition: sel", hostPathPod, false},
		{"null on an empty array", "  sel: {requestObject.spec.tolerations: null}\n  condition: sel", hostPathPod, false},
		{"null on null", "  sel: {requestObject.spec.containers.securityContext: null}\n  condition: sel", hostPathPod, true},
		{"null on an absent key", "  sel: {requestObject.spec.hostPID: null}\n  condition: sel", hostPathPod, true},
		{"null in a value list", "  sel: {requestObject.spec.volumes.hostPath: [null, x]}\n  condition: sel", hostPathPod, false},
		// all ANDs the values written; the variants one value expands into are ORed.
		{"windash|contains|all", "  sel: {requestURI|windash|contains|all: ['-c', '/exec']}\n  condition: sel", "", true},
		{"windash|contains|all, one value missing", "  sel: {requestURI|windash|contains|all: ['-c', '-nothing']}\n  condition: sel", "", false},
		{"windash|contains|all, one value", "  sel: {requestObject.cmd|windash|contains|all: ' -verbose '}\n  condition: sel", "", true},
		{"base64offset|contains|all", "  sel: {requestObject.data.payload|base64offset|contains|all: [evil.example, 'curl -s']}\n  condition: sel", "", true},
		{"base64offset|contains|all, one value missing", "  sel: {requestObject.data.payload|base64offset|contains|all: [evil.example, wget]}\n  condition: sel", "", false},
		// A list identifier is ORed whatever the quantifier.
		{"all of a list identifier", "  sel:\n    - {verb: create}\n    - {verb: delete}\n  condition: all of sel", "", true},
		{"1 of a list identifier", "  sel:\n    - {verb: create}\n    - {verb: delete}\n  condition: 1 of sel", "", true},
		{"all of a list identifier, none matching", "  sel:\n    - {verb: get}\n    - {verb: delete}\n  condition: all of sel", "", false},
		{"all of a pattern: lists ORed, identifiers ANDed", "  sel_a:\n    - {verb: get}\n    - {verb: create}\n  sel_b: {objectRef.resource: pods}\n  condition: all of sel_*", "", true},
		// Patterns, like them, leave out identifiers starting with _.
		{"all of a pattern leaves out _ identifiers", "  sel: {verb: create}\n  _sel: {verb: get}\n  condition: all of *sel", "", true},
		{"1 of a pattern leaves out _ identifiers", "  sel: {verb: get}\n  _sel: {verb: create}\n  condition: 1 of *sel", "", false},
		{"a _ identifier named on its own counts", "  sel: {verb: create}\n  _sel: {verb: create}\n  condition: sel and _sel", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := tt.event
			if body == "" {
				body = testEvent
			}
			if got := matchesOn(t, sigmaRule(tt.detection), body); got != tt.want {
				t.Errorf("matched %v, want %v", got, tt.want)
			}
		})
	}
}

// TestExistsModel: exists and null compile to the rule model's presence (AnyValue), which SPL and Elastic do not use.
func TestExistsModel(t *testing.T) {
	f := rule.Field{Name: "a.b", AnyArray: true}
	for _, tt := range []struct {
		detection string
		want      rule.Expr
	}{
		{"  sel: {a.b|exists: true}\n  condition: sel", rule.Exists{Field: f, AnyValue: true}},
		{"  sel: {a.b|exists: false}\n  condition: sel", rule.Not{X: rule.Exists{Field: f, AnyValue: true}}},
		{"  sel: {a.b: null}\n  condition: sel", rule.Not{X: rule.Exists{Field: f, AnyValue: true, NotNull: true}}},
		{"  sel: {a.b: ~}\n  condition: sel", rule.Not{X: rule.Exists{Field: f, AnyValue: true, NotNull: true}}},
	} {
		r, err := Parse("t.yml", []byte(sigmaRule(tt.detection)))
		if err != nil {
			t.Fatal(err)
		}
		if r.Filter != tt.want {
			t.Errorf("%q: filter %#v, want %#v", tt.detection, r.Filter, tt.want)
		}
	}
}

func TestDuplicateKeys(t *testing.T) {
	tests := []struct {
		name, doc string
		line, col int
		reason    string
	}{
		{"field in a search identifier", sigmaRule("  sel:\n    verb: create\n    verb: get\n  condition: sel"), 8, 5, `duplicate key "verb" (first at line 7, column 5)`},
		{"field in a flow mapping", sigmaRule("  sel: {verb: create, verb: get}\n  condition: sel"), 6, 23, `duplicate key "verb" (first at line 6, column 9)`},
		{"field in a list element", sigmaRule("  sel:\n    - {verb: create}\n    - {verb: get, user.username: a, verb: x}\n  condition: sel"), 8, 37, `duplicate key "verb"`},
		{"search identifier", sigmaRule("  sel: {verb: create}\n  sel: {verb: get}\n  condition: sel"), 7, 3, `duplicate key "sel" (first at line 6, column 3)`},
		{"condition", sigmaRule("  sel: {verb: create}\n  condition: sel\n  condition: not sel"), 8, 3, `duplicate key "condition"`},
		{"top-level key", sigmaRule("  sel: {verb: create}\n  condition: sel") + "\nlevel: low\n", 8, 1, `duplicate key "level" (first at line 3, column 1)`},
		{"title", "title: A\ntitle: B\nlogsource: {product: kubernetes, service: audit}\ndetection: {sel: {verb: get}, condition: sel}\n", 2, 1, `duplicate key "title"`},
		{"quoted and plain spellings", sigmaRule("  sel:\n    verb: create\n    'verb': get\n  condition: sel"), 8, 5, `duplicate key "verb"`},
		{"first in document order", sigmaRule("  sel: {a: 1, a: 2}\n  condition: sel") + "\nlevel: low\n", 6, 15, `duplicate key "a" (first at line 6, column 9)`},
		{"in logsource", "title: T\nlogsource: {product: kubernetes, service: audit, product: windows}\ndetection: {sel: {verb: get}, condition: sel}\n", 2, 50, `duplicate key "product"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantParseError(t, tt.doc, tt.line, tt.col, tt.reason) })
	}
	// The same key in different mappings, and a key repeated through an alias, are not duplicates.
	ok := sigmaRule("  a: &x {verb: create}\n  b: {verb: create, objectRef.resource: pods}\n  c: *x\n  condition: a and b and c")
	if !matchesOn(t, ok, testEvent) {
		t.Error("keys repeated across mappings should load and match")
	}
}

func TestPatternOfUnderscoresOnly(t *testing.T) {
	wantParseError(t, sigmaRule("  sel: {verb: get}\n  _f: {verb: get}\n  condition: sel and not 1 of _*"), 8, 31, `"_*" matches no search identifier`)
}

func TestTacticTagSpellings(t *testing.T) {
	doc := strings.Replace(sigmaRule("  sel: {verb: get}\n  condition: sel"), "level: high",
		"level: high\ntags: [attack.privilege_escalation, attack.Defense_Evasion, attack.command_and_control, attack.initial-access, attack.t1611, privilege_escalation]", 1)
	r, err := Parse("t.yml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(r.MitreTactics, ","); got != "TA0004,TA0005,TA0011,TA0001" {
		t.Errorf("tactics %q, want TA0004,TA0005,TA0011,TA0001", got)
	}
	if got := strings.Join(r.MitreTechniques, ","); got != "T1611" {
		t.Errorf("techniques %q", got)
	}
}

// A small file must not expand into a million comparisons through YAML aliases: one anchored list of windash values,
// referenced from many search items, multiplies (here 100 items x 60 values x 125 variants, 750,000 comparisons, from
// a 5 KB file). The detection's comparisons are bounded, and the error names the field where the bound was passed.
func TestExpansionBound(t *testing.T) {
	item := "    - requestObject.cmd|windash|contains: *vals\n"
	var b strings.Builder
	b.WriteString("  sel:\n    - requestObject.cmd|windash|contains: &vals\n")
	for i := 0; i < 60; i++ {
		fmt.Fprintf(&b, "        - ' -a%d -b -c'\n", i) // three flags: 5*5*5 variants each, 7,500 for the list
	}
	b.WriteString(strings.Repeat(item, 99))
	b.WriteString("  condition: sel\n")
	doc := sigmaRule(b.String())
	if len(doc) > 8000 {
		t.Fatalf("the test file is %d bytes: it should be small", len(doc))
	}
	// The second item (line 68) passes 10,000.
	wantParseError(t, doc, 68, 7, "the detection expands into more than 10000 comparisons")

	// The first item alone is under the bound and loads.
	one := strings.Replace(doc, strings.Repeat(item, 99), "", 1)
	if _, err := Parse("t.yml", []byte(one)); err != nil {
		t.Errorf("7,500 comparisons: %v", err)
	}

	// The engine expands every reference the condition makes: naming that search twice is 15,000 comparisons, in
	// one condition or across a list of them.
	for _, cond := range []string{"  condition: sel or not sel\n", "  condition:\n    - sel\n    - sel\n"} {
		if _, err := Parse("t.yml", []byte(strings.Replace(one, "  condition: sel\n", cond, 1))); err == nil ||
			!strings.Contains(err.Error(), "the condition expands into more than 10000 comparisons") {
			t.Errorf("%q: err = %v", cond, err)
		}
	}
}

// TestPySigmaValueForms: values and modifiers pySigma accepts, read as it reads them. A comparison's number is a
// YAML 1.1 integer as every other unquoted value is (0620 is octal 400, 0x200 is 512); a CIDR value may be a single
// address (Python's ip_network makes it a /32 or /128); the regular expression flags have long names
// (pySigma's modifier table: ignorecase, multiline, dotall); exists takes YAML 1.1 booleans.
func TestPySigmaValueForms(t *testing.T) {
	const multiline = `{"kind":"Event","verb":"create","user":{"username":"alice"},"sourceIPs":["fd00::1"],"requestObject":{"data":{"script":"#!/bin/sh\ncurl evil"}}}`
	for _, tt := range []struct {
		name, detection, event string
		want                   bool
	}{
		{"gt an octal integer", "  sel: {responseStatus.code|gt: 0620}\n  condition: sel", "", true},
		{"lte an octal integer", "  sel: {responseStatus.code|lte: 0620}\n  condition: sel", "", false},
		{"lt a hex integer", "  sel: {responseStatus.code|lt: 0x200}\n  condition: sel", "", true},
		{"gte an underscored integer", "  sel: {responseStatus.code|gte: 4_03}\n  condition: sel", "", true},
		{"cidr of one IPv4 address", "  sel: {sourceIPs|cidr: 192.168.0.9}\n  condition: sel", "", true},
		{"cidr of another IPv4 address", "  sel: {sourceIPs|cidr: 192.168.0.10}\n  condition: sel", "", false},
		{"cidr of one IPv6 address", "  sel: {sourceIPs|cidr: 'FD00::1'}\n  condition: sel", multiline, true},
		{"cidr of another IPv6 address", "  sel: {sourceIPs|cidr: 'fd00::2'}\n  condition: sel", multiline, false},
		{"re|ignorecase", "  sel: {user.username|re|ignorecase: '^ALICE$'}\n  condition: sel", "", true},
		{"re|multiline", "  sel: {requestObject.data.script|re|multiline: '^curl'}\n  condition: sel", multiline, true},
		{"re without multiline", "  sel: {requestObject.data.script|re: '^curl'}\n  condition: sel", multiline, false},
		{"re|dotall", "  sel: {requestObject.data.script|re|dotall: 'sh.curl'}\n  condition: sel", multiline, true},
		{"re without dotall", "  sel: {requestObject.data.script|re: 'sh.curl'}\n  condition: sel", multiline, false},
		{"exists: yes", "  sel: {objectRef.subresource|exists: yes}\n  condition: sel", "", true},
		{"exists: off", "  sel: {objectRef.subresource|exists: off}\n  condition: sel", "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			body := tt.event
			if body == "" {
				body = testEvent
			}
			if got := matchesOn(t, sigmaRule(tt.detection), body); got != tt.want {
				t.Errorf("matched %v, want %v", got, tt.want)
			}
		})
	}
	// Not numbers: pySigma's comparison modifiers take a number.
	for _, v := range []string{"Inf", "NaN", "-infinity"} {
		if _, err := Parse("t.yml", []byte(sigmaRule("  sel: {responseStatus.code|gt: "+v+"}\n  condition: sel"))); err == nil {
			t.Errorf("gt: %s loaded", v)
		}
	}
}
