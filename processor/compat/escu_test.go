// Package compat runs the real rule and event corpus in ../shared/corpus through the real loader and engine: the
// proof that auditdetect loads detections unchanged and answers as their authors' own tools do. It holds only tests.
package compat

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/auditdetect/auditdetect/processor/engine"
	"github.com/auditdetect/auditdetect/processor/geoip"
	"github.com/auditdetect/auditdetect/processor/geoip/geoiptest"
	"github.com/auditdetect/auditdetect/processor/internal/corpus"
	"github.com/auditdetect/auditdetect/processor/loader"
	"github.com/auditdetect/auditdetect/processor/rule"
)

// corpusDir finds ../shared/corpus beside the repository, or skips the test with a message saying so (fails under CI).
func corpusDir(t *testing.T) string {
	t.Helper()
	return corpus.Dir(t)
}

// loadESCU loads every ESCU detection of the corpus with the corpus's own macro files, as a user pointing `rules:`
// at a security_content checkout would. The two generations are loaded separately: v5 holds newer versions of two
// v4 detections under the same ids.
func loadESCU(t *testing.T, dir string) []*rule.Rule {
	t.Helper()
	var rules []*rule.Rule
	for _, gen := range []string{filepath.Join(dir, "escu", "v4"), filepath.Join(dir, "escu", "v5", "*.yml")} {
		res, err := loader.Load(loader.Options{Paths: []string{filepath.Join(dir, "escu", "macros"), gen}})
		if err != nil {
			t.Fatalf("loading the ESCU corpus: %v", err)
		}
		rules = append(rules, res.Rules...)
	}
	return rules
}

func TestESCUCorpusLoadsAndCompiles(t *testing.T) {
	dir := corpusDir(t)
	rules := loadESCU(t, dir)
	files, _ := filepath.Glob(filepath.Join(dir, "escu", "v[45]", "*.yml"))
	if len(rules) != len(files) || len(files) != 17 {
		t.Fatalf("loaded %d rules from %d files, want all 17", len(rules), len(files))
	}
	db := cityDB(t)
	e, err := engine.Compile(rules, engine.Options{GeoIP: db})
	if err != nil {
		t.Fatalf("compiling all 17 ESCU detections: %v", err)
	}
	if len(e.Rules()) != 17 {
		t.Fatalf("engine holds %d rules", len(e.Rules()))
	}
	// Without a GeoIP database, exactly the iplocation detections refuse to compile, naming the command.
	for _, r := range rules {
		_, err := engine.Compile([]*rule.Rule{r}, engine.Options{})
		if r.NeedsGeoIP() != (err != nil) {
			t.Errorf("%s: needs GeoIP %v, compile error %v", r.Name, r.NeedsGeoIP(), err)
		}
		if err != nil && !strings.Contains(err.Error(), "iplocation") {
			t.Errorf("%s: error does not name iplocation: %v", r.Name, err)
		}
	}
}

func TestESCUOnFalcoEvents(t *testing.T) {
	dir := corpusDir(t)
	rules := loadESCU(t, dir)
	e, err := engine.Compile(rules, engine.Options{GeoIP: cityDB(t)})
	if err != nil {
		t.Fatal(err)
	}
	// What the corpus README says, read from the searches by hand: the NodePort service creation matches both
	// generations of the NodePort detection, every pod created in default/kube-system/kube-public matches the
	// namespace detection, and nothing else matches anything (no event carries the last-applied annotation).
	want := map[string][]string{
		"create_nginx_service_nodeport.json":             {"Kubernetes Node Port Creation", "Kubernetes Node Port Creation"},
		"create_nginx_pod_hostnetwork.json":              {"Kubernetes Pod Created in Default Namespace"},
		"create_nginx_pod_nohostnetwork.json":            {"Kubernetes Pod Created in Default Namespace"},
		"create_nginx_pod_privileged.json":               {"Kubernetes Pod Created in Default Namespace"},
		"create_nginx_pod_privileged_2nd_container.json": {"Kubernetes Pod Created in Default Namespace"},
		"create_nginx_pod_unprivileged.json":             {"Kubernetes Pod Created in Default Namespace"},
		"create_pod_kube_public_namespace.json":          {"Kubernetes Pod Created in Default Namespace"},
		"create_pod_kube_system_namespace.json":          {"Kubernetes Pod Created in Default Namespace"},
	}
	events, _ := filepath.Glob(filepath.Join(dir, "events", "falco", "*.json"))
	if len(events) != 15 {
		t.Fatalf("found %d falco events, want 15", len(events))
	}
	for _, path := range events {
		body, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		ms, err := e.Match(body)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		var got []string
		for _, m := range ms {
			got = append(got, m.Rule.Name)
		}
		sort.Strings(got)
		name := filepath.Base(path)
		if strings.Join(got, "|") != strings.Join(want[name], "|") {
			t.Errorf("%s: matched %q, want %q", name, got, want[name])
		}
	}
}

func TestNodePortRiskRow(t *testing.T) {
	dir := corpusDir(t)
	res, err := loader.Load(loader.Options{Paths: []string{filepath.Join(dir, "escu", "v5", "kubernetes_node_port_creation.yml")}})
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.Compile(res.Rules, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := os.ReadFile(filepath.Join(dir, "events", "falco", "create_nginx_service_nodeport.json"))
	ms, _ := e.Match(body)
	if len(ms) != 1 || len(ms[0].Rows) == 0 {
		t.Fatalf("matches = %+v", ms)
	}
	row := ms[0].Rows[0]
	// rename sourceIPs{} as src_ip, user.username as user: the fields the rba block names exist on the row.
	for field, want := range map[string]string{
		"user":                    "minikube-user",
		"objectRef.resource":      "services",
		"requestObject.spec.type": "NodePort",
		"verb":                    "create",
		"count":                   "1",
	} {
		if got := row.Values(field); len(got) != 1 || got[0] != want {
			t.Errorf("row %s = %q, want %q", field, got, want)
		}
	}
	if got := row.Values("src_ip"); len(got) != 1 {
		t.Errorf("src_ip = %q, want one address", got)
	}
	if r := res.Rules[0]; r.Risk.Objects[0].Field != "user" || r.Risk.Objects[0].Score != 20 || r.Risk.Threats[0].Field != "src_ip" {
		t.Errorf("rba block = %+v", r.Risk)
	}
}

// cityDB writes a small GeoIP database: the falco events' addresses are private, and the tests' are documentation
// ranges.
func cityDB(t *testing.T) *geoip.DB {
	t.Helper()
	path := geoiptest.WriteCityDB(t, map[string]geoiptest.Place{
		"203.0.113.0/24":  {City: "Paris", Country: "France", CountryISO: "FR"},
		"198.51.100.0/24": {City: "Boston", Country: "United States", CountryISO: "US"},
	})
	db, err := geoip.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
