package escu

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auditdetect/auditdetect/processor/internal/corpus"
	"github.com/auditdetect/auditdetect/processor/rule"
	"github.com/auditdetect/auditdetect/processor/spl"
)

func corpusDir(t *testing.T) string {
	t.Helper()
	return filepath.Join(corpus.Dir(t), "escu")
}

// corpusMacros loads the corpus macro files through ParseMacro, keeping kube_audit at its default.
func corpusMacros(t *testing.T, dir string) spl.Macros {
	files, err := filepath.Glob(filepath.Join(dir, "macros", "*.yml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	m := spl.Macros{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		require.True(t, IsMacro(data), f)
		require.False(t, IsDetection(data), f)
		mac, err := ParseMacro(f, data)
		require.NoError(t, err)
		if mac.Key != "kube_audit" {
			m[mac.Key] = mac.Definition
		}
	}
	assert.Contains(t, m, "security_content_ctime(field)", "a macro with arguments is keyed with its argument names")
	return m
}

func TestCorpusParses(t *testing.T) {
	dir := corpusDir(t)
	macros := corpusMacros(t, dir)
	files, err := filepath.Glob(filepath.Join(dir, "v[45]", "*.yml"))
	require.NoError(t, err)
	require.Len(t, files, 17)
	for _, f := range files {
		t.Run(strings.TrimPrefix(f, dir+"/"), func(t *testing.T) {
			data, err := os.ReadFile(f)
			require.NoError(t, err)
			require.True(t, IsDetection(data))
			require.False(t, IsMacro(data))
			r, err := Parse(f, data, macros, nil)
			require.NoError(t, err)
			assert.NotEmpty(t, r.ID)
			assert.NotEmpty(t, r.Name)
			assert.NotNil(t, r.Filter)
			assert.NotEmpty(t, r.Pipeline)
			assert.NotEmpty(t, r.Risk.Message)
			require.NotEmpty(t, r.Risk.Objects)
			assert.Equal(t, []string{"Kubernetes Security"}, r.Stories)
			assert.Equal(t, "escu", r.Origin.Format)
			assert.Positive(t, r.Origin.Line)
		})
	}
}

func TestCorpusV4NodePort(t *testing.T) {
	dir := corpusDir(t)
	f := filepath.Join(dir, "v4", "kubernetes_node_port_creation.yml")
	data, err := os.ReadFile(f)
	require.NoError(t, err)
	r, err := Parse(f, data, nil, nil)
	require.NoError(t, err)
	assert.Equal(t, "d7fc865e-b8a1-4029-a960-cf4403b821b6", r.ID)
	assert.Equal(t, "Kubernetes Node Port Creation", r.Name)
	assert.Equal(t, rule.Origin{File: f, Line: 11, Format: "escu"}, r.Origin)
	assert.Equal(t, rule.Risk{
		Message: "Kubernetes node port creation from user $user$",
		Objects: []rule.RiskObject{{Field: "user", Type: "user", Score: 49}},
		Threats: []rule.ThreatObject{{Field: "src_ip", Type: "ip_address"}},
	}, r.Risk)
	assert.Equal(t, []string{"T1204"}, r.MitreTechniques)
	assert.True(t, strings.HasPrefix(r.Description, "The following analytic detects the creation of a Kubernetes NodePort"))
}

func TestCorpusV5HostNetwork(t *testing.T) {
	dir := corpusDir(t)
	f := filepath.Join(dir, "v5", "kubernetes_pod_with_host_network_attachment.yml")
	data, err := os.ReadFile(f)
	require.NoError(t, err)
	r, err := Parse(f, data, nil, nil)
	require.NoError(t, err)
	assert.Equal(t, "cce357cf-43a4-494a-814b-67cea90fe990", r.ID)
	assert.Equal(t, 12, r.Origin.Line, "the |- block's text starts below `search: |-` on line 11")
	assert.Equal(t, rule.Risk{
		Message: "Kubernetes pod with host network attachment from user $user$.",
		Objects: []rule.RiskObject{{Field: "user", Type: "user", Score: 20}},
		Threats: []rule.ThreatObject{{Field: "src_ip", Type: "ip_address"}},
	}, r.Risk)
	assert.Equal(t, []string{"T1204"}, r.MitreTechniques)
}

const v4Detection = `name: Test Detection
id: 0000-1111
description: A test.
search: '%s'
tags:
  analytic_story:
  - Story A
  message: Something by $user$
  mitre_attack_id:
  - T1204
  - T1552.007
  observable:
  - name: user
    type: User
    role:
    - Victim
  - name: dest
    type: Hostname
    role: [Victim]
  - name: src_ip
    type: IP Address
    role: [Attacker]
  - name: url
    type: URL String
    role: [Attacker]
  - name: proc
    type: Process Name
    role: [Attacker]
  - name: file
    type: File Hash
    role: [Attacker]
  - name: reg
    type: Registry Key
    role: [Attacker]
  - name: host2
    type: Hostname
    role: [Attacker]
  - name: both
    type: User
    role: [Victim, Attacker]
  - name: container
    type: Container
    role: [Victim]
  - name: thing
    type: Other
    role: [Other]
  risk_score: 56
`

func TestV4ObservableMapping(t *testing.T) {
	data := []byte(strings.Replace(v4Detection, "%s", "verb=create | stats count by user", 1))
	r, err := Parse("t.yml", data, nil, nil)
	require.NoError(t, err)
	assert.Equal(t, "0000-1111", r.ID)
	assert.Equal(t, rule.Risk{
		Message: "Something by $user$",
		Objects: []rule.RiskObject{
			{Field: "user", Type: "user", Score: 56},
			{Field: "dest", Type: "system", Score: 56},
			{Field: "both", Type: "user", Score: 56},
			{Field: "container", Type: "other", Score: 56},
			{Field: "thing", Type: "other", Score: 56},
		},
		Threats: []rule.ThreatObject{
			{Field: "src_ip", Type: "ip_address"},
			{Field: "url", Type: "url"},
			{Field: "proc", Type: "process"},
			{Field: "file", Type: "file_name"},   // contentctl: File Hash is file_name
			{Field: "reg", Type: "registry key"}, // contentctl: entity.type.lower()
			{Field: "host2", Type: "hostname"},
		},
	}, r.Risk)
	assert.Equal(t, []string{"T1204", "T1552.007"}, r.MitreTechniques)
	assert.Equal(t, []string{"Story A"}, r.Stories)
	assert.Equal(t, rule.Compare{Field: rule.Field{Name: "verb"}, Value: rule.Pattern{Text: "create"}}, r.Filter)
}

func TestV4ScoreFallsBackToImpactTimesConfidence(t *testing.T) {
	data := []byte(`name: x
search: a=1
tags:
  impact: 80
  confidence: 50
  observable:
  - {name: user, type: User, role: [Victim]}
`)
	r, err := Parse("t.yml", data, nil, nil)
	require.NoError(t, err)
	assert.Equal(t, []rule.RiskObject{{Field: "user", Type: "user", Score: 40}}, r.Risk.Objects)
	assert.Equal(t, "x", r.ID, "a detection without id is keyed by its name")
}

func TestV5RBAWinsOverTags(t *testing.T) {
	data := []byte(`name: x
search: a=1
rba:
  message: m $user$
  risk_objects:
  - field: user
    type: system
    score: 7
tags:
  risk_score: 90
  observable:
  - {name: other, type: User, role: [Victim]}
`)
	r, err := Parse("t.yml", data, nil, nil)
	require.NoError(t, err)
	assert.Equal(t, rule.Risk{Message: "m $user$", Objects: []rule.RiskObject{{Field: "user", Type: "system", Score: 7}}}, r.Risk)
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name         string
		yaml         string
		line, column int
		reason       string
	}{
		{"single-quoted one line", "name: x\nsearch: 'verb=get bad'\n", 2, 19, `free-text term "bad"`},
		{"single-quoted with '' escapes", "name: x\nsearch: 'a=''b'' c'\n", 2, 18, `free-text term "c"`},
		{"plain scalar", "name: x\nsearch: verb=get | dedup x\n", 2, 20, `unsupported command "dedup"`},
		{"double-quoted with escapes", "name: x\nsearch: \"a=\\\"b\\\" | dedup\"\n", 2, 20, `unsupported command "dedup"`},
		{"literal block", "name: x\nsearch: |-\n    verb=get\n      | fillnull\n      | dedup x\nother: 1\n", 5, 9, `unsupported command "dedup"`},
		{"literal block first line", "name: x\nsearch: |\n  bad verb=get\n", 3, 3, `free-text term "bad"`},
		{"folded block", "name: x\nsearch: >-\n  verb=get\n  | dedup x\n", 4, 5, `unsupported command "dedup"`},
		{"wrapped plain scalar", "name: x\nsearch: verb=get\n  | dedup x\n", 3, 5, `unsupported command "dedup"`},
		{"wrapped double-quoted scalar has no column", "name: x\nsearch: \"verb=get\n  | dedup x\"\n", 2, 0, `unsupported command "dedup"`},
		{"undefined macro", "name: x\nsearch: '`kube_audit` a=1 | search NOT `kube_allowed_users`'\n", 2, 40, "undefined macro `kube_allowed_users`"},
		{"empty search", "name: x\nsearch: ''\n", 2, 10, "empty search"},
		{"missing name", "id: 1\nsearch: a=1\n", 1, 1, "missing `name`"},
		{"missing search", "name: x\nid: 1\n", 1, 1, "missing `search`"},
		{"search is a mapping", "name: x\nsearch:\n  selection: {a: 1}\n", 3, 3, "`search` must be a string"},
		{"invalid YAML", "name: x\nsearch: a=1\nfoo: \"unterminated\n", 3, 0, "invalid YAML"},
		{"not a mapping", "- a\n- b\n", 1, 0, "expected a YAML mapping"},
		{"bad rba type", "name: x\nsearch: a=1\nrba:\n  risk_objects:\n  - {field: u, type: person, score: 5}\n", 5, 5, `risk object type "person"`},
		{"bad rba score", "name: x\nsearch: a=1\nrba:\n  risk_objects:\n  - {field: u, type: user, score: 500}\n", 5, 5, "outside 1-100"},
		{"rba threat without type", "name: x\nsearch: a=1\nrba:\n  threat_objects:\n  - field: ip\n", 5, 5, "threat object needs"},
		{"fractional rba score", "name: x\nsearch: a=1\nrba:\n  risk_objects:\n  - {field: u, type: user, score: 20.5}\n", 5, 35, "risk score 20.5 is not a whole number"},
		{"fractional v4 risk_score", "name: x\nsearch: a=1\ntags:\n  risk_score: 49.9\n  observable:\n  - {name: u, type: User, role: [Victim]}\n", 4, 15, "tags.risk_score 49.9 is not a whole number"},
		{"v4 impact times confidence is 0", "name: x\nsearch: a=1\ntags:\n  impact: 0\n  confidence: 50\n  observable:\n  - {name: u, type: User, role: [Victim]}\n", 4, 11, "impact × confidence / 100 (tags.impact 0, tags.confidence 50), is 0: outside 1-100"},
		{"v4 impact out of range", "name: x\nsearch: a=1\ntags:\n  impact: 9200000000000000000\n  confidence: 70\n", 4, 11, "tags.impact 9200000000000000000 is outside 0-100"},
		{"fractional v4 impact", "name: x\nsearch: a=1\ntags:\n  impact: 50\n  confidence: 70.5\n", 5, 15, "tags.confidence 70.5 is not a whole number"},
		{"misspelt rba key", "name: x\nsearch: a=1\nrba:\n  mesage: m\n", 4, 3, `unknown key "mesage" in ` + "`rba`" + ` (did you mean "message"?)`},
		{"singular risk_object", "name: x\nsearch: a=1\nrba:\n  risk_object:\n  - {field: u, type: user, score: 5}\n", 4, 3, `unknown key "risk_object" in ` + "`rba`" + ` (did you mean "risk_objects"?)`},
		{"unknown rba key", "name: x\nsearch: a=1\nrba:\n  severity: high\n", 4, 3, `unknown key "severity" in ` + "`rba`" + ` (it takes message, risk_objects, threat_objects)`},
		{"misspelt risk object key", "name: x\nsearch: a=1\nrba:\n  risk_objects:\n  - field: u\n    type: user\n    scor: 5\n", 7, 5, `unknown key "scor" in a risk object (did you mean "score"?)`},
		{"threat object with a score", "name: x\nsearch: a=1\nrba:\n  threat_objects:\n  - {field: ip, type: ip_address, score: 5}\n", 5, 35, `unknown key "score" in a threat object (it takes field, type)`},
		{"v4 without score", "name: x\nsearch: a=1\ntags:\n  observable:\n  - {name: u, type: User, role: [Victim]}\n", 4, 3, "tags.risk_score 0"},
		{"type error", "name: x\nsearch: a=1\ntags:\n  risk_score: high\n", 4, 0, "the text `high` where a number is expected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("rules/x.yml", []byte(tt.yaml), nil, nil)
			require.Error(t, err)
			var e *rule.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, "rules/x.yml", e.File)
			assert.Contains(t, e.Reason, tt.reason)
			assert.Equal(t, [2]int{tt.line, tt.column}, [2]int{e.Line, e.Column}, "position; error: %v", err)
		})
	}
}

