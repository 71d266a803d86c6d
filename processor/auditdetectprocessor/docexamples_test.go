package auditdetectprocessor

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/xconfmap"

	"github.com/auditdetect/auditdetect/processor/auditdetectprocessor/internal/metadata"
	"github.com/auditdetect/auditdetect/processor/geoip/geoiptest"
	"github.com/auditdetect/auditdetect/processor/internal/corpus"
)

// docPath says what stands in, in TestDocExamples, for a path a doc example names on a user's machine: files of this
// repository, files of the compatibility corpus, or a generated GeoIP database. A path the table does not hold fails
// the test: an example must not name a file that only a reader's machine has without this table saying which file
// plays its part.
type docPath struct {
	path string // as the example writes it, without a trailing slash
	doc  string // the only doc (from the module root) this entry is for; "" for every doc
	// One of:
	repo   []string // paths from the module root
	corpus []string // paths in the corpus, for an example whose rules must be the real ones it names
	geoip  bool     // a City database of no networks (written by geoiptest)
	what   string   // what the path holds in the doc
}

var docPaths = []docPath{
	{path: "/etc/auditdetect/escu", corpus: []string{"escu/v4", "escu/macros"},
		what: "security_content's Kubernetes detections (the corpus's 2024 generation holds all 15) and its macros/"},
	{path: "/etc/auditdetect/GeoLite2-City.mmdb", geoip: true, what: "a GeoLite2 City database"},
	{path: "/geoip/GeoLite2-City.mmdb", geoip: true, what: "a GeoLite2 City database"},
	{path: "/etc/auditdetect/rules", doc: "docs/operations.md", repo: []string{"processor/auditdetectprocessor/testdata/rules"},
		what: "the user's own rule files (any that load: the example is about reloading them)"},
	{path: "/etc/auditdetect/rules", doc: "docs/sigma-elastic.md", corpus: []string{
		"escu/v5/kubernetes_node_port_creation.yml",
		"sigma/kubernetes_audit_pod_in_system_namespace.yml",
		"elastic/persistence_exposed_service_created_with_type_nodeport.toml",
	}, what: "the three files the page names, side by side"},
	// The memory soak's config: the full rule set, as the corpus lays it out.
	{path: "/work/shared/corpus/escu/macros", doc: "docs/reliability.md", corpus: []string{"escu/macros"}, what: "ESCU macros"},
	{path: "/work/shared/corpus/escu/v4", doc: "docs/reliability.md", corpus: []string{"escu/v4"}, what: "ESCU detections (2024)"},
	{path: "/work/shared/corpus/escu/v5", doc: "docs/reliability.md", corpus: []string{"escu/v5"}, what: "ESCU detections (2025)"},
	{path: "/work/shared/corpus/sigma", doc: "docs/reliability.md", corpus: []string{"sigma"}, what: "Sigma rules"},
	{path: "/work/shared/corpus/elastic", doc: "docs/reliability.md", corpus: []string{"elastic"}, what: "Elastic rules"},
	{path: "/tmp/soakdata/city.mmdb", doc: "docs/reliability.md", geoip: true, what: "a GeoLite2 City database"},
}

// docExample is one fenced YAML block of a Markdown file.
type docExample struct {
	file string // from the module root, slash-separated
	line int    // of the opening fence
	text []byte // the block, its fence's indentation removed
	skip string // the reason of a `<!-- config-example: skip (reason) -->` mark just before it; "" without one
}

func (e docExample) String() string { return fmt.Sprintf("%s:%d", e.file, e.line) }

var (
	fenceRE    = regexp.MustCompile("^([ \t]*)(```+|~~~+)[ \t]*([^ \t`]*)")
	skipMarkRE = regexp.MustCompile(`^\s*<!--\s*config-example:\s*skip\s*\((.*\S.*)\)\s*-->\s*$`)
)

