package compat

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor/processortest"
	"gopkg.in/yaml.v3"

	"github.com/auditdetect/auditdetect/processor/auditdetectprocessor"
	"github.com/auditdetect/auditdetect/processor/engine"
	"github.com/auditdetect/auditdetect/processor/internal/corpus"
	"github.com/auditdetect/auditdetect/processor/loader"
	"github.com/auditdetect/auditdetect/processor/rba"
	"github.com/auditdetect/auditdetect/processor/rule"
)

var (
	tomlType    = regexp.MustCompile(`(?m)^type = "(\w+)"`)
	eqlSequence = regexp.MustCompile(`(?m)^query = '''\s*sequence\b`)
)

// elasticKinds reads each corpus file's rule type from its text (independently of the parser): query, new_terms,
// eql, eql-sequence or esql.
func elasticKinds(t *testing.T, dir string) map[string]string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "elastic", "*.toml"))
	kinds := map[string]string{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m := tomlType.FindSubmatch(data)
		if m == nil {
			t.Fatalf("%s: no type", f)
		}
		kind := string(m[1])
		if kind == "eql" && eqlSequence.Match(data) {
			kind = "eql-sequence"
		}
		kinds[filepath.Base(f)] = kind
	}
	return kinds
}

// esqlRefused are the corpus ES|QL rules that do not load, and why: what the rest of the corpus's ES|QL rules do
// (filters, EVAL, GROK, STATS with a count that only rises) runs per event.
var esqlRefused = map[string]string{
	"credential_access_azure_arc_proxy_secret_configmap_access.toml": "NOW() is the time a run of the query starts",
}

func TestElasticCorpusLoadsWhatRunsPerEvent(t *testing.T) {
	dir := corpusDir(t)
	kinds := elasticKinds(t, dir)
	byFile, res := loadDir(t, filepath.Join(dir, "elastic"))

	counts := map[string]int{}
	runs := func(file, kind string) bool {
		return kind == "query" || kind == "new_terms" || kind == "eql" || kind == "esql" && esqlRefused[file] == ""
	}
	for file, kind := range kinds {
		counts[kind]++
		if _, loaded := byFile[file]; loaded != runs(file, kind) {
			t.Errorf("%s (%s): loaded %v, want %v", file, kind, loaded, runs(file, kind))
		}
	}
	if want := counts["query"] + counts["new_terms"] + counts["eql"] + counts["esql"] - len(esqlRefused); len(res.Rules) != want || len(res.Rules) != 36 {
		t.Errorf("loaded %d rules, want %d; kinds %v", len(res.Rules), want, counts)
	}
	// Every file not loaded is reported, naming why.
	if len(res.Skipped) != len(esqlRefused)+counts["eql-sequence"] || len(res.Skipped) != 2 {
		t.Errorf("%d skipped, kinds %v", len(res.Skipped), counts)
	}
	for _, err := range res.Skipped {
		var e *rule.Error
		if !asRuleError(err, &e) {
			t.Fatalf("skipped error %T", err)
		}
		file := filepath.Base(e.File)
		want := esqlRefused[file]
		if kinds[file] == "eql-sequence" {
			// It runs as a sequence, but compares user.groups, which the integration maps as text: Elasticsearch's
			// EQL refuses that (TestElasticSequenceRule loads it with the field mapped as a keyword).
			want = "kubernetes.audit.user.groups is a text field"
		}
		if want == "" || !strings.Contains(e.Reason, want) {
			t.Errorf("%s: %q, want it to say %q", e.File, e.Reason, want)
		}
	}
	// Without on_rule_error: skip, the files the loader refuses fail the load: nothing is dropped silently (a rule the
	// engine refuses fails the processor's config validation instead, as TestIPLocationNeedsDatabase shows).
	_, err := loader.Load(loader.Options{Paths: []string{filepath.Join(dir, "elastic")}})
	if err == nil {
		t.Fatal("loading the corpus with on_rule_error: fail succeeded")
	}
	for file, kind := range kinds {
		refusedByLoader := kind == "eql-sequence" || kind == "esql" && esqlRefused[file] != ""
		if reported := strings.Contains(err.Error(), file); reported != refusedByLoader {
			t.Errorf("%s (%s): reported %v", file, kind, reported)
		}
	}
}