// TestRBAChecksFollowAliases: an alias (`*s`) or a merge key (`<<: *o`) reaches the decoder, so the score and key
// checks see what it decodes.
func TestRBAChecksFollowAliases(t *testing.T) {
	for _, tt := range []struct{ name, doc, want string }{
		{"aliased score", "name: x\nsearch: a=1\nx_score: &s 20.5\nrba:\n  risk_objects:\n  - {field: u, type: user, score: *s}\n", "risk score 20.5 is not a whole number"},
		{"aliased object", "name: x\nsearch: a=1\nx_obj: &o {field: u, type: user, score: 20.5}\nrba:\n  risk_objects:\n  - *o\n", "risk score 20.5 is not a whole number"},
		{"merged misspelling", "name: x\nsearch: a=1\nx_obj: &o {field: u, typ: user}\nrba:\n  risk_objects:\n  - {<<: *o, score: 5}\n", `unknown key "typ" in a risk object (did you mean "type"?)`},
		{"merged score", "name: x\nsearch: a=1\nx_obj: &o {field: u, type: user, score: 20.5}\nrba:\n  risk_objects:\n  - {<<: *o}\n", "risk score 20.5 is not a whole number"},
		{"aliased v4 tags", "name: x\nsearch: a=1\nx_tags: &t {risk_score: 20.5}\ntags: *t\n", "tags.risk_score 20.5 is not a whole number"},
		{"merged v4 tags", "name: x\nsearch: a=1\nx_tags: &t {risk_score: 20.5}\ntags: {<<: *t}\n", "tags.risk_score 20.5 is not a whole number"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("t.yml", []byte(tt.doc), nil, nil)
			require.ErrorContains(t, err, tt.want)
		})
	}
	r, err := Parse("t.yml", []byte("name: x\nsearch: a=1\nx_obj: &o {field: u, type: user}\nrba:\n  message: m\n  risk_objects:\n  - {<<: *o, score: 5}\n"), nil, nil)
	require.NoError(t, err, "a merge of known keys loads")
	assert.Equal(t, []rule.RiskObject{{Field: "u", Type: "user", Score: 5}}, r.Risk.Objects)
	// The whole block, or its list, by alias: as the decoder reads them.
	for _, doc := range []string{
		"name: x\nsearch: a=1\nx_rba: &r {message: m, risk_objects: [{field: u, type: user, score: 5}]}\nrba: *r\n",
		"name: x\nsearch: a=1\nx_objs: &l [{field: u, type: user, score: 5}]\nrba:\n  message: m\n  risk_objects: *l\n",
	} {
		r, err := Parse("t.yml", []byte(doc), nil, nil)
		require.NoError(t, err, doc)
		assert.Equal(t, []rule.RiskObject{{Field: "u", Type: "user", Score: 5}}, r.Risk.Objects, doc)
	}
}

