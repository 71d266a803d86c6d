package builtin_test

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/auditdetect/auditdetect/processor/builtin"
	"github.com/auditdetect/auditdetect/processor/internal/corpus"
	"github.com/auditdetect/auditdetect/processor/loader"
)

// detectionFile is the part of an ESCU v5 detection the pack's conventions are about.
type detectionFile struct {
	Name                string   `yaml:"name"`
	ID                  string   `yaml:"id"`
	Version             int      `yaml:"version"`
	Date                string   `yaml:"date"`
	Author              string   `yaml:"author"`
	Status              string   `yaml:"status"`
	Type                string   `yaml:"type"`
	Description         string   `yaml:"description"`
	DataSource          []string `yaml:"data_source"`
	Search              string   `yaml:"search"`
	HowToImplement      string   `yaml:"how_to_implement"`
	KnownFalsePositives string   `yaml:"known_false_positives"`
	References          []string `yaml:"references"`
	RBA                 struct {
		Message     string `yaml:"message"`
		RiskObjects []struct {
			Field, Type string
			Score       int
		} `yaml:"risk_objects"`
		ThreatObjects []struct{ Field, Type string } `yaml:"threat_objects"`
	} `yaml:"rba"`
	Tags struct {
		AnalyticStory  []string `yaml:"analytic_story"`
		AssetType      string   `yaml:"asset_type"`
		MitreAttackID  []string `yaml:"mitre_attack_id"`
		Product        []string `yaml:"product"`
		SecurityDomain string   `yaml:"security_domain"`
	} `yaml:"tags"`
}

var (
	uuidV4  = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	mitreID = regexp.MustCompile(`^T\d{4}(\.\d{3})?$`)
	macroRe = regexp.MustCompile("`([^`]+)`")
	nonWord = regexp.MustCompile(`[^a-z0-9]+`)
)

