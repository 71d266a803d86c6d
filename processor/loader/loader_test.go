package loader

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/auditdetect/auditdetect/processor/internal/corpus"
	"github.com/auditdetect/auditdetect/processor/rule"
)

// detection returns a small v5-style ESCU detection.
func detection(id, name, search string) string {
	return fmt.Sprintf(`name: %s
id: %s
search: |-
  %s
rba:
  message: test $user.username$
  risk_objects:
  - field: user
    type: user
    score: 10
`, name, id, search)
}

func macro(name, def string) string {
	return fmt.Sprintf("name: %s\ndefinition: '%s'\ndescription: test\n", name, def)
}

// layout writes files (path -> content) under a new temporary directory and returns it.
func layout(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	return dir
}

func names(rules []*rule.Rule) []string {
	var out []string
	for _, r := range rules {
		out = append(out, r.Name)
	}
	return out
}

func TestLoadDirectory(t *testing.T) {
	dir := layout(t, map[string]string{
		"rules/b.yml":            detection("id-b", "B", "verb=get"),
		"rules/a.yaml":           detection("id-a", "A", "verb=create"),
		"rules/sub/c.yml":        detection("id-c", "C", "verb=delete"),
		"rules/README.md":        "not a rule",
		"rules/.git/x.yml":       "not: a rule",
		"rules/sub/.hidden.yml":  "not: a rule",
		"rules/macros/allow.yml": macro("kube_allowed", "user=admin"),
	})
	res, err := Load(Options{Paths: []string{filepath.Join(dir, "rules")}})
	require.NoError(t, err)
	assert.Equal(t, []string{"A", "B", "C"}, names(res.Rules), "sorted by path")
	assert.Equal(t, 4, res.Files)
	assert.Empty(t, res.Skipped)
	a := res.Rules[0]
	assert.Equal(t, rule.Origin{File: filepath.Join(dir, "rules", "a.yaml"), Line: 4, Format: "escu"}, a.Origin)
	assert.Equal(t, rule.Compare{Field: rule.Field{Name: "verb"}, Value: rule.Pattern{Text: "create"}}, a.Filter)
}

func TestLoadGlobAndFiles(t *testing.T) {
	dir := layout(t, map[string]string{
		"one/a.yml":   detection("id-a", "A", "verb=create"),
		"one/b.yml":   detection("id-b", "B", "verb=get"),
		"two/c.rules": detection("id-c", "C", "verb=get"),
	})
	res, err := Load(Options{Paths: []string{
		filepath.Join(dir, "one", "*.yml"),
		filepath.Join(dir, "two", "c.rules"), // named explicitly: read whatever its extension
		filepath.Join(dir, "one"),            // overlaps the glob: each file loads once
		filepath.Join(dir, "one", "a.yml"),
	}})
	require.NoError(t, err)
	assert.Equal(t, []string{"A", "B", "C"}, names(res.Rules))
	assert.Equal(t, 3, res.Files)
}

func TestLoadPathErrors(t *testing.T) {
	dir := layout(t, map[string]string{"empty/README.md": "x", "a.yml": detection("a", "A", "a=1")})
	for _, tt := range []struct {
		name string
		opts Options
		want string
	}{
		{"missing file", Options{Paths: []string{filepath.Join(dir, "nope.yml")}}, "no such file"},
		{"glob matching nothing", Options{Paths: []string{filepath.Join(dir, "*.yaml")}}, "matches no rule files"},
		{"bad glob", Options{Paths: []string{filepath.Join(dir, "[")}}, "syntax error in pattern"},
		{"directory without rules", Options{Paths: []string{filepath.Join(dir, "empty")}}, "holds no *.yml, *.yaml or *.toml files"},
		{"builtin without a pack", Options{Paths: []string{"builtin"}}, "no built-in rule pack"},
		{"empty builtin pack", Options{Paths: []string{"builtin"}, Builtin: fstest.MapFS{}}, "holds no rule files"},
		{"path errors ignore skip mode", Options{Paths: []string{filepath.Join(dir, "nope")}, SkipErrors: true}, "no such file"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Load(tt.opts)
			require.ErrorContains(t, err, tt.want)
			assert.Nil(t, res)
		})
	}
}