// TestRBAWholeScore: a score written as a whole float is the integer contentctl accepts, not an error.
func TestRBAWholeScore(t *testing.T) {
	r, err := Parse("t.yml", []byte("name: x\nsearch: a=1\nrba:\n  risk_objects:\n  - {field: u, type: user, score: 20.0}\n"), nil, nil)
	require.NoError(t, err)
	assert.Equal(t, []rule.RiskObject{{Field: "u", Type: "user", Score: 20}}, r.Risk.Objects)
}

func TestParseErrorString(t *testing.T) {
	_, err := Parse("k.yml", []byte("name: Bad Rule\nsearch: |-\n  a=1\n  | dedup x\n"), nil, nil)
	require.EqualError(t, err, `k.yml:4:5: rule "Bad Rule": unsupported command "dedup"`)
}

func TestParseMacro(t *testing.T) {
	tests := []struct {
		name, yaml   string
		key, def     string
		reason       string
		isMacro, det bool
	}{
		{name: "plain", yaml: "name: kube_allowed_images\ndefinition: objectRef.name IN (*splunk*)\ndescription: d\n",
			key: "kube_allowed_images", def: "objectRef.name IN (*splunk*)", isMacro: true},
		{name: "arguments", yaml: "name: ctime\narguments:\n- field\n- fmt\ndefinition: 'convert ctime($field$)'\n",
			key: "ctime(field,fmt)", def: "convert ctime($field$)", isMacro: true},
		{name: "empty definition", yaml: "name: e\ndefinition: ''\n", key: "e", def: "", isMacro: true},
		{name: "missing name", yaml: "definition: a=1\n", reason: "missing `name`", isMacro: true},
		{name: "bad name", yaml: "name: a b\ndefinition: a=1\n", reason: "invalid macro name", isMacro: true},
		{name: "missing definition", yaml: "name: a\n", reason: "missing `definition`"},
		{name: "a detection is not a macro", yaml: "name: a\nsearch: a=1\ndefinition: x\n", key: "a", def: "x", det: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.isMacro, IsMacro([]byte(tt.yaml)))
			assert.Equal(t, tt.det, IsDetection([]byte(tt.yaml)))
			m, err := ParseMacro("m.yml", []byte(tt.yaml))
			if tt.reason != "" {
				var e *rule.Error
				require.ErrorAs(t, err, &e)
				assert.Contains(t, e.Reason, tt.reason)
				assert.Equal(t, "m.yml", e.File)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.key, m.Key)
			assert.Equal(t, tt.def, m.Definition)
			assert.Equal(t, "m.yml", m.File)
			assert.Equal(t, 1, m.Line, "the line of `name:`")
		})
	}
}