// markdownExamples returns the ```yaml (or yml) blocks of one Markdown file and the skip marks that precede them. A
// mark must have a reason and be followed by a YAML block (blank lines between are allowed): a mark left behind when
// its block went, or one without a reason, is an error.
func markdownExamples(file string, content []byte) ([]docExample, error) {
	var (
		out                  []docExample
		open                 *docExample
		indent, fence        string
		pendingSkip          string
		pendingLine, lineNo  int
		body                 strings.Builder
		isYAML, inOtherFence bool
		scanner              = bufio.NewScanner(bytes.NewReader(content))
	)
	scanner.Buffer(nil, 1<<20)
	for scanner.Scan() {
		lineNo++
		line := scanner.Text()
		if open != nil || inOtherFence {
			if strings.TrimSpace(line) == fence {
				if open != nil {
					open.text = []byte(body.String())
					out = append(out, *open)
				}
				open, inOtherFence = nil, false
				continue
			}
			if open != nil {
				body.WriteString(strings.TrimPrefix(line, indent))
				body.WriteByte('\n')
			}
			continue
		}
		if m := fenceRE.FindStringSubmatch(line); m != nil {
			indent, fence = m[1], m[2]
			isYAML = m[3] == "yaml" || m[3] == "yml"
			if pendingLine != 0 && !isYAML {
				return nil, fmt.Errorf("%s:%d: a config-example mark must come just before a ```yaml block", file, pendingLine)
			}
			if isYAML {
				open = &docExample{file: file, line: lineNo, skip: pendingSkip}
				body.Reset()
			} else {
				inOtherFence = true
			}
			pendingSkip, pendingLine = "", 0
			continue
		}
		if trimmed := strings.TrimSpace(line); strings.HasPrefix(trimmed, "<!--") && strings.Contains(trimmed, "config-example") {
			m := skipMarkRE.FindStringSubmatch(line)
			if m == nil {
				return nil, fmt.Errorf("%s:%d: a config-example mark reads `<!-- config-example: skip (reason) -->`", file, lineNo)
			}
			pendingSkip, pendingLine = m[1], lineNo
			continue
		}
		if strings.TrimSpace(line) != "" && pendingLine != 0 {
			return nil, fmt.Errorf("%s:%d: a config-example mark must come just before a ```yaml block", file, pendingLine)
		}
	}
	if open != nil {
		return nil, fmt.Errorf("%s: the block of line %d is never closed", file, open.line)
	}
	if pendingLine != 0 {
		return nil, fmt.Errorf("%s:%d: a config-example mark must come just before a ```yaml block", file, pendingLine)
	}
	return out, scanner.Err()
}

// docMarkdown lists the Markdown files of the module, from its root, skipping hidden folders and what the Makefile
// builds or downloads.
func docMarkdown(t *testing.T, root string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel != "." && (strings.HasPrefix(d.Name(), ".") || slices.Contains([]string{"build", "bin", "out"}, rel)) {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(rel, ".md") {
			files = append(files, rel)
		}
		return nil
	})
	require.NoError(t, err)
	return files
}

// configKeys are the settings of the processor, as a config file names them.
func configKeys() map[string]bool {
	keys := map[string]bool{}
	typ := reflect.TypeFor[Config]()
	for i := 0; i < typ.NumField(); i++ {
		if tag, _, _ := strings.Cut(typ.Field(i).Tag.Get("mapstructure"), ","); tag != "" {
			keys[tag] = true
		}
	}
	return keys
}

// docSection is one auditdetect processor an example configures.
type docSection struct {
	at      string // where in the block: "processors::auditdetect/x", or "(the block)" for a fragment
	section map[string]any
}