func TestLoadBuiltin(t *testing.T) {
	pack := fstest.MapFS{
		"node_port.yml":         {Data: []byte(detection("b-1", "Builtin Node Port", `"objectRef.resource"=services`))},
		"nested/privileged.yml": {Data: []byte(detection("b-2", "Builtin Privileged", "objectRef.resource=pods"))},
		"notes.txt":             {Data: []byte("ignored")},
	}
	dir := layout(t, map[string]string{"mine.yml": detection("u-1", "Mine", "verb=get")})
	res, err := Load(Options{Paths: []string{"builtin", dir}, Builtin: pack})
	require.NoError(t, err)
	assert.Equal(t, []string{"Builtin Privileged", "Builtin Node Port", "Mine"}, names(res.Rules))
	assert.Equal(t, "builtin:node_port.yml", res.Rules[1].Origin.File)
}

// TestSearchNames: an ESCU detection's risk events carry the name of the saved search Splunk ES runs it as
// (`ESCU - <name> - Rule`); the built-in pack's rules (not in ES) and Sigma rules keep their own names.
func TestSearchNames(t *testing.T) {
	pack := fstest.MapFS{"node_port.yml": {Data: []byte(detection("b-1", "Builtin Node Port", "verb=create"))}}
	dir := layout(t, map[string]string{
		"mine.yml":  detection("u-1", "Mine", "verb=get"),
		"sigma.yml": sigmaDoc("Sigma Rule", "kubernetes", "{verb: delete}"),
	})
	for _, tt := range []struct {
		app  string
		want []string
	}{
		{DefaultESCUApp, []string{"Builtin Node Port", "ESCU - Mine - Rule", "Sigma Rule"}},
		{"ACME", []string{"Builtin Node Port", "ACME - Mine - Rule", "Sigma Rule"}},
		{"", []string{"Builtin Node Port", "Mine", "Sigma Rule"}},
	} {
		res, err := Load(Options{Paths: []string{"builtin", dir}, Builtin: pack, ESCUApp: tt.app})
		require.NoError(t, err)
		var got []string
		for _, r := range res.Rules {
			got = append(got, r.SavedSearchName())
		}
		assert.Equal(t, tt.want, got, "ESCUApp %q", tt.app)
		assert.Equal(t, []string{"Builtin Node Port", "Mine", "Sigma Rule"}, names(res.Rules), "names stay")
	}
	// rule_overrides may name a rule by the search name its risk events carry.
	res, err := Load(Options{Paths: []string{dir}, ESCUApp: DefaultESCUApp, Overrides: map[string]Override{
		"ESCU - Mine - Rule": {RiskObjects: []rule.RiskObject{{Field: "src_ip", Type: "system", Score: 7}}}}})
	require.NoError(t, err)
	assert.Equal(t, []rule.RiskObject{{Field: "src_ip", Type: "system", Score: 7}}, res.Rules[0].Risk.Objects)
}

func TestMacroPrecedence(t *testing.T) {
	const search = "`kube_audit` verb=get | search NOT `kube_allowed_users` | `x_filter`"
	dir := layout(t, map[string]string{
		// The macro file comes after the detection in sorted order: macros are gathered first anyway.
		"a_rule.yml":      detection("r", "R", search),
		"z_macros/m1.yml": macro("kube_allowed_users", "user=admin"),
		"z_macros/m2.yml": macro("x_filter", "search user!=robot"),
	})
	eqs := func(f, v string) rule.Expr {
		return rule.Compare{Field: rule.Field{Name: f}, Value: rule.Pattern{Text: v}}
	}

	res, err := Load(Options{Paths: []string{dir}})
	require.NoError(t, err)
	require.Len(t, res.Rules, 1)
	assert.Equal(t, eqs("verb", "get"), res.Rules[0].Filter, "kube_audit keeps its match-all default")
	assert.Equal(t, []rule.Stage{
		rule.Search{Cond: rule.Not{X: eqs("user", "admin")}},
		rule.Search{Cond: rule.Compare{Field: rule.Field{Name: "user"}, Op: rule.OpNe, Value: rule.Pattern{Text: "robot"}}},
	}, res.Rules[0].Pipeline, "macro files define the allow-list and the filter")

	res, err = Load(Options{Paths: []string{dir}, Macros: map[string]string{
		"kube_allowed_users": "user=root",
		"x_filter":           "search *",
		"kube_audit":         "objectRef.apiGroup=apps",
	}})
	require.NoError(t, err)
	assert.Equal(t, rule.And{eqs("objectRef.apiGroup", "apps"), eqs("verb", "get")}, res.Rules[0].Filter)
	assert.Equal(t, []rule.Stage{rule.Search{Cond: rule.Not{X: eqs("user", "root")}}}, res.Rules[0].Pipeline,
		"configured macros win over macro files")
}

