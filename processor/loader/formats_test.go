package loader

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auditdetect/auditdetect/processor/rule"
)

func sigmaDoc(title, product, selection string) string {
	return "title: " + title + "\nid: " + title + "-id\nlevel: low\nlogsource: {product: " + product +
		", service: audit}\ndetection:\n  sel: " + selection + "\n  condition: sel\n"
}

func elasticDoc(name, typ, query string) string {
	return "[metadata]\nmaturity = \"production\"\n\n[rule]\nname = \"" + name + "\"\nrule_id = \"" + name +
		"-id\"\nseverity = \"medium\"\nrisk_score = 47\ntype = \"" + typ + "\"\nquery = '''\n" + query + "\n'''\n"
}

func TestMixedFormatsInOneDirectory(t *testing.T) {
	dir := layout(t, map[string]string{
		"rules/a_escu.yml":      detection("e-1", "ESCU Rule", "verb=create"),
		"rules/b_sigma.yml":     sigmaDoc("Sigma Rule", "kubernetes", "{verb: delete}"),
		"rules/c_elastic.toml":  elasticDoc("Elastic Rule", "query", "kubernetes.audit.verb:patch"),
		"rules/d_elastic.TOML":  elasticDoc("Elastic EQL", "eql", `any where kubernetes.audit.verb == "get"`),
		"rules/notes/README.md": "ignored",
		"rules/pyproject.txt":   "[rule]\nname = \"ignored: not a rule extension\"\n",
	})
	res, err := Load(Options{Paths: []string{filepath.Join(dir, "rules")}})
	require.NoError(t, err)
	assert.Equal(t, []string{"ESCU Rule", "Sigma Rule", "Elastic Rule", "Elastic EQL"}, names(res.Rules))
	var formats []string
	for _, r := range res.Rules {
		formats = append(formats, r.Origin.Format)
	}
	assert.Equal(t, []string{"escu", "sigma", "elastic", "elastic"}, formats)
}

