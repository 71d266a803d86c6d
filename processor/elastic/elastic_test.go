package elastic

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/auditdetect/auditdetect/processor/rule"
)

func TestFieldMap(t *testing.T) {
	tests := []struct {
		name      string
		overrides map[string]string
		field     string
		want      string // kind and paths, or the error
	}{
		{"raw prefix", nil, "kubernetes.audit.objectRef.resource", "path objectRef.resource"},
		{"exact entry", nil, "user_agent.original", "path userAgent"},
		{"constant", nil, "event.dataset", "const kubernetes.audit_logs"},
		{"removed by the pipeline", nil, "kubernetes.audit.requestObject.metadata.labels.app", "absent"},
		{"the removed object itself", nil, "kubernetes.audit.responseObject.metadata", "absent"},
		{"annotation prefix dots restored", nil, "kubernetes.audit.annotations.authorization_k8s_io/decision",
			"path annotations.authorization.k8s.io/decision"},
		{"annotation name underscores tried both ways", nil, "kubernetes.audit.annotations.a_io/x_y",
			"path annotations.a.io/x_y annotations.a.io/x.y"},
		{"unmapped", nil, "host.name", `error field "host.name" is not in the Kubernetes audit event`},
		{"override wins", map[string]string{"user.name": "impersonatedUser.username"}, "user.name", "path impersonatedUser.username"},
		{"override adds", map[string]string{"orchestrator.namespace": "objectRef.namespace"}, "orchestrator.namespace", "path objectRef.namespace"},
		{"override removes", map[string]string{"user_agent.original": "-"}, "user_agent.original", "absent"},
		{"override restores metadata", map[string]string{"kubernetes.audit.requestObject.metadata.*": "requestObject.metadata.*"},
			"kubernetes.audit.requestObject.metadata.name", "path requestObject.metadata.name"},
		{"override prefix", map[string]string{"k8s.*": "*"}, "k8s.verb", "path verb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fm, err := NewFieldMap(tt.overrides)
			if err != nil {
				t.Fatal(err)
			}
			f, err := fm.resolve(tt.field)
			var got string
			switch {
			case err != nil:
				got = "error " + err.Error()
			case f.kind == absentTarget:
				got = "absent"
			case f.kind == constTarget:
				got = "const " + f.value
			default:
				got = "path " + strings.Join(f.alts, " ")
			}
			if !strings.HasPrefix(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFieldMapErrors(t *testing.T) {
	for entry, reason := range map[[2]string]string{
		{"", "x"}:                    "a key is an ECS field name",
		{"user.*.name", "x"}:         "a key is an ECS field name",
		{"user.name", ""}:            "empty audit field",
		{"user.*", "user"}:           "must map to a path ending in .*",
		{"user.*", "=x"}:             "cannot map to a constant",
		{"user.name", "a.*"}:         "only a prefix entry",
		{"event.outcome", "a|allow"}: "is not raw=ecs",
	} {
		_, err := NewFieldMap(map[string]string{entry[0]: entry[1]})
		if err == nil || !strings.Contains(err.Error(), reason) || !strings.Contains(err.Error(), "elastic_field_map") {
			t.Errorf("%q: %q: error %v, want one containing %q", entry[0], entry[1], err, reason)
		}
	}
}

func TestAnnotationKeys(t *testing.T) {
	if got := annotationKeys("a_b/" + strings.Repeat("x_", 7)); len(got) != 1 || got[0] != "a.b/"+strings.Repeat("x_", 7) {
		t.Errorf("past the limit: %q, want the key with underscores kept", got)
	}
	if got := strings.Join(annotationKeys("no_slash"), " "); got != "no_slash no.slash" {
		t.Errorf("no slash: %q", got)
	}
}

// tomlRule is a detection-rules file with the given rule table body.
func tomlRule(body string) string {
	return "[metadata]\ncreation_date = \"2026/01/01\"\n\n[rule]\nauthor = [\"test\"]\nname = \"Test Rule\"\nrule_id = \"r-1\"\n" + body
}

func TestParse(t *testing.T) {
	doc := tomlRule(`risk_score = 73
severity = "high"
type = "new_terms"
language = "kuery"
query = '''
kubernetes.audit.verb:get and
  kubernetes.audit.objectRef.resource:secrets
'''

[[rule.threat]]
framework = "MITRE ATT&CK"
[[rule.threat.technique]]
id = "T1552"
[[rule.threat.technique.subtechnique]]
id = "T1552.007"
[rule.threat.tactic]
id = "TA0006"

[[rule.threat]]
framework = "MITRE ATT&CK"
[[rule.threat.technique]]
id = "T1552"
[rule.threat.tactic]
id = "TA0007"

[rule.new_terms]
field = "new_terms_fields"
value = ["user.name", "data_stream.dataset", "source.ip"]
[[rule.new_terms.history_window_start]]
field = "history_window_start"
value = "now-14d"
`)
	r, err := Parse("x.toml", []byte(doc), nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.ID != "r-1" || r.Name != "Test Rule" || r.Origin != (rule.Origin{File: "x.toml", Line: 13, Format: "elastic"}) {
		t.Errorf("rule %q %q %+v", r.ID, r.Name, r.Origin)
	}
	if got := strings.Join(r.MitreTechniques, " ") + "|" + strings.Join(r.MitreTactics, " "); got != "T1552 T1552.007|TA0006 TA0007" {
		t.Errorf("mitre %q", got)
	}
	if r.Risk.Objects[0].Score != 73 {
		t.Errorf("score %d", r.Risk.Objects[0].Score)
	}
	nt, ok := r.Pipeline[0].(rule.NewTerms)
	if !ok {
		t.Fatalf("pipeline %+v", r.Pipeline)
	}
	// data_stream.dataset is a constant: it cannot make a combination new, so it is left out.
	if len(nt.Fields) != 2 || nt.Fields[0].Name != "user.username" || nt.Fields[1].Name != "sourceIPs" || nt.History != 14*24*time.Hour {
		t.Errorf("new terms %+v", nt)
	}
	if !strings.HasSuffix(r.Risk.Message, "(new terms: $new_terms$)") {
		t.Errorf("message %q", r.Risk.Message)
	}
}

func TestStatus(t *testing.T) {
	const body = "severity = \"low\"\ntype = \"query\"\nquery = 'kubernetes.audit.verb:get'\n"
	for _, tc := range []struct{ maturity, want string }{{"production", "production"}, {"Deprecated", "deprecated"}} {
		doc := strings.Replace(tomlRule(body), "[metadata]\n", "[metadata]\nmaturity = \""+tc.maturity+"\"\n", 1)
		r, err := Parse("x.toml", []byte(doc), nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != tc.want || r.Deprecated() != (tc.want == "deprecated") {
			t.Errorf("maturity %q: status %q, deprecated %v", tc.maturity, r.Status, r.Deprecated())
		}
	}
	if r, err := Parse("x.toml", []byte(tomlRule(body)), nil); err != nil || r.Status != "" {
		t.Errorf("no maturity: %+v, err %v", r, err)
	}
	// Information only: a maturity of another shape is ignored, and so is a metadata that is no table.
	for _, doc := range []string{
		strings.Replace(tomlRule(body), "[metadata]\n", "[metadata]\nmaturity = [\"production\"]\n", 1),
		strings.Replace(tomlRule(body), "[metadata]\ncreation_date = \"2026/01/01\"\n", "metadata = 1\n", 1),
	} {
		if r, err := Parse("x.toml", []byte(doc), nil); err != nil || r.Status != "" {
			t.Errorf("%s: status %q, err %v", doc, r.Status, err)
		}
	}
}

func TestParseScoreFromSeverity(t *testing.T) {
	for sev, want := range SeverityScores {
		r, err := Parse("x.toml", []byte(tomlRule("severity = \""+sev+"\"\ntype = \"query\"\nquery = 'kubernetes.audit.verb:get'\n")), nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.Risk.Objects[0].Score != want {
			t.Errorf("%s: score %d, want %d", sev, r.Risk.Objects[0].Score, want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, doc string
		line, col int
		reason    string
	}{
		{"esql", tomlRule("type = \"esql\"\nlanguage = \"esql\"\nquery = 'from logs-* | stats count()'\n"), 10, 24, `STATS without BY makes one row of the whole run: it has no meaning per event (load it in Elastic, or skip it with on_rule_error: skip)`},
		{"threshold", tomlRule("type = \"threshold\"\nquery = 'a:b'\n"), 4, 0, `rule type "threshold" cannot run per event`},
		{"machine learning", tomlRule("type = \"machine_learning\"\n"), 4, 0, `rule type "machine_learning" is not supported`},
		{"eql sequence", tomlRule("severity = \"low\"\ntype = \"eql\"\nlanguage = \"eql\"\nquery = '''\nsequence by user.name\n  [any where true]\n'''\n"), 12, 1, "a sequence has at least two steps"},
		{"lucene", tomlRule("severity = \"low\"\ntype = \"query\"\nlanguage = \"lucene\"\nquery = 'verb:get'\n"), 4, 0, `language "lucene" is not supported`},
		{"query error on a later line", tomlRule("severity = \"low\"\ntype = \"query\"\nquery = '''\nkubernetes.audit.verb:get and\n  free text\n'''\n"), 12, 3, "free-text search"},
		{"query error on the key's line", tomlRule("severity = \"low\"\ntype = \"query\"\nquery = \"kubernetes.audit.verb:(get\"\n"), 10, 32, "missing `)` for this `(`"},
		{"no score", tomlRule("type = \"query\"\nquery = 'kubernetes.audit.verb:get'\n"), 4, 0, "no risk_score"},
		{"score out of range", tomlRule("risk_score = 101\ntype = \"query\"\nquery = 'kubernetes.audit.verb:get'\n"), 4, 0, "outside 0-100"},
		{"filters", tomlRule("severity = \"low\"\ntype = \"query\"\nquery = 'kubernetes.audit.verb:get'\n[[rule.filters]]\nmeta = {negate = true}\n"), 4, 0, "rule.filters"},
		{"new_terms without fields", tomlRule("severity = \"low\"\ntype = \"new_terms\"\nquery = 'kubernetes.audit.verb:get'\n"), 4, 0, "without rule.new_terms fields"},
		{"history in months", tomlRule("severity = \"low\"\ntype = \"new_terms\"\nquery = 'kubernetes.audit.verb:get'\n[rule.new_terms]\nvalue = [\"user.name\"]\n[[rule.new_terms.history_window_start]]\nvalue = \"now-1M\"\n"), 4, 0, "history_window_start"},
		{"new_terms field absent", tomlRule("severity = \"low\"\ntype = \"new_terms\"\nquery = 'kubernetes.audit.verb:get'\n[rule.new_terms]\nvalue = [\"event.category\"]\n[[rule.new_terms.history_window_start]]\nvalue = \"now-1d\"\n"), 4, 0, "could never match"},
		{"invalid TOML", "[rule]\nname = \"x\nquery = 1\n", 2, 10, "invalid TOML"},
		{"score as a string", "[rule]\nname = \"x\"\nrisk_score = \"47\"\n", 3, 14, "`rule.risk_score`: a TOML string where a number is expected"},
		{"no rule table", "[metadata]\nx = 1\n", 1, 0, "no [rule] table"},
		{"no name", "[rule]\ntype = \"query\"\n", 1, 0, "missing rule.name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("x.toml", []byte(tt.doc), nil)
			var e *rule.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T %v, want *rule.Error", err, err)
			}
			if e.File != "x.toml" || e.Line != tt.line || e.Column != tt.col || !strings.Contains(e.Reason, tt.reason) {
				t.Errorf("got %d:%d %q, want %d:%d containing %q", e.Line, e.Column, e.Reason, tt.line, tt.col, tt.reason)
			}
		})
	}
}

func TestIsRule(t *testing.T) {
	for doc, want := range map[string]bool{
		tomlRule("type = \"query\"\n"):  true,
		"[rules]\nx = 1\n":              false,
		"[tool.poetry]\nname = \"x\"\n": false,
		"title: x\ndetection: {}\n":     false,
		"[rule\n":                       false,
	} {
		if got := IsRule([]byte(doc)); got != want {
			t.Errorf("IsRule(%q) = %v, want %v", doc, got, want)
		}
	}
}