func TestKubeAuditFromFileIsSatisfied(t *testing.T) {
	// security_content's kube_audit names Splunk metadata (source="kubernetes"), which the pipeline has already
	// answered: the rule keeps only its own terms.
	dir := layout(t, map[string]string{
		"rule.yml":        detection("r", "R", "`kube_audit` verb=get"),
		"macros/kube.yml": macro("kube_audit", `source="kubernetes"`),
	})
	res, err := Load(Options{Paths: []string{dir}})
	require.NoError(t, err)
	assert.Equal(t, rule.Compare{Field: rule.Field{Name: "verb"}, Value: rule.Pattern{Text: "get"}}, res.Rules[0].Filter)
}

func TestUnclassifiableFiles(t *testing.T) {
	dir := layout(t, map[string]string{
		"workflow.yml": "on: push\njobs: {}\n",
		"broken.yml":   "name: x\nsearch: \"unterminated\n",
	})
	_, err := Load(Options{Paths: []string{filepath.Join(dir, "workflow.yml")}})
	require.EqualError(t, err, filepath.Join(dir, "workflow.yml")+": not an ESCU detection, macro or lookup (no `search:`, `definition:` or `lookup_type:`), nor a Sigma rule (no `detection:`), nor an Elastic rule (no TOML `[rule]` table)")

	_, err = Load(Options{Paths: []string{filepath.Join(dir, "broken.yml")}})
	var e *rule.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, 2, e.Line)
	assert.Contains(t, e.Reason, "invalid YAML")
}

func TestErrorsJoinedOrSkipped(t *testing.T) {
	dir := layout(t, map[string]string{
		"a_good.yml":    detection("g", "Good", "verb=get"),
		"b_eval.yml":    detection("e", "Eval", "verb=get\n  | dedup x"),
		"c_unknown.yml": "kind: Deployment\n",
		"d_macro.yml":   detection("m", "Macro", "verb=get `nope`"),
	})

	_, err := Load(Options{Paths: []string{dir}})
	require.Error(t, err)
	msg := err.Error()
	assert.Contains(t, msg, filepath.Join(dir, "b_eval.yml")+`:5:5: rule "Eval": unsupported command "dedup"`)
	assert.Contains(t, msg, filepath.Join(dir, "c_unknown.yml")+": not an ESCU detection, macro or lookup")
	assert.Contains(t, msg, filepath.Join(dir, "d_macro.yml")+":4:12: rule \"Macro\": undefined macro `nope`")
	var e *rule.Error
	assert.True(t, errors.As(err, &e), "joined errors stay *rule.Error")

	core, logs := observer.New(zapcore.WarnLevel)
	res, err := Load(Options{Paths: []string{dir}, SkipErrors: true, Logger: zap.New(core)})
	require.NoError(t, err)
	assert.Equal(t, []string{"Good"}, names(res.Rules))
	require.Len(t, res.Skipped, 3)
	assert.Equal(t, 4, res.Files)
	require.Equal(t, 3, logs.Len(), "one warning per skipped rule")
	for i, entry := range logs.All() {
		assert.Equal(t, zapcore.WarnLevel, entry.Level)
		assert.Equal(t, res.Skipped[i].Error(), entry.ContextMap()["error"])
	}
	assert.True(t, strings.HasPrefix(logs.All()[0].ContextMap()["error"].(string), filepath.Join(dir, "b_eval.yml")+":5:5:"))
}