// TestPackConventions checks what the loader does not: the pack's own conventions for ESCU v5 content.
func TestPackConventions(t *testing.T) {
	names, err := fs.Glob(builtin.FS, "*.yml")
	if err != nil || len(names) == 0 {
		t.Fatalf("no detections in builtin.FS: %v", err)
	}
	macros := map[string]bool{"kube_audit": true}
	macroFiles, _ := fs.Glob(builtin.FS, "macros/*.yml")
	for _, f := range macroFiles {
		var m struct{ Name, Definition, Description string }
		b, _ := fs.ReadFile(builtin.FS, f)
		if err := yaml.Unmarshal(b, &m); err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if m.Name+".yml" != filepath.Base(f) || m.Definition == "" || m.Description == "" {
			t.Errorf("%s: a macro file needs name (= file stem), definition and description", f)
		}
		macros[m.Name] = true
	}
	ids := map[string]string{}
	for _, f := range names {
		b, _ := fs.ReadFile(builtin.FS, f)
		var d detectionFile
		if err := yaml.Unmarshal(b, &d); err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		stem := strings.TrimSuffix(f, ".yml")
		errorf := func(format string, args ...any) { t.Helper(); t.Errorf(f+": "+format, args...) }
		if got := strings.Trim(nonWord.ReplaceAllString(strings.ToLower(d.Name), "_"), "_"); got != stem {
			errorf("the file should be named after the detection: %s.yml", got)
		}
		if !uuidV4.MatchString(d.ID) {
			errorf("id %q is not a UUIDv4", d.ID)
		} else if prev, dup := ids[d.ID]; dup {
			errorf("id %s is also used by %s", d.ID, prev)
		}
		ids[d.ID] = f
		if d.Version < 1 || !regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`).MatchString(d.Date) {
			errorf("needs a version >= 1 and a date YYYY-MM-DD")
		}
		if d.Author != "auditdetect" || d.Status != "production" {
			errorf("author %q, status %q", d.Author, d.Status)
		}
		if !slices.Contains([]string{"TTP", "Anomaly", "Hunting"}, d.Type) {
			errorf("type %q", d.Type)
		}
		if !slices.Equal(d.DataSource, []string{"Kubernetes Audit"}) {
			errorf("data_source %v", d.DataSource)
		}
		if d.Description == "" || d.HowToImplement == "" || d.KnownFalsePositives == "" || len(d.References) == 0 {
			errorf("needs description, how_to_implement, known_false_positives and references")
		}
		search := strings.TrimSpace(d.Search)
		if !strings.HasPrefix(search, "`kube_audit` ") {
			errorf("the search must start with `kube_audit`")
		}
		if !strings.HasSuffix(search, "| `"+stem+"_filter`") {
			errorf("the search must end with | `%s_filter`", stem)
		}
		for _, m := range macroRe.FindAllStringSubmatch(search, -1) {
			name, _, _ := strings.Cut(m[1], "(") // a macro with arguments: its file names it without them
			if !macros[name] && name != stem+"_filter" {
				errorf("macro `%s` has no default in rules/macros", m[1])
			}
		}
		if !strings.Contains(search, "| fillnull") || !strings.Contains(search, "| stats ") {
			errorf("the search should fillnull before its stats, as ESCU does")
		}
		if len(d.RBA.RiskObjects) == 0 || len(d.RBA.ThreatObjects) == 0 || !strings.Contains(d.RBA.Message, "$") {
			errorf("rba needs a message with $field$ tokens, risk objects and threat objects")
		}
		for _, o := range d.RBA.RiskObjects {
			if o.Score < 1 || o.Score > 100 || !slices.Contains([]string{"user", "system", "other"}, o.Type) {
				errorf("risk object %+v", o)
			}
		}
		if len(d.Tags.AnalyticStory) == 0 || d.Tags.AssetType != "Kubernetes" || len(d.Tags.Product) == 0 ||
			d.Tags.SecurityDomain == "" || len(d.Tags.MitreAttackID) == 0 {
			errorf("tags need analytic_story, asset_type Kubernetes, mitre_attack_id, product and security_domain")
		}
		for _, id := range d.Tags.MitreAttackID {
			if !mitreID.MatchString(id) {
				errorf("MITRE id %q", id)
			}
		}
	}
}

// TestFalcoCorpus runs the real 2018 minikube events of the shared corpus (when present) through the pack.
// The pods in it are all created by the ReplicaSet controller, which the workload detections leave to the
// Deployment that asked for them, so only the NodePort service and the anonymous namespace creation are reported.
func TestFalcoCorpus(t *testing.T) {
	dir := filepath.Join(corpus.Dir(t), "events", "falco")
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) == 0 {
		t.Fatalf("no falco events in %s", dir)
	}
	want := map[string][]string{
		"anonymous_creates_namespace_foo.json": {"kubernetes_anonymous_request_allowed"},
		"create_nginx_service_nodeport.json":   {"kubernetes_nodeport_service_exposed"},
	}
	rules := packRules(t)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		matches, err := compile(t, rules).Match(b)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		var got []string
		for _, m := range matches {
			got = append(got, stem(m.Rule))
		}
		slices.Sort(got)
		if w := want[filepath.Base(f)]; !slices.Equal(got, w) {
			t.Errorf("%s: matched %v, want %v", filepath.Base(f), got, w)
		}
	}
}

// TestUserMacros checks the two ways users tune the pack, through the processor's `macros:` setting: redefining a
// default allow-list, and adding exceptions in a detection's `_filter` macro.
func TestUserMacros(t *testing.T) {
	res, err := loader.Load(loader.Options{
		Paths:   []string{loader.Builtin},
		Builtin: builtin.FS,
		Macros: map[string]string{
			"kube_allowed_locations":                           `Country IN ("Netherlands", "Belgium")`,
			"kubernetes_secret_read_by_unapproved_user_filter": `search NOT user="jane.doe@corp.example"`,
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("testdata/kubernetes_secret_read_from_unapproved_country/match-public-address.json")
	if err != nil {
		t.Fatal(err)
	}
	matches, err := compile(t, res.Rules).Match(b)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range matches {
		got = append(got, stem(m.Rule))
	}
	slices.Sort(got)
	want := []string{"kubernetes_secret_read_by_unapproved_user_group", "kubernetes_secret_read_with_unapproved_user_agent"}
	if !slices.Equal(got, want) {
		t.Errorf("matched %v, want %v", got, want)
	}
}

// TestDryRunsLeftOutByKubeAudit: server-side dry runs (`?dryRun=All`: kubectl diff, Argo CD's diffing, helm
// --dry-run=server) are audited like real writes and match the pack's detections; the README's `kube_audit`
// override leaves them out of every detection at once and keeps the real writes.
func TestDryRunsLeftOutByKubeAudit(t *testing.T) {
	uri := regexp.MustCompile(`"requestURI":"([^"?]*)(\?[^"]*)?"`)
	var real, dry [][]byte
	for _, name := range []string{
		"kubernetes_daemonset_created/match-create.json",
		"kubernetes_workload_with_privileged_container/match-deployment-template-capability-all.json",
		"kubernetes_workload_with_privileged_container/match-init-container-lowercase-sys-ptrace.json",
	} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		real = append(real, b)
		// The parameter first, or after the others (fieldManager=...).
		d := uri.ReplaceAllFunc(b, func(m []byte) []byte {
			s := uri.FindSubmatch(m)
			if len(s[2]) > 0 {
				return fmt.Appendf(nil, `"requestURI":"%s%s&dryRun=All"`, s[1], s[2])
			}
			return fmt.Appendf(nil, `"requestURI":"%s?dryRun=All"`, s[1])
		})
		if bytes.Equal(d, b) {
			t.Fatalf("%s: no requestURI to add dryRun to", name)
		}
		dry = append(dry, d)
	}
	for _, tc := range []struct {
		name    string
		macros  map[string]string
		dryRuns bool // whether the dry runs match
	}{
		{"default", nil, true},
		{"kube_audit without dry runs", map[string]string{"kube_audit": `NOT requestURI="*dryRun=All*"`}, false},
	} {
		res, err := loader.Load(loader.Options{Paths: []string{loader.Builtin}, Builtin: builtin.FS, Macros: tc.macros})
		if err != nil {
			t.Fatal(err)
		}
		e := compile(t, res.Rules)
		for i := range real {
			m, err := e.Match(real[i])
			if err != nil || len(m) == 0 {
				t.Errorf("%s: a real write matched %d detections (%v)", tc.name, len(m), err)
			}
			m, err = e.Match(dry[i])
			if err != nil || (len(m) > 0) != tc.dryRuns {
				t.Errorf("%s: a dry run matched %d detections (%v), want matches: %v", tc.name, len(m), err, tc.dryRuns)
			}
		}
	}
}