func TestClassificationOfOtherContent(t *testing.T) {
	for _, data := range []string{"", "not: yaml: [", "- a\n", "title: sigma\ndetection:\n  sel: {a: 1}\n", "[rule]\nname = 'toml'\n"} {
		assert.False(t, IsDetection([]byte(data)), data)
		assert.False(t, IsMacro([]byte(data)), data)
	}
}

func TestMacroArgumentsResolve(t *testing.T) {
	m, err := ParseMacro("m.yml", []byte("name: pick\narguments: [f, v]\ndefinition: $f$=$v$\n"))
	require.NoError(t, err)
	data := []byte("name: x\nsearch: '`pick(user, admin)`'\n")
	r, err := Parse("t.yml", data, spl.Macros{m.Key: m.Definition}, nil)
	require.NoError(t, err)
	assert.Equal(t, rule.Compare{Field: rule.Field{Name: "user"}, Value: rule.Pattern{Text: "admin"}}, r.Filter)
}

// TestMacroFaultOrigin: a fault inside a macro's definition says where the macro is defined, as origins know it.
func TestMacroFaultOrigin(t *testing.T) {
	m, err := ParseMacro("macros/allow.yml", []byte("name: allow\ndefinition: |-\n  user=a\n  OR junk\n"))
	require.NoError(t, err)
	assert.Equal(t, [2]int{1, 7}, [2]int{m.Line, m.Column}, "the position of the name")
	macros := spl.Macros{m.Key: m.Definition}
	data := []byte("name: x\nsearch: verb=get `allow`\n")
	for _, tt := range []struct {
		name    string
		origins map[string]*Macro
		reason  string
	}{
		{"from a file", map[string]*Macro{m.Key: m}, "in macro `allow` (defined at macros/allow.yml:4:6): free-text term"},
		{"configured", map[string]*Macro{m.Key: {Key: m.Key, Definition: m.Definition}}, "in macro `allow` (configured, definition 2:4): free-text term"},
		{"a file without its text", map[string]*Macro{m.Key: {Key: m.Key, File: "m.yml"}}, "in macro `allow` (defined in m.yml, definition 2:4): free-text term"},
		{"unknown", nil, "in macro `allow` (definition 2:4): free-text term"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("rules/x.yml", data, macros, tt.origins)
			var e *rule.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, [2]int{2, 18}, [2]int{e.Line, e.Column}, "at the reference")
			assert.True(t, strings.HasPrefix(e.Reason, tt.reason), e.Reason)
		})
	}
}