func TestDuplicateIDs(t *testing.T) {
	dir := layout(t, map[string]string{
		"a.yml": detection("same", "First", "verb=get"),
		"b.yml": detection("same", "Second", "verb=get"),
	})
	_, err := Load(Options{Paths: []string{dir}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), filepath.Join(dir, "b.yml"))
	assert.Contains(t, err.Error(), `duplicate rule id "same" (version 0), first loaded from `+filepath.Join(dir, "a.yml"))

	res, err := Load(Options{Paths: []string{dir}, SkipErrors: true})
	require.NoError(t, err)
	assert.Equal(t, []string{"First"}, names(res.Rules))
	assert.Len(t, res.Skipped, 1)
}

func TestConflictingMacroFiles(t *testing.T) {
	dir := layout(t, map[string]string{
		"m1.yml": macro("allow", "user=a"),
		"m2.yml": macro("allow", "user=b"),
		"m3.yml": macro("allow", "user=a"), // identical: fine
		"r.yml":  detection("r", "R", "verb=get | search NOT `allow`"),
	})
	_, err := Load(Options{Paths: []string{dir}})
	require.EqualError(t, err, filepath.Join(dir, "m2.yml")+`:1:7: macro "allow" is also defined, differently, in `+
		filepath.Join(dir, "m1.yml")+":1", "at the name in each file; the identical m3.yml is no error")
	// Setting the macro in the configuration settles it: the configured definition is the one used.
	res, err := Load(Options{Paths: []string{dir}, Macros: map[string]string{"allow": "user=c"}})
	require.NoError(t, err)
	require.Len(t, res.Rules, 1)

	// The name need not be on the first line; a macro with arguments is compared by its key.
	dir = layout(t, map[string]string{
		"a.yml": "description: first\narguments: [x]\nname: pick\ndefinition: user=$x$\n",
		"b.yml": "# second\ndefinition: verb=$x$\narguments:\n- x\nname:   pick\n",
		"c.yml": "name: pick\narguments: [x, y]\ndefinition: user=$x$ verb=$y$\n", // another key: pick(x,y)
		"r.yml": detection("r", "R", "`pick(admin)` `pick(a, b)`"),
	})
	_, err = Load(Options{Paths: []string{dir}})
	require.EqualError(t, err, filepath.Join(dir, "b.yml")+`:5:9: macro "pick(x)" is also defined, differently, in `+
		filepath.Join(dir, "a.yml")+":3")
}

// TestMacroScopes: the built-in pack's rules read the pack's macros, the user's rules read the user's macro files,
// and each side reads the other's for what its own do not define (a user's exception filter reaches the pack's
// rules); a macro both define is no conflict (the corpus's kube_allowed_* samples beside the pack's allow-lists): it
// is said at info; a configured macro applies to both.
func TestMacroScopes(t *testing.T) {
	pack := fstest.MapFS{
		"macros/allow.yml": {Data: []byte(macro("allow", "user=packed"))},
		"macros/only.yml":  {Data: []byte(macro("only_pack", "verb=get"))},
		"pack_rule.yml":    {Data: []byte(detection("p", "Pack", "verb=create NOT `allow` NOT `pack_rule_filter`"))},
	}
	dir := layout(t, map[string]string{
		"macros/allow.yml":  macro("allow", "user=mine"),
		"macros/filter.yml": macro("pack_rule_filter", "user=excepted"),
		"mine.yml":          detection("m", "Mine", "objectRef.resource=pods NOT `allow` `only_pack`"),
	})
	filters := func(res *Result) map[string]string {
		out := map[string]string{}
		for _, r := range res.Rules {
			out[r.Name] = fmt.Sprint(r.Filter)
		}
		return out
	}
	core, logs := observer.New(zapcore.InfoLevel)
	res, err := Load(Options{Paths: []string{"builtin", dir}, Builtin: pack, Logger: zap.New(core)})
	require.NoError(t, err)
	said := logs.FilterMessageSnippet("the built-in pack defines too").All()
	require.Len(t, said, 1)
	assert.Equal(t, "allow", said[0].ContextMap()["macro"])
	got := filters(res)
	assert.Contains(t, got["Pack"], "packed")
	assert.Contains(t, got["Pack"], "excepted", "the user's exception filter reaches the pack's rule")
	assert.NotContains(t, got["Pack"], "mine")
	assert.Contains(t, got["Mine"], "mine", "the user's macro file for the user's rule")
	assert.NotContains(t, got["Mine"], "packed")
	assert.Contains(t, got["Mine"], "get", "what the user's files do not define comes from the pack")
	assert.NotContains(t, got["Pack"], "pods")

	res, err = Load(Options{Paths: []string{"builtin", dir}, Builtin: pack, Macros: map[string]string{"allow": "user=set"}})
	require.NoError(t, err)
	got = filters(res)
	for _, name := range []string{"Pack", "Mine"} {
		assert.Contains(t, got[name], "set", name)
		assert.NotContains(t, got[name], "packed", name)
		assert.NotContains(t, got[name], "mine", name)
	}
}