// auditdetectSections finds what a block configures of the processor, through confmap as the collector reads a
// config file: every `processors:` map (at any depth, as under a Helm values file's agent.config) with an auditdetect
// or auditdetect/<name> key; else top-level auditdetect keys (a bare `auditdetect:` block); else, when the block's
// top level holds any of the processor's settings, the block itself is the section (a fragment such as
// `elastic_field_map: {...}`), so that a misspelt key beside it fails.
func auditdetectSections(conf *confmap.Conf) ([]docSection, error) {
	var out []docSection
	var walk func(prefix string, m map[string]any) error
	walk = func(prefix string, m map[string]any) error {
		for k, v := range m {
			sub, ok := v.(map[string]any)
			if !ok {
				continue
			}
			key := prefix + k
			if k == "processors" {
				procs, err := conf.Sub(key)
				if err != nil {
					return err
				}
				// As the collector reads the processors map: its keys must be component ids.
				var ids map[component.ID]map[string]any
				if err := procs.Unmarshal(&ids); err != nil {
					return fmt.Errorf("%s: %w", key, err)
				}
				for id := range ids {
					if id.Type() != metadata.Type {
						continue
					}
					s, err := procs.Sub(id.String())
					if err != nil {
						return err
					}
					out = append(out, docSection{at: key + confmap.KeyDelimiter + id.String(), section: s.ToStringMap()})
				}
				continue
			}
			if err := walk(key+confmap.KeyDelimiter, sub); err != nil {
				return err
			}
		}
		return nil
	}
	top := conf.ToStringMap()
	if err := walk("", top); err != nil || len(out) > 0 {
		return out, err
	}
	for k := range top {
		if typ, _, _ := strings.Cut(k, "/"); typ != metadata.Type.String() {
			continue
		}
		var id component.ID
		if err := id.UnmarshalText([]byte(k)); err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		s, err := conf.Sub(k)
		if err != nil {
			return nil, err
		}
		out = append(out, docSection{at: k, section: s.ToStringMap()})
	}
	if len(out) > 0 {
		return out, nil
	}
	keys := configKeys()
	for k := range top {
		if keys[k] {
			return []docSection{{at: "(the block)", section: top}}, nil
		}
	}
	return nil, nil
}

// docPathMapper replaces the paths of a section by what stands in for them (docPaths).
type docPathMapper struct {
	t     *testing.T
	root  string
	ex    docExample
	geoip string // written on first use
	// The paths that stand for corpus files while the corpus is absent: the section is read, but not validated.
	needsCorpus []string
}

func (m *docPathMapper) mapPath(p string) ([]string, error) {
	key := strings.TrimSuffix(p, "/")
	var found *docPath
	for i := range docPaths {
		d := &docPaths[i]
		if d.path == key && (d.doc == m.ex.file || (d.doc == "" && found == nil)) {
			found = d
		}
	}
	if found == nil {
		return nil, fmt.Errorf("the path %q has no stand-in: add an entry to docPaths (docexamples_test.go) saying which "+
			"file of the repository or the corpus plays its part", p)
	}
	switch {
	case found.geoip:
		if m.geoip == "" {
			m.geoip = geoiptest.WriteCityDB(m.t, nil)
		}
		return []string{m.geoip}, nil
	case found.corpus != nil:
		dir := corpus.Optional(m.t)
		if dir == "" {
			m.needsCorpus = append(m.needsCorpus, fmt.Sprintf("%s (%s)", p, found.what))
			return []string{p}, nil
		}
		var out []string
		for _, c := range found.corpus {
			out = append(out, filepath.Join(dir, filepath.FromSlash(c)))
		}
		return out, nil
	default:
		var out []string
		for _, r := range found.repo {
			out = append(out, filepath.Join(m.root, filepath.FromSlash(r)))
		}
		return out, nil
	}
}

// mapSection rewrites the settings that hold paths: rules (but builtin), lookups and geoip_database.
func (m *docPathMapper) mapSection(section map[string]any) (map[string]any, error) {
	out := make(map[string]any, len(section))
	for k, v := range section {
		out[k] = v
	}
	if rules, ok := section["rules"].([]any); ok {
		var mapped []any
		for _, r := range rules {
			s, ok := r.(string)
			if !ok || s == BuiltinRules {
				mapped = append(mapped, r)
				continue
			}
			paths, err := m.mapPath(s)
			if err != nil {
				return nil, err
			}
			for _, p := range paths {
				mapped = append(mapped, p)
			}
		}
		out["rules"] = mapped
	}
	if lookups, ok := section["lookups"].(map[string]any); ok {
		mapped := map[string]any{}
		for name, v := range lookups {
			s, ok := v.(string)
			if !ok {
				mapped[name] = v
				continue
			}
			paths, err := m.mapPath(s)
			if err != nil {
				return nil, err
			}
			if len(paths) != 1 {
				return nil, fmt.Errorf("lookups: %s: the stand-in for %q must be one file", name, s)
			}
			mapped[name] = paths[0]
		}
		out["lookups"] = mapped
	}
	if db, ok := section["geoip_database"].(string); ok && db != "" {
		paths, err := m.mapPath(db)
		if err != nil {
			return nil, err
		}
		if len(paths) != 1 {
			return nil, fmt.Errorf("geoip_database: the stand-in for %q must be one file", db)
		}
		out["geoip_database"] = paths[0]
	}
	return out, nil
}