// TestSeveralDocumentsRefused: a second YAML document in a detection or macro file is an error at its `---`, never
// left unread (yaml.Unmarshal reads the first document only: a broken second one used to load without a word).
func TestSeveralDocumentsRefused(t *testing.T) {
	detection := "name: x\nsearch: a=1\n"
	macro := "name: m\ndefinition: a=1\n"
	for _, tc := range []struct {
		name, yaml string
		line       int
		reason     string
	}{
		{"two detections", detection + "---\nname: y\nsearch: b=2\n", 3, "several YAML documents"},
		{"a broken second detection", detection + "---\nsearch: [\n", 5, "invalid YAML"}, // where the file ends inside the list
		{"two macros", macro + "---\nname: n\ndefinition: b=2\n", 3, "several YAML documents"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if strings.HasPrefix(tc.yaml, "name: m") {
				_, err = ParseMacro("macros/m.yml", []byte(tc.yaml))
			} else {
				_, err = Parse("rules/x.yml", []byte(tc.yaml), nil, nil)
			}
			var e *rule.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, tc.line, e.Line, err.Error())
			assert.Contains(t, e.Reason, tc.reason)
		})
	}
	// A document marker at the top is still one document.
	_, err := Parse("rules/x.yml", []byte("---\n"+detection), nil, nil)
	assert.NoError(t, err)
}

// The upstream status is kept, lower-cased; deprecated is told apart.
func TestStatus(t *testing.T) {
	for _, tc := range []struct{ line, want string }{{"status: production\n", "production"}, {"status: Deprecated\n", "deprecated"}, {"", ""},
		{"status: [production]\n", ""}, {"status: {a: b}\n", ""}, {"status: ~\n", ""}} {
		data := []byte(tc.line + strings.Replace(v4Detection, "%s", "verb=create", 1))
		r, err := Parse("t.yml", data, nil, nil)
		require.NoError(t, err)
		assert.Equal(t, tc.want, r.Status)
		assert.Equal(t, tc.want == "deprecated", r.Deprecated())
	}
}