// TestBrokenMacroNamesItsFile: a fault inside a macro's definition is reported at the detection's reference, and
// says which file defines the macro whose definition holds the fault, and the line and column of the fault there.
func TestBrokenMacroNamesItsFile(t *testing.T) {
	const freeText = " is not supported: this streaming engine matches field=value terms only"
	for _, tt := range []struct {
		name   string
		macros map[string]string // path -> content, beside the detection r.yml
		search string            // the detection's search, on line 4 from column 3
		want   string            // the error, after "<dir>/r.yml:": %s is the directory
	}{
		{
			name:   "plain scalar",
			macros: map[string]string{"macros/plain.yml": "name: bad_plain\ndescription: d\ndefinition: user=admin junk\n"},
			search: "verb=get `bad_plain`",
			want:   "4:12: rule \"R\": in macro `bad_plain` (defined at %s/macros/plain.yml:3:24): free-text term \"junk\"" + freeText,
		},
		{
			name:   "single-quoted scalar",
			macros: map[string]string{"macros/quoted.yml": "name: bad_quoted\ndefinition: 'user IN (a, b'\n"},
			search: "verb=get `bad_quoted`",
			want:   "4:12: rule \"R\": in macro `bad_quoted` (defined at %s/macros/quoted.yml:2:22): missing ')' for this IN list",
		},
		{
			name: "literal block",
			macros: map[string]string{"macros/block.yml": "name: bad_block\ndefinition: |-\n  user=admin\n" +
				"    OR user=root\n  | stats count\ndescription: d\n"},
			search: "verb=get NOT `bad_block`",
			want: "4:16: rule \"R\": in macro `bad_block` (defined at %s/macros/block.yml:5:3): " +
				"expands to a pipeline, but is used inside a search expression",
		},
		{
			name:   "folded block",
			macros: map[string]string{"macros/folded.yml": "name: bad_folded\ndefinition: >-\n  user=admin\n  OR user=root\n  OR junk\n"},
			search: "verb=get `bad_folded`",
			want:   "4:12: rule \"R\": in macro `bad_folded` (defined at %s/macros/folded.yml:5:6): free-text term \"junk\"" + freeText,
		},
		{
			// The fault is in inner's definition: inner's file is named, and the chain leads to it.
			name: "nested",
			macros: map[string]string{
				"macros/outer.yml":  "name: outer\ndefinition: verb=get `middle`\n",
				"macros/middle.yml": "name: middle\ndefinition: |-\n  user=admin\n  `inner`\n",
				"macros/inner.yml":  "name: inner\ndescription: d\ndefinition: objectRef.resource=pods\n  | where\n",
			},
			search: "`kube_audit` `outer`",
			want: "4:16: rule \"R\": in macro `outer` -> `middle` -> `inner` (defined at %s/macros/inner.yml:4:3): " +
				"expands to a pipeline, but is used inside a search expression",
		},
		{
			// A pipeline macro with arguments: the column is in the definition as written, not after substitution.
			name:   "arguments",
			macros: map[string]string{"macros/args.yml": "name: pick\narguments: [f, v]\ndefinition: search $f$=$v$ | frob\n"},
			search: "verb=get | `pick(user, admin)`",
			want:   "4:14: rule \"R\": in macro `pick(2)` (defined at %s/macros/args.yml:3:30): unsupported command \"frob\"",
		},
		{
			// A fault in an argument is where the argument is written: in outer's file, at its reference to inner,
			// not at inner's placeholder.
			name: "a fault in an argument",
			macros: map[string]string{
				"macros/outer.yml": "name: outer\ndefinition: verb=get `inner(x junk)`\n",
				"macros/inner.yml": "name: inner\narguments: [v]\ndefinition: user=$v$\n",
			},
			search: "`outer`",
			want: "4:3: rule \"R\": in macro `outer` (defined at %s/macros/outer.yml:2:22): in argument 1 of macro `inner(1)`: " +
				"free-text term \"junk\"" + freeText,
		},
		{
			// A metadata term is checked on the whole search after expansion, and still placed in its macro's file.
			name:   "metadata in a macro",
			macros: map[string]string{"macros/meta.yml": "name: meta\ndefinition: |-\n  user=a\n    OR NOT index=main\n"},
			search: "verb=get `meta`",
			want: "4:12: rule \"R\": in macro `meta` (defined at %s/macros/meta.yml:4:12): index is Splunk indexing metadata, " +
				"which audit events do not carry: it may stand only as a term of the base search that selects the data (the " +
				"collector's pipeline has chosen it), not under NOT or beside other fields in an OR",
		},
		{
			name:   "an argument written in the search",
			macros: map[string]string{"macros/inner.yml": "name: inner\narguments: [v]\ndefinition: user=$v$\n"},
			search: "verb=get `inner(x junk)`",
			want:   "4:12: rule \"R\": in argument 1 of macro `inner(1)`: free-text term \"junk\"" + freeText,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{"r.yml": detection("r", "R", tt.search)}
			maps.Copy(files, tt.macros)
			dir := layout(t, files)
			_, err := Load(Options{Paths: []string{dir}})
			require.EqualError(t, err, filepath.Join(dir, "r.yml")+":"+strings.ReplaceAll(tt.want, "%s", dir))
		})
	}
}