// TestDocExamples loads every YAML example of the project's Markdown that configures the processor (README.md,
// docs/, the LANGUAGE.md pages, every other .md of the module) as the collector loads a config file: the block is
// read by confmap, the processors map's keys are read as component ids, each auditdetect section is unmarshalled
// over the factory's defaults (an unknown key fails) and validated, which loads and compiles its rules. The paths an
// example names on a reader's machine are replaced by their stand-ins (docPaths). Of whole collector configs, only
// the auditdetect sections are checked (config/deploy_test.go checks the shipped ones whole).
func TestDocExamples(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	var examples []docExample
	for _, f := range docMarkdown(t, root) {
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(f)))
		require.NoError(t, err)
		ex, err := markdownExamples(f, b)
		require.NoError(t, err)
		examples = append(examples, ex...)
	}

	var checked, skipped []string
	for _, ex := range examples {
		// As the collector's file provider reads a config file.
		retrieved, err := confmap.NewRetrievedFromYAML(ex.text)
		if err != nil {
			if ex.skip == "" {
				t.Errorf("%s: the YAML block does not parse (%v); fix it, or mark it `<!-- config-example: skip (reason) -->`", ex, err)
			}
			continue
		}
		raw, err := retrieved.AsRaw()
		require.NoError(t, err, "%s", ex)
		if _, ok := raw.(map[string]any); !ok {
			assert.Empty(t, ex.skip, "%s: marked config-example: skip, but configures no auditdetect processor", ex)
			continue // a list (rule test cases) or a scalar: not a config
		}
		conf, err := retrieved.AsConf()
		require.NoError(t, err, "%s", ex)
		sections, err := auditdetectSections(conf)
		if err != nil {
			t.Errorf("%s: %v", ex, err)
			continue
		}
		if len(sections) == 0 {
			assert.Empty(t, ex.skip, "%s: marked config-example: skip, but configures no auditdetect processor", ex)
			continue
		}
		if ex.skip != "" {
			skipped = append(skipped, fmt.Sprintf("%s (%s)", ex, ex.skip))
			continue
		}
		for _, s := range sections {
			name := fmt.Sprintf("%s %s", ex, s.at)
			checked = append(checked, name)
			t.Run(name, func(t *testing.T) {
				mapper := &docPathMapper{t: t, root: root, ex: ex}
				section, err := mapper.mapSection(s.section)
				require.NoError(t, err, "%s: %s", ex, s.at)
				cfg := NewFactory().CreateDefaultConfig()
				require.NoError(t, confmap.NewFromStringMap(section).Unmarshal(&cfg), "%s: %s", ex, s.at)
				if len(mapper.needsCorpus) > 0 {
					// Its keys and values have been read; what its rules make of them needs the real rules.
					t.Skipf("SKIP: %s: %s: read but not validated: %s stand for files of the compatibility corpus; "+
						"set AUDITDETECT_CORPUS to validate it", ex, s.at, strings.Join(mapper.needsCorpus, ", "))
				}
				require.NoError(t, xconfmap.Validate(cfg), "%s: %s", ex, s.at)
			})
		}
	}
	sort.Strings(checked)
	t.Logf("checked:\n  %s\nmarked skip:\n  %s", strings.Join(checked, "\n  "), strings.Join(skipped, "\n  "))
	// README's, docs/'s and the component README's examples: a lower count means the search lost some.
	assert.GreaterOrEqual(t, len(checked), 7, "auditdetect sections checked")
	// A mark is for the rare block that is partial or shows an error on purpose: raise this only with a reason.
	assert.LessOrEqual(t, len(skipped), 2, "config-example: skip marks")
}