// TestElasticRuleForOtherDataIsReported loads a corpus rule whose index is changed to another integration's: it uses
// only shared ECS fields (source.ip, user.name...) and would run on audit events, so the loader reports it, as it
// reports the rule types it cannot run.
func TestElasticRuleForOtherDataIsReported(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(corpusDir(t), "elastic", "credential_access_get_secrets_access.toml"))
	if err != nil {
		t.Fatal(err)
	}
	const index = `index = ["logs-kubernetes.audit_logs-*"]`
	if !strings.Contains(string(data), index) {
		t.Fatalf("the corpus rule no longer says %s", index)
	}
	dir := t.TempDir()
	for name, idx := range map[string]string{
		"kubernetes.toml": `index = ["logs-*"]`,
		"cloudtrail.toml": `index = ["logs-aws.cloudtrail-*", "filebeat-*"]`,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(strings.Replace(string(data), index, idx, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	byFile, res := loadDir(t, dir)
	if _, ok := byFile["kubernetes.toml"]; !ok || len(res.Rules) != 1 {
		t.Errorf("loaded %d rules (%v), want only the one whose index holds audit logs", len(res.Rules), byFile)
	}
	var e *rule.Error
	if len(res.Skipped) != 1 || !asRuleError(res.Skipped[0], &e) || filepath.Base(e.File) != "cloudtrail.toml" ||
		!strings.Contains(e.Reason, "cannot hold Kubernetes audit logs") {
		t.Errorf("skipped %v", res.Skipped)
	}
	if _, err := loader.Load(loader.Options{Paths: []string{dir}}); err == nil || !strings.Contains(err.Error(), "cloudtrail.toml") {
		t.Errorf("on_rule_error: fail loaded the rule for other data: %v", err)
	}
}

func asRuleError(err error, target **rule.Error) bool {
	e, ok := err.(*rule.Error)
	*target = e
	return ok
}

func TestElasticOnFalcoEvents(t *testing.T) {
	dir := corpusDir(t)
	_, res := loadDir(t, filepath.Join(dir, "elastic"))
	got := falcoMatches(t, dir, res.Rules)
	// The NodePort, host-network and privileged-pod rules match exactly the events whose requestObject.spec carries
	// those settings (the privileged container of the second file is its second container). The only other match
	// is a new_terms rule: the two secret creations are the first requests seen with their (decision, user, client)
	// combinations; the other events have no userAgent, which that rule requires.
	checkTruthTable(t, got, map[string][]string{
		"create_nginx_service_nodeport.json":             {"Kubernetes Exposed Service Created With Type NodePort"},
		"create_nginx_pod_hostnetwork.json":              {"Kubernetes Pod Created With HostNetwork"},
		"create_nginx_pod_privileged.json":               {"Kubernetes Privileged Pod Created"},
		"create_nginx_pod_privileged_2nd_container.json": {"Kubernetes Privileged Pod Created"},
		"create_kube_system_secret.json":                 {"Kubernetes Unusual Decision by User Agent"},
		"create_secret.json":                             {"Kubernetes Unusual Decision by User Agent"},
	})
}

func TestElasticHandWrittenEvents(t *testing.T) {
	byFile, _ := loadDir(t, filepath.Join(corpusDir(t), "elastic"))
	runHandCases(t, "elastic_cases.yaml", byFile)
}

func TestElasticRiskMapping(t *testing.T) {
	byFile, _ := loadDir(t, filepath.Join(corpusDir(t), "elastic"))
	for _, tt := range []struct {
		file                   string
		score                  int
		severity               string
		techniques, tactics    string
		newTerms               bool
		newTermsFields         string
		newTermsHistoryInHours int
	}{
		{"persistence_exposed_service_created_with_type_nodeport.toml", 47, "medium", "T1133", "TA0003 TA0001", false, "", 0},
		{"credential_access_get_secrets_access.toml", 21, "low", "T1552 T1552.007", "TA0006", true, "sourceIPs user.username userAgent", 7 * 24},
		{"execution_unusual_request_response_by_user_agent.toml", 21, "low", "T1078", "TA0002 TA0005 TA0001", true,
			"annotations.authorization.k8s.io/decision user.username userAgent", 10 * 24},
	} {
		r := byFile[tt.file]
		if r == nil {
			t.Fatalf("%s not loaded", tt.file)
		}
		if got := r.Risk.Objects; len(got) != 1 || got[0] != (rule.RiskObject{Field: "user.username", Type: "user", Score: tt.score}) {
			t.Errorf("%s: risk objects %+v", tt.file, got)
		}
		if got := strings.Join(r.MitreTechniques, " "); got != tt.techniques {
			t.Errorf("%s: techniques %q, want %q", tt.file, got, tt.techniques)
		}
		if got := strings.Join(r.MitreTactics, " "); got != tt.tactics {
			t.Errorf("%s: tactics %q, want %q", tt.file, got, tt.tactics)
		}
		var nt *rule.NewTerms
		for _, st := range r.Pipeline {
			if s, ok := st.(rule.NewTerms); ok {
				nt = &s
			}
			if s, ok := st.(rule.FillNull); ok && (s.Value != tt.severity || s.Fields[0] != "severity") {
				t.Errorf("%s: severity fill %+v, want %s", tt.file, s, tt.severity)
			}
		}
		if (nt != nil) != tt.newTerms {
			t.Fatalf("%s: new_terms stage %+v", tt.file, nt)
		}
		if nt != nil {
			var names []string
			for _, f := range nt.Fields {
				names = append(names, f.Name)
			}
			if strings.Join(names, " ") != tt.newTermsFields || nt.History.Hours() != float64(tt.newTermsHistoryInHours) {
				t.Errorf("%s: new_terms %v over %s", tt.file, names, nt.History)
			}
		}
	}
}

// mixedConfig is the collector configuration of docs/sigma-elastic.md: one directory holding an ESCU detection, a
// Sigma rule and an Elastic rule, and one override.
const mixedConfig = `
rules: [RULES_DIR]
on_rule_error: fail
rule_overrides:
  # Sigma rules name no risk object; this one is about the namespace a pod lands in.
  "Creation Of Pod In System Namespace":
    risk_objects: [{field: objectRef.namespace, type: system}]
`

// TestESCUSigmaElasticTogether runs one ESCU, one Sigma and one Elastic rule, side by side in one directory, through
// the real processor, and checks the risk record each writes. Run with -v to print them (docs/sigma-elastic.md).
func TestESCUSigmaElasticTogether(t *testing.T) {
	dir := corpusDir(t)
	rules := t.TempDir()
	for _, f := range []string{
		filepath.Join(dir, "escu", "v5", "kubernetes_node_port_creation.yml"),
		filepath.Join(dir, "sigma", "kubernetes_audit_pod_in_system_namespace.yml"),
		filepath.Join(dir, "elastic", "persistence_exposed_service_created_with_type_nodeport.toml"),
	} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(rules, filepath.Base(f)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var raw map[string]any
	if err := yaml.Unmarshal([]byte(strings.Replace(mixedConfig, "RULES_DIR", rules, 1)), &raw); err != nil {
		t.Fatal(err)
	}
	factory := auditdetectprocessor.NewFactory()
	cfg := factory.CreateDefaultConfig()
	if err := confmap.NewFromStringMap(raw).Unmarshal(cfg); err != nil {
		t.Fatal(err)
	}
	sink := new(consumertest.LogsSink)
	p, err := factory.CreateLogs(context.Background(), processortest.NewNopSettings(factory.Type()), cfg, sink)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = p.Shutdown(context.Background()) }()

	ld := plog.NewLogs()
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	for _, ev := range []string{"create_nginx_service_nodeport.json", "create_pod_kube_system_namespace.json"} {
		body, err := os.ReadFile(filepath.Join(dir, "events", "falco", ev))
		if err != nil {
			t.Fatal(err)
		}
		lrs.AppendEmpty().Body().SetStr(string(body))
	}
	if err := p.ConsumeLogs(context.Background(), ld); err != nil {
		t.Fatal(err)
	}

	got := map[string]map[string]any{}
	for _, out := range sink.AllLogs() {
		recs := out.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
		for i := 0; i < recs.Len(); i++ {
			attrs := recs.At(i).Attributes().AsRaw()
			name, ok := attrs["search_name"].(string)
			if !ok {
				continue
			}
			got[name] = attrs
			b, _ := json.MarshalIndent(attrs, "", "  ")
			t.Logf("risk record of %q (body %q):\n%s", name, recs.At(i).Body().Str(), b)
		}
	}
	want := map[string]map[string]any{
		"ESCU - Kubernetes Node Port Creation - Rule": { // ESCU v5: the saved search ES runs it as
			"risk_object": "minikube-user", "risk_object_type": "user", "risk_score": int64(20),
			"threat_object": "192.168.99.1", "threat_object_type": "ip_address",
		},
		"Kubernetes Exposed Service Created With Type NodePort": { // Elastic
			"risk_object": "minikube-user", "risk_object_type": "user", "risk_score": int64(47),
			"threat_object": "192.168.99.1", "threat_object_type": "ip_address", "severity": "medium",
			"annotations.mitre_attack.mitre_technique_id": []any{"T1133"},
			"annotations.mitre_attack.mitre_tactic_id":    []any{"TA0003", "TA0001"},
		},
		"Creation Of Pod In System Namespace": { // Sigma, with its risk object overridden
			"risk_object": "kube-system", "risk_object_type": "system", "risk_score": int64(47),
			"threat_object": "::1", "threat_object_type": "ip_address", "severity": "medium",
			"annotations.mitre_attack.mitre_technique_id": []any{"T1036.005"},
		},
	}
	var names []string
	for name := range got {
		names = append(names, name)
	}
	sort.Strings(names)
	if len(got) != len(want) {
		t.Fatalf("risk records of %q, want one from each of the three rules", names)
	}
	for name, fields := range want {
		for k, v := range fields {
			if g, _ := json.Marshal(got[name][k]); string(g) != mustJSON(t, v) {
				t.Errorf("%s: %s = %s, want %s", name, k, g, mustJSON(t, v))
			}
		}
	}
}

// compileRunnable loads the rule files under paths, leaving out those that do not load or that the engine refuses,
// and compiles the rest into one engine.
func compileRunnable(tb testing.TB, paths ...string) *engine.Engine {
	tb.Helper()
	res, err := loader.Load(loader.Options{Paths: paths, SkipErrors: true})
	if err != nil {
		tb.Fatal(err)
	}
	rules, _ := engine.Runnable(res.Rules, engine.Options{})
	e, err := engine.Compile(rules, engine.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

// BenchmarkSigmaElasticCorpus evaluates the 15 falco events against all 12 Sigma and 34 runnable Elastic rules.
func BenchmarkSigmaElasticCorpus(b *testing.B) {
	dir := corpus.Dir(b)
	e := compileRunnable(b, filepath.Join(dir, "sigma"), filepath.Join(dir, "elastic"))
	events, _ := filepath.Glob(filepath.Join(dir, "events", "falco", "*.json"))
	var bodies [][]byte
	for _, f := range events {
		body, _ := os.ReadFile(f)
		bodies = append(bodies, body)
	}
	// The new_terms state is warm after the first pass: later passes measure the steady state.
	for _, body := range bodies {
		_, _ = e.Evaluate(body)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := e.Evaluate(bodies[i%len(bodies)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHostileExecURI: the corpus's ES|QL pod-exec rules decode, rewrite and match the command of every exec
// request; an unauthenticated client can make that request URI a megabyte long. The computing functions read values
// of up to 64 KiB (engine maxComputedInput), so the cost per event stays bounded as the URI grows (before the bound,
// about a second for a 1 MiB URI). One rule of the set decodes the command up to the bound, so 1 MiB costs what
// 64 KiB does plus reading the longer body.
func BenchmarkHostileExecURI(b *testing.B) {
	e := compileRunnable(b, filepath.Join(corpus.Dir(b), "elastic"))
	base, err := os.ReadFile(filepath.Join("..", "builtin", "testdata", "kubernetes_exec_or_attach_into_pod", "match-exec-post.json"))
	if err != nil {
		b.Fatal(err)
	}
	for _, size := range []int{0, 1 << 10, 64 << 10, 1 << 20} {
		// A command of %20-separated words, the shape the rules decode and match.
		body := base
		if size > 0 {
			padding := strings.Repeat("%20a", size/4)
			body = bytes.Replace(base, []byte("&container=api"), []byte("%20"+padding+"&container=api"), 1)
			if len(body) < size {
				b.Fatalf("padding did not apply: %d bytes", len(body))
			}
		}
		b.Run(fmt.Sprintf("padded-%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := e.Evaluate(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestElasticSequenceRule runs the corpus's EQL sequence (a role granted wide permissions, then a workload created or
// patched by the same user within 5 minutes) through the loader and the engine, with user.groups mapped as a keyword
// (an index mapped so: the integration's text mapping makes Elasticsearch refuse the rule, as the loader does).
func TestElasticSequenceRule(t *testing.T) {
	file := filepath.Join(corpusDir(t), "elastic", "privilege_escalation_sensitive_rbac_change_followed_by_workload_modification.toml")
	res, err := loader.Load(loader.Options{Paths: []string{file},
		ElasticFieldMap: map[string]string{"kubernetes.audit.user.groups": "user.groups|keyword"}})
	if err != nil {
		t.Fatal(err)
	}
	ev := func(id, user, group, verb, resource string, sec int) []byte {
		at := time.Date(2026, 3, 1, 9, 0, sec, 0, time.UTC).Format(time.RFC3339Nano)
		return []byte(fmt.Sprintf(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":%q,`+
			`"stage":"ResponseComplete","requestURI":"/apis/x","verb":%q,"user":{"username":%q,"groups":[%q]},`+
			`"sourceIPs":["10.0.0.9"],"userAgent":"kubectl/v1.31.0","objectRef":{"resource":%q,"namespace":"default","name":"x"},`+
			`"responseStatus":{"metadata":{},"code":201},"requestReceivedTimestamp":%q,"stageTimestamp":%q,`+
			`"annotations":{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":""}}`,
			id, verb, user, group, resource, at, at))
	}
	for _, tc := range []struct {
		name  string
		steps [][]byte
		want  string // the auditIDs of the sequence the last event completes
	}{
		{"role then daemonset", [][]byte{ev("r1", "mallory", "dev", "patch", "clusterroles", 0),
			ev("w1", "mallory", "dev", "create", "daemonsets", 120)}, "r1,w1"},
		{"another user's workload", [][]byte{ev("r1", "mallory", "dev", "patch", "clusterroles", 0),
			ev("w1", "alice", "dev", "create", "daemonsets", 120)}, ""},
		{"after maxspan", [][]byte{ev("r1", "mallory", "dev", "patch", "clusterroles", 0),
			ev("w1", "mallory", "dev", "create", "daemonsets", 301)}, ""},
		{"workload first", [][]byte{ev("w1", "mallory", "dev", "create", "daemonsets", 0),
			ev("r1", "mallory", "dev", "patch", "clusterroles", 60)}, ""},
		{"system:masters excluded", [][]byte{ev("r1", "mallory", "system:masters", "patch", "clusterroles", 0),
			ev("w1", "mallory", "system:masters", "create", "daemonsets", 120)}, ""},
		{"a workload update is not a step", [][]byte{ev("r1", "mallory", "dev", "patch", "roles", 0),
			ev("w1", "mallory", "dev", "update", "deployments", 120)}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fresh, err := engine.Compile(res.Rules, engine.Options{})
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			for i, body := range tc.steps {
				ms, err := fresh.Match(body)
				if err != nil {
					t.Fatal(err)
				}
				if i < len(tc.steps)-1 && len(ms) > 0 {
					t.Fatalf("event %d matched", i)
				}
				if i == len(tc.steps)-1 && len(ms) == 1 {
					row := ms[0].Rows[0]
					got = strings.Join(row.Values(rule.SequenceIDsField), ",")
					if msg := rba.Message(res.Rules[0].Risk.Message, row); !strings.Contains(msg, "mallory") || !strings.Contains(msg, "(sequence of audit events r1, w1)") {
						t.Errorf("risk message %q names neither the user nor the sequence", msg)
					}
				}
			}
			if got != tc.want {
				t.Errorf("sequence %q, want %q", got, tc.want)
			}
		})
	}
}