// TestConfiguredMacroReplacesByNameAndArity: a configured macro with arguments replaces the files' macro of that name
// and number of arguments, whatever their parameters are called (references pick macros by name and count).
func TestConfiguredMacroReplacesByNameAndArity(t *testing.T) {
	dir := layout(t, map[string]string{
		"macros/pick.yml": "name: pick\narguments: [a, b]\ndefinition: user=$a$ verb=$b$\n",
		"r.yml":           detection("r", "R", "`pick(alice, get)`"),
	})
	for _, key := range []string{"pick(x,y)", "pick(2)"} {
		// Named or positional: $x$ is the first placeholder either way.
		res, err := Load(Options{Paths: []string{dir}, Macros: map[string]string{key: "objectRef.resource=$x$"}})
		require.NoError(t, err, key)
		require.Len(t, res.Rules, 1)
		assert.Equal(t, rule.Compare{Field: rule.Field{Name: "objectRef.resource"}, Value: rule.Pattern{Text: "alice"}},
			res.Rules[0].Filter, key)
	}
	// Another number of arguments is another macro: the file's stays.
	res, err := Load(Options{Paths: []string{dir}, Macros: map[string]string{"pick(x)": "objectRef.resource=$x$"}})
	require.NoError(t, err)
	assert.Equal(t, rule.And{rule.Compare{Field: rule.Field{Name: "user"}, Value: rule.Pattern{Text: "alice"}},
		rule.Compare{Field: rule.Field{Name: "verb"}, Value: rule.Pattern{Text: "get"}}}, res.Rules[0].Filter)
}