func TestMarkdownExamples(t *testing.T) {
	const doc = "Text.\n" +
		"```yaml\n" + // line 2
		"a: 1\n" +
		"```\n" +
		"- item:\n" +
		"  ```yml\n" + // line 6: inside a list item, indented
		"  b:\n" +
		"    c: 2\n" +
		"  ```\n" +
		"```sh\n" +
		"make\n" +
		"```\n" +
		"````markdown\n" +
		"```yaml\n" + // inside another fence: not a block of this file
		"d: 3\n" +
		"```\n" +
		"````\n" +
		"<!-- config-example: skip (shows the error of a misspelt key) -->\n" +
		"\n" +
		"```yaml\n" + // line 20
		"e: 4\n" +
		"```\n" +
		"Mark a block with `<!-- config-example: skip (reason) -->`.\n" // prose naming the mark is no mark
	got, err := markdownExamples("doc.md", []byte(doc))
	require.NoError(t, err)
	require.Len(t, got, 3)
	assert.Equal(t, docExample{file: "doc.md", line: 2, text: []byte("a: 1\n")}, got[0])
	assert.Equal(t, docExample{file: "doc.md", line: 6, text: []byte("b:\n  c: 2\n")}, got[1])
	assert.Equal(t, docExample{file: "doc.md", line: 20, text: []byte("e: 4\n"), skip: "shows the error of a misspelt key"}, got[2])

	for name, tt := range map[string]struct{ doc, err string }{
		"a mark without a reason": {doc: "<!-- config-example: skip -->\n```yaml\na: 1\n```\n",
			err: "doc.md:1: a config-example mark reads"},
		"a mark before text": {doc: "<!-- config-example: skip (why) -->\nText.\n```yaml\na: 1\n```\n",
			err: "doc.md:1: a config-example mark must come just before a ```yaml block"},
		"a mark before another language": {doc: "<!-- config-example: skip (why) -->\n```sh\nmake\n```\n",
			err: "doc.md:1: a config-example mark must come just before a ```yaml block"},
		"a mark misspelt": {doc: "<!-- config-example: skipped (why) -->\n```yaml\na: 1\n```\n",
			err: "doc.md:1: a config-example mark reads"},
		"a mark at the end": {doc: "```yaml\na: 1\n```\n<!-- config-example: skip (why) -->\n",
			err: "doc.md:4: a config-example mark must come just before a ```yaml block"},
		"a block never closed": {doc: "Text.\n```yaml\na: 1\n", err: "doc.md: the block of line 2 is never closed"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := markdownExamples("doc.md", []byte(tt.doc))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.err)
		})
	}
}

func TestAuditdetectSections(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // at, in order of the keys
		err  string
	}{
		{name: "a collector config", yaml: "receivers: {filelog: {}}\nprocessors:\n  batch: {}\n  auditdetect: {rules: [builtin]}\n  auditdetect/b: {mode: enrich}\n",
			want: []string{"processors::auditdetect", "processors::auditdetect/b"}},
		{name: "a Helm values file", yaml: "agent:\n  config:\n    processors:\n      auditdetect: {rules: [builtin]}\n",
			want: []string{"agent::config::processors::auditdetect"}},
		{name: "a bare auditdetect block", yaml: "auditdetect:\n  rules: [builtin]\n", want: []string{"auditdetect"}},
		{name: "a fragment", yaml: "elastic_field_map: {a: b}\nmisspelt: 1\n", want: []string{"(the block)"}},
		{name: "a rule file", yaml: "name: x\nsearch: y\n"},
		{name: "rule test cases", yaml: "auditdetect_tests:\n- match: true\n"},
		{name: "a processor id that does not read", yaml: "processors:\n  auditdetect/: {}\n", err: "processors"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			retrieved, err := confmap.NewRetrievedFromYAML([]byte(tt.yaml))
			require.NoError(t, err)
			conf, err := retrieved.AsConf()
			require.NoError(t, err)
			sections, err := auditdetectSections(conf)
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			var at []string
			for _, s := range sections {
				at = append(at, s.at)
			}
			sort.Strings(at)
			assert.Equal(t, tt.want, at)
		})
	}
}