func TestFormatErrors(t *testing.T) {
	dir := layout(t, map[string]string{
		"bad.toml":       "[rule]\nname = \"unterminated\n",
		"pyproject.toml": "[tool.poetry]\nname = \"x\"\n",
		"windows.yml":    sigmaDoc("Windows Rule", "windows", "{EventID: 4688}"),
		"esql.toml":      elasticDoc("ES|QL Rule", "esql", "from logs-* | limit 10"),
		"unmapped.toml":  elasticDoc("Unmapped", "query", "orchestrator.namespace:shop"),
		"collection.yml": "action: global\ntitle: Shared\n---\n" + sigmaDoc("In a collection", "kubernetes", "{verb: get}"),
		"empty.yml":      "",
		"list.yml":       "- title: x\n- title: y\n",
		"bracket.yml":    "name: x\nsearch: a=1\ntags: [a,\n  b\nrba: {}\n",
		"rules.ndjson":   `{"rule_id":"x","name":"Kibana export","type":"query","query":"a:b","risk_score":47}` + "\n",
		// An audit log named among the rules (`auditdetect scan audit.log` for `scan -events audit.log`), small and
		// over the size limit of a rule file, and a webhook's EventList.
		"audit.log":     `{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"a","verb":"get"}` + "\n" + `{"kind":"Event"}` + "\n",
		"big-audit.log": strings.Repeat(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"a","verb":"get"}`+"\n", MaxFileBytes/60),
		"webhook.json":  `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[]}`,
	})
	for _, tt := range []struct {
		file   string
		line   int
		reason string
	}{
		{"bad.toml", 2, "invalid TOML"},
		{"pyproject.toml", 1, "no [rule] table: not an Elastic detection rule"},
		{"windows.yml", 4, `logsource product "windows", service "audit" is not Kubernetes audit`},
		{"esql.toml", 11, `LIMIT caps the rows of one run of the query`},
		{"unmapped.toml", 11, `field "orchestrator.namespace" is not in the Kubernetes audit event`},
		{"collection.yml", 1, "several YAML documents in one file (a Sigma rule collection?) with `action:`"},
		{"empty.yml", 1, "empty file"},
		{"list.yml", 1, "expected a YAML mapping at the top level"},
		{"bracket.yml", 3, "invalid YAML: did not find expected ',' or ']'"}, // the line where the bracket opens
		{"rules.ndjson", 1, "Elastic rules in ndjson (a Kibana export) are not supported"},
		{"audit.log", 1, "a Kubernetes audit log (JSON audit events), not a rule file"},
		{"big-audit.log", 1, "a Kubernetes audit log (JSON audit events), not a rule file"},
		{"webhook.json", 1, "a Kubernetes audit log (JSON audit events), not a rule file"},
	} {
		t.Run(tt.file, func(t *testing.T) {
			_, err := Load(Options{Paths: []string{filepath.Join(dir, tt.file)}})
			var e *rule.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, filepath.Join(dir, tt.file), e.File)
			assert.Equal(t, tt.line, e.Line)
			assert.Contains(t, e.Reason, tt.reason)

			res, err := Load(Options{Paths: []string{filepath.Join(dir, tt.file)}, SkipErrors: true})
			require.NoError(t, err)
			assert.Len(t, res.Skipped, 1, "skipped under on_rule_error: skip")
		})
	}
}

func TestElasticFieldMapOption(t *testing.T) {
	dir := layout(t, map[string]string{"r.toml": elasticDoc("Ns", "query", "orchestrator.namespace:shop")})
	res, err := Load(Options{Paths: []string{dir}, ElasticFieldMap: map[string]string{"orchestrator.namespace": "objectRef.namespace"}})
	require.NoError(t, err)
	assert.Equal(t, rule.Compare{Field: rule.Field{Name: "objectRef.namespace", AnyArray: true},
		Value: rule.Pattern{Text: "shop", CaseSensitive: true}}, res.Rules[0].Filter)

	_, err = Load(Options{Paths: []string{dir}, ElasticFieldMap: map[string]string{"user.*": "user"}})
	assert.ErrorContains(t, err, `elastic_field_map "user.*"`)
}

func TestOverrides(t *testing.T) {
	dir := layout(t, map[string]string{
		"s.yml": sigmaDoc("Sigma Rule", "kubernetes", "{verb: delete}"),
		"e.yml": detection("e-1", "ESCU Rule", "verb=create"),
	})
	load := func(o map[string]Override) (*Result, error) {
		return Load(Options{Paths: []string{dir}, Overrides: o})
	}
	for _, tt := range []struct {
		name      string
		overrides map[string]Override
		risk      map[string]rule.Risk // by rule name: objects and threats after the override
		err       string
	}{
		{
			name: "by name: risk objects replaced, score from the rule",
			overrides: map[string]Override{"Sigma Rule": {RiskObjects: []rule.RiskObject{
				{Field: "objectRef.namespace", Type: "system"}, {Field: "user.username", Type: "user", Score: 90}}}},
			risk: map[string]rule.Risk{"Sigma Rule": {
				Objects: []rule.RiskObject{{Field: "objectRef.namespace", Type: "system", Score: 21}, {Field: "user.username", Type: "user", Score: 90}},
				Threats: []rule.ThreatObject{{Field: "src_ip", Type: "ip_address"}},
			}},
		},
		{
			name:      "by id: threat objects replaced, risk objects kept",
			overrides: map[string]Override{"e-1": {ThreatObjects: []rule.ThreatObject{{Field: "userAgent", Type: "http_user_agent"}}}},
			risk: map[string]rule.Risk{"ESCU Rule": {
				Objects: []rule.RiskObject{{Field: "user", Type: "user", Score: 10}},
				Threats: []rule.ThreatObject{{Field: "userAgent", Type: "http_user_agent"}},
			}},
		},
		{
			name:      "a key naming no rule changes nothing here (the processor reports it)",
			overrides: map[string]Override{"nope": {ThreatObjects: []rule.ThreatObject{{Field: "a", Type: "url"}}}},
		},
		{name: "bad type", overrides: map[string]Override{"e-1": {RiskObjects: []rule.RiskObject{{Field: "a", Type: "person"}}}}, err: `rule_overrides "e-1": risk object type "person"`},
		{name: "bad score", overrides: map[string]Override{"e-1": {RiskObjects: []rule.RiskObject{{Field: "a", Type: "user", Score: 101}}}}, err: "outside 1-100"},
		{name: "empty", overrides: map[string]Override{"e-1": {}}, err: "needs risk_objects, threat_objects or message"},
		{name: "threat without type", overrides: map[string]Override{"e-1": {ThreatObjects: []rule.ThreatObject{{Field: "a"}}}}, err: "needs a field and a type"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, err := load(tt.overrides)
			if tt.err != "" {
				assert.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			for _, r := range res.Rules {
				if want, ok := tt.risk[r.Name]; ok {
					assert.Equal(t, want.Objects, r.Risk.Objects, r.Name)
					assert.Equal(t, want.Threats, r.Risk.Threats, r.Name)
				}
			}
		})
	}
}

// TestByteOrderMark: a rule file saved with a UTF-8 byte-order mark (as editors on Windows write it) loads in every
// format; TOML itself refuses the mark as the first character of a key.
func TestByteOrderMark(t *testing.T) {
	const bom = "\ufeff"
	dir := layout(t, map[string]string{
		"rules/a_escu.yml":     bom + detection("e-1", "ESCU Rule", "verb=create"),
		"rules/b_sigma.yml":    bom + sigmaDoc("Sigma Rule", "kubernetes", "{verb: delete}"),
		"rules/c_elastic.toml": bom + elasticDoc("Elastic Rule", "query", "kubernetes.audit.verb:patch"),
	})
	res, err := Load(Options{Paths: []string{filepath.Join(dir, "rules")}})
	require.NoError(t, err)
	assert.Equal(t, []string{"ESCU Rule", "Sigma Rule", "Elastic Rule"}, names(res.Rules))
}