// TestBrokenConfiguredMacro: a macro set in the configuration has no file; its fault is said by its place in the
// definition, and as configured, even where a macro file defines the same macro (the configured one is used).
func TestBrokenConfiguredMacro(t *testing.T) {
	dir := layout(t, map[string]string{
		"r.yml":            detection("r", "R", "verb=get | search NOT `kube_allowed`"),
		"macros/allow.yml": macro("kube_allowed", "user=admin"),
		"macros/outer.yml": macro("outer", "verb=get `kube_allowed`"),
		"s.yml":            detection("s", "S", "`outer`"),
	})
	_, err := Load(Options{Paths: []string{dir}, Macros: map[string]string{"kube_allowed": "user IN (a, b"}})
	require.EqualError(t, err, filepath.Join(dir, "r.yml")+":4:25: rule \"R\": in macro `kube_allowed` (configured, "+
		"definition 1:9): missing ')' for this IN list\n"+
		filepath.Join(dir, "s.yml")+":4:3: rule \"S\": in macro `outer` -> `kube_allowed` (configured, "+
		"definition 1:9): missing ')' for this IN list")
}

func TestConfigMapLayout(t *testing.T) {
	// A ConfigMap volume: real files under a hidden, timestamped directory, linked through ..data.
	dir := layout(t, map[string]string{"..2026_01_01/rule.yml": detection("r", "R", "verb=get")})
	require.NoError(t, os.Symlink("..2026_01_01", filepath.Join(dir, "..data")))
	require.NoError(t, os.Symlink(filepath.Join("..data", "rule.yml"), filepath.Join(dir, "rule.yml")))
	require.NoError(t, os.Symlink("missing.yml", filepath.Join(dir, "dangling.yml")))
	res, err := Load(Options{Paths: []string{dir}})
	require.NoError(t, err)
	assert.Equal(t, []string{"R"}, names(res.Rules))
	assert.Equal(t, 1, res.Files)
}

func TestCorpus(t *testing.T) {
	escu := filepath.Join(corpus.Dir(t), "escu")
	// v4 and v5 share IDs, so load them separately, each with the macros (keeping kube_audit's default).
	for _, gen := range []string{"v4", "v5"} {
		res, err := Load(Options{
			Paths:  []string{filepath.Join(escu, gen), filepath.Join(escu, "macros")},
			Macros: map[string]string{"kube_audit": "*"},
		})
		require.NoError(t, err, gen)
		assert.Len(t, res.Rules, map[string]int{"v4": 15, "v5": 2}[gen], gen)
	}
	// Together, the v5 files (version 8) supersede their v4 namesakes, in the v4 rules' places.
	res, err := Load(Options{Paths: []string{filepath.Join(escu, "v4"), filepath.Join(escu, "v5"), filepath.Join(escu, "macros")}})
	require.NoError(t, err)
	assert.Len(t, res.Rules, 15)
	require.Len(t, res.Superseded, 2)
	for _, old := range res.Superseded {
		assert.Contains(t, old.Origin.File, filepath.Join("escu", "v4"))
	}
	for _, r := range res.Rules {
		if r.Name == "Kubernetes Node Port Creation" {
			assert.Contains(t, r.Origin.File, filepath.Join("escu", "v5"))
			assert.Equal(t, 20, r.Risk.Objects[0].Score, "the v5 rba block")
		}
	}
}

func TestNewerVersionWins(t *testing.T) {
	dir := layout(t, map[string]string{
		"a.yml": "version: 3\n" + detection("same", "Newer", "verb=get"),
		"b.yml": "version: 2\n" + detection("same", "Older", "verb=get"),
		"c.yml": detection("other", "Other", "verb=get"),
	})
	res, err := Load(Options{Paths: []string{dir}})
	require.NoError(t, err)
	assert.Equal(t, []string{"Newer", "Other"}, names(res.Rules))
	require.Len(t, res.Superseded, 1)
	assert.Equal(t, "Older", res.Superseded[0].Name)
}
