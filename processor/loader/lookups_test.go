package loader

import (
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auditdetect/auditdetect/processor/escu"
	"github.com/auditdetect/auditdetect/processor/rule"
)

const nsLookup = "name: kube_allowed_namespaces\nlookup_type: csv\nmatch_type:\n- WILDCARD(namespace)\ncase_sensitive_match: false\n"

// allowlisted is a detection that keeps the events whose namespace the lookup does not allow.
var allowlisted = detection("a", "Allowlisted", "verb=create\n  | lookup kube_allowed_namespaces namespace AS objectRef.namespace OUTPUT is_allowed\n  | search NOT is_allowed=true")

func lookupStage(t *testing.T, r *rule.Rule) rule.Lookup {
	t.Helper()
	for _, st := range r.Pipeline {
		if l, ok := st.(rule.Lookup); ok {
			return l
		}
	}
	t.Fatalf("rule %s has no lookup", r.Name)
	return rule.Lookup{}
}

// TestLoadLookups: a security_content layout (detections/, lookups/ with each lookup's YAML beside its CSV) loads
// with the lookup's table and settings; the lookups setting replaces the table, keeping the file's settings, or
// defines a lookup of Splunk's defaults; a lookup file no rule uses is not read (its CSV may be missing); a lookup
// YAML is no unknown rule file.
func TestLoadLookups(t *testing.T) {
	dir := layout(t, map[string]string{
		"detections/allow.yml":                allowlisted,
		"lookups/kube_allowed_namespaces.yml": nsLookup,
		"lookups/kube_allowed_namespaces.csv": "namespace,is_allowed\nkube-*,true\n",
		"lookups/unused_kv.yml":               "name: unused_kv\nlookup_type: kvstore\nfields: [_key, a]\n",
		"lookups/no_table.yml":                "name: no_table\nlookup_type: csv\n",
	})
	res, err := Load(Options{Paths: []string{dir}})
	require.NoError(t, err)
	require.Len(t, res.Rules, 1)
	l := lookupStage(t, res.Rules[0])
	assert.Equal(t, [][]string{{"kube-*", "true"}}, l.Table.Rows)
	assert.Equal(t, []rule.LookupMatch{rule.MatchWildcard, rule.MatchExact}, l.Table.Match)
	assert.False(t, l.Table.CaseSensitive)
	assert.Equal(t, filepath.Join(dir, "lookups", "kube_allowed_namespaces.csv"), l.Table.Source)

	own := filepath.Join(t.TempDir(), "mine.csv")
	require.NoError(t, os.WriteFile(own, []byte("namespace,is_allowed\nshop-*,true\n"), 0o600))
	res, err = Load(Options{Paths: []string{dir}, Lookups: map[string]string{"kube_allowed_namespaces": own}})
	require.NoError(t, err)
	l = lookupStage(t, res.Rules[0])
	assert.Equal(t, [][]string{{"shop-*", "true"}}, l.Table.Rows, "the configured table")
	assert.Equal(t, rule.MatchWildcard, l.Table.MatchOf(0), "the lookup file's settings")

	// Without a lookup file, the configured CSV is a lookup of Splunk's defaults.
	bare := layout(t, map[string]string{"allow.yml": allowlisted})
	res, err = Load(Options{Paths: []string{bare}, Lookups: map[string]string{"kube_allowed_namespaces": own}})
	require.NoError(t, err)
	l = lookupStage(t, res.Rules[0])
	assert.Equal(t, [3]any{true, rule.MatchExact, 100}, [3]any{l.Table.CaseSensitive, l.Table.MatchOf(0), l.Table.MaxMatches})
}

// TestConfiguredTableOfAKVStoreLookup: a KV store lookup lives in Splunk, but an export of its collection given in the
// lookups setting is its table here (security_content's Kubernetes baselines are KV store lookups), matched as the
// lookup file says; without one, the error says where to give it. A filter still cannot be applied.
func TestConfiguredTableOfAKVStoreLookup(t *testing.T) {
	own := filepath.Join(t.TempDir(), "export.csv")
	require.NoError(t, os.WriteFile(own, []byte("_key,namespace,is_allowed\n1,Shop-*,true\n"), 0o600))
	for _, def := range []string{
		"name: kube_allowed_namespaces\nlookup_type: kvstore\nfields: [_key, namespace, is_allowed]\nmatch_type: [WILDCARD(namespace)]\ncase_sensitive_match: false\n",
		"name: kube_allowed_namespaces\ncollection: kube_allowed_namespaces\nfields_list: _key, namespace, is_allowed\nmatch_type: WILDCARD(namespace)\ncase_sensitive_match: 'false'\n",
	} {
		dir := layout(t, map[string]string{"detections/allow.yml": allowlisted, "lookups/kube_allowed_namespaces.yml": def})
		_, err := Load(Options{Paths: []string{dir}})
		assert.ErrorContains(t, err, "as a KV store lookup, which lives in Splunk (its collection): give an export of its table (CSV) in the lookups setting")

		res, err := Load(Options{Paths: []string{dir}, Lookups: map[string]string{"kube_allowed_namespaces": own}})
		require.NoError(t, err)
		l := lookupStage(t, res.Rules[0])
		assert.Equal(t, [][]string{{"1", "Shop-*", "true"}}, l.Table.Rows)
		assert.Equal(t, [3]any{own, rule.MatchWildcard, false}, [3]any{l.Table.Source, l.Table.MatchOf(1), l.Table.CaseSensitive})
	}

	filtered := layout(t, map[string]string{"detections/allow.yml": allowlisted,
		"lookups/kube_allowed_namespaces.yml": "name: kube_allowed_namespaces\nlookup_type: kvstore\nfields: [_key, namespace]\nfilter: namespace=x\n"})
	_, err := Load(Options{Paths: []string{filtered}, Lookups: map[string]string{"kube_allowed_namespaces": own}})
	assert.ErrorContains(t, err, "its filter (a search over the table's rows) is not supported")
}

// TestLookupLoadErrors: a lookup that is not defined, whose CSV is missing or malformed, that is a KV store, or that
// two files define differently fails the rule that names it, at the name, with the reason; on_rule_error: skip skips
// that rule. A configured lookup no rule names is refused, as a configured macro is.
func TestLookupLoadErrors(t *testing.T) {
	search := func(name string) string {
		return detection("b", "Broken", "verb=create\n  | lookup "+name+" namespace AS objectRef.namespace OUTPUT is_allowed")
	}
	tests := []struct {
		name   string
		files  map[string]string
		opts   Options
		reason string // after "<dir>/"
	}{
		{"undefined", map[string]string{"d/b.yml": search("nope")},
			Options{}, `d/b.yml:5:12: rule "Broken": undefined lookup "nope" (load its lookup file with the rules`},
		{"missing CSV", map[string]string{"d/b.yml": search("ns"), "lookups/ns.yml": "name: ns\nlookup_type: csv\n"},
			Options{}, `d/b.yml:5:12: rule "Broken": lookup ns: open `},
		{"malformed CSV", map[string]string{"d/b.yml": search("ns"), "lookups/ns.yml": "name: ns\nlookup_type: csv\n",
			"lookups/ns.csv": "namespace,is_allowed\nkube-system,true,extra\n"},
			Options{}, `d/b.yml:5:12: rule "Broken": lookup ns: ` + filepath.Join("DIR", "lookups", "ns.csv") + `:2:18: 3 fields, where the header has 2`},
		{"no such field", map[string]string{"d/b.yml": search("ns"), "lookups/ns.yml": "name: ns\nlookup_type: csv\n",
			"lookups/ns.csv": "ns,is_allowed\n"},
			Options{}, `d/b.yml:5:15: rule "Broken": lookup ns has no field "namespace" (its fields: ns, is_allowed)`},
		{"KV store", map[string]string{"d/b.yml": search("ns"), "lookups/ns.yml": "name: ns\ncollection: ns\n"},
			Options{}, `lookup ns: defined in ` + filepath.Join("DIR", "lookups", "ns.yml") + ` as a KV store lookup`},
		{"defined twice, differently", map[string]string{"d/b.yml": search("ns"), "a/ns.yml": "name: ns\nlookup_type: csv\n",
			"b/ns.yml": "name: ns\nlookup_type: csv\ncase_sensitive_match: false\n"},
			Options{}, `b/ns.yml:1:7: lookup "ns" is also defined, differently, in ` + filepath.Join("DIR", "a", "ns.yml") + ":1"},
		{"defined twice, alike but with other tables", map[string]string{"d/b.yml": search("ns"), "a/ns.yml": "name: ns\nlookup_type: csv\n",
			"a/ns.csv": "namespace,is_allowed\nx,true\n", "b/ns.yml": "name: ns\nlookup_type: csv\n", "b/ns.csv": "namespace,is_allowed\ny,true\n"},
			Options{}, `lookup ns: defined twice with different tables`},
		{"configured, named by no rule", map[string]string{"d/b.yml": search("ns"), "lookups/ns.yml": "name: ns\nlookup_type: csv\n",
			"lookups/ns.csv": "namespace,is_allowed\n"},
			Options{Lookups: map[string]string{"nss": "x.csv"}}, `lookups: "nss" is named by no loaded rule, so it would change nothing (did you mean "ns"?)`},
		{"configured name a search cannot write", map[string]string{"d/b.yml": search("ns")},
			Options{Lookups: map[string]string{"a b": "x.csv"}}, `lookups: "a b" is not a lookup name`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := layout(t, tt.files)
			tt.opts.Paths = []string{dir}
			_, err := Load(tt.opts)
			require.Error(t, err)
			want := strings.ReplaceAll(tt.reason, "DIR", dir)
			if strings.HasPrefix(want, "d/") || strings.HasPrefix(want, "b/") {
				want = filepath.Join(dir, filepath.FromSlash(want[:strings.Index(want, ":")])) + want[strings.Index(want, ":"):]
			}
			assert.Contains(t, err.Error(), want)

			if tt.opts.Lookups == nil && !strings.Contains(tt.name, "differently") {
				// Skipped: the rule, with its error; nothing else fails.
				res, err := Load(Options{Paths: []string{dir}, SkipErrors: true})
				require.NoError(t, err)
				assert.Empty(t, res.Rules)
				require.Len(t, res.Skipped, 1)
				assert.Contains(t, res.Skipped[0].Error(), want)
			}
		})
	}
}

// TestLookupByItsFileName: `lookup <file>.csv` is the table of the CSV file of that name, which Splunk's lookup takes
// as "the name of a CSV file that you want to use as the lookup" (Search Reference): found by the file's name, not by
// a lookup named like it (contentctl 4 names files after dates: users_20240101.csv for the lookup users), and matched
// by Splunk's defaults, since no lookup definition (transforms.conf stanza) is named. A file of the lookups setting
// counts, and its lookup is then used. A file no lookup has fails at its name.
func TestLookupByItsFileName(t *testing.T) {
	search := func(name string) string {
		return detection("b", "By File", "verb=create\n  | lookup "+name+" user AS user.username OUTPUT team\n  | search team=*")
	}
	dir := layout(t, map[string]string{
		"d/b.yml": search("users_20240101.csv"),
		// A definition of other settings than Splunk's defaults, named unlike its file.
		"lookups/users.yml":          "name: users\nfilename: users_20240101.csv\nmatch_type: WILDCARD(user)\ncase_sensitive_match: false\nmax_matches: 1\n",
		"lookups/users_20240101.csv": "user,team\nAl*,dev\nalice,ops\n",
	})
	res, err := Load(Options{Paths: []string{dir}})
	require.NoError(t, err)
	l := lookupStage(t, res.Rules[0])
	assert.Equal(t, "users_20240101.csv", l.Table.Name)
	assert.Equal(t, filepath.Join(dir, "lookups", "users_20240101.csv"), l.Table.Source)
	assert.Equal(t, [][]string{{"Al*", "dev"}, {"alice", "ops"}}, l.Table.Rows)
	assert.Equal(t, [3]any{true, rule.MatchExact, 100}, [3]any{l.Table.CaseSensitive, l.Table.MatchOf(0), l.Table.MaxMatches},
		"Splunk's defaults, not the definition's")

	// The lookup's name with .csv is no file of it.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "d", "b.yml"), []byte(search("users.csv")), 0o644))
	_, err = Load(Options{Paths: []string{dir}})
	assert.ErrorContains(t, err, `rule "By File": no lookup table file "users.csv": no lookup loaded with the rules has it as its table`)

	// A configured file, by its name: its lookup counts as used.
	own := filepath.Join(t.TempDir(), "teams.csv")
	require.NoError(t, os.WriteFile(own, []byte("user,team\nbob,sre\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "d", "b.yml"), []byte(search("teams.csv")), 0o644))
	res, err = Load(Options{Paths: []string{dir}, Lookups: map[string]string{"my_teams": own}})
	require.NoError(t, err)
	assert.Equal(t, [][]string{{"bob", "sre"}}, lookupStage(t, res.Rules[0]).Table.Rows)

	// Two files of the name: the same table, or an error naming both.
	two := layout(t, map[string]string{
		"d/b.yml":   search("t.csv"),
		"a/one.yml": "name: one\nfilename: t.csv\n",
		"a/t.csv":   "user,team\nbob,sre\n",
		"b/two.yml": "name: two\nfilename: t.csv\n",
		"b/t.csv":   "user,team\nbob,sre\n",
	})
	_, err = Load(Options{Paths: []string{two}})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(two, "b", "t.csv"), []byte("user,team\neve,sre\n"), 0o644))
	_, err = Load(Options{Paths: []string{two}})
	assert.ErrorContains(t, err, "lookup t.csv: two lookup tables are named t.csv, with different rows: "+
		filepath.Join(two, "a", "t.csv")+" and "+filepath.Join(two, "b", "t.csv"))
}

// TestLookupFromTheBuiltinPack: a lookup file of an embedded pack reads its CSV from the pack.
func TestLookupFromTheBuiltinPack(t *testing.T) {
	pack := fstest.MapFS{
		"rules/allow.yml":                     {Data: []byte(allowlisted)},
		"lookups/kube_allowed_namespaces.yml": {Data: []byte(nsLookup)},
		"lookups/kube_allowed_namespaces.csv": {Data: []byte("namespace,is_allowed\nkube-*,true\n")},
	}
	res, err := Load(Options{Paths: []string{Builtin}, Builtin: pack})
	require.NoError(t, err)
	require.Len(t, res.Rules, 1)
	assert.Equal(t, "builtin:lookups/kube_allowed_namespaces.csv", lookupStage(t, res.Rules[0]).Table.Source)
}

// TestDigestReadsLookupTables: the reload's digest changes when a lookup's table changes (the CSV beside a lookup
// file, or a configured one), as when a rule file changes.
func TestDigestReadsLookupTables(t *testing.T) {
	dir := layout(t, map[string]string{
		"lookups/kube_allowed_namespaces.yml": nsLookup,
		"lookups/kube_allowed_namespaces.csv": "namespace,is_allowed\nkube-*,true\n",
		"allow.yml":                           allowlisted,
	})
	own := filepath.Join(t.TempDir(), "own.csv")
	require.NoError(t, os.WriteFile(own, []byte("user\nalice\n"), 0o600))
	opts := Options{Paths: []string{dir}, Lookups: map[string]string{"users": own}}
	digest := func() Fingerprint {
		t.Helper()
		d, err := Digest(opts)
		require.NoError(t, err)
		return d
	}
	first := digest()
	assert.Equal(t, first, digest())
	require.NoError(t, os.WriteFile(filepath.Join(dir, "lookups", "kube_allowed_namespaces.csv"), []byte("namespace,is_allowed\nkube-*,true\nshop,true\n"), 0o600))
	second := digest()
	assert.NotEqual(t, first, second, "the lookup file's CSV changed")
	require.NoError(t, os.WriteFile(own, []byte("user\nbob\n"), 0o600))
	third := digest()
	assert.NotEqual(t, second, third, "the configured CSV changed")
	require.NoError(t, os.Remove(own))
	assert.NotEqual(t, third, digest(), "the configured CSV is gone")
}

// TestDigestStreamsLookupTables: the reload's check, which runs every interval, hashes a lookup's CSV as it reads it
// instead of holding the whole file: checking a 16 MiB table allocates a small fraction of it.
func TestDigestStreamsLookupTables(t *testing.T) {
	big := "namespace,is_allowed\n" + strings.Repeat("team-with-a-long-name-*,true\n", 16<<20/29)
	opts := Options{Paths: []string{layout(t, map[string]string{
		"lookups/kube_allowed_namespaces.yml": nsLookup,
		"lookups/kube_allowed_namespaces.csv": big,
		"allow.yml":                           allowlisted,
	})}}
	_, err := Digest(opts)
	require.NoError(t, err)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err = Digest(opts)
	runtime.ReadMemStats(&after)
	require.NoError(t, err)
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(len(big)/8), "bytes allocated by one check of a %d-byte table", len(big))
}

// TestLookupOutputsAreResultFields: after a stats, a lookup's outputs are fields of the results, so that a risk
// object on one loads and one on a field no stage makes is still caught.
func TestLookupOutputsAreResultFields(t *testing.T) {
	rule := func(riskField string) string {
		return strings.Replace(detection("r", "Teams", "verb=create\n  | stats count by user.username\n  | rename user.username as user\n"+
			"  | lookup teams user OUTPUT team"), "- field: user", "- field: "+riskField, 1)
	}
	files := map[string]string{"lookups/teams.yml": "name: teams\nlookup_type: csv\n", "lookups/teams.csv": "user,team\nalice,dev\n"}
	files["d/r.yml"] = rule("team")
	_, err := Load(Options{Paths: []string{layout(t, files)}})
	require.NoError(t, err)
	files["d/r.yml"] = rule("usr")
	_, err = Load(Options{Paths: []string{layout(t, files)}})
	assert.ErrorContains(t, err, "no risk object field (usr) is a field of the search's results (they have: user, count, team)")
}

// TestDigesterSkipsUnchangedTables: the reload check (a Digester, every interval) reads a lookup's CSV file again
// only when its stat changed, parses a lookup file again only when its bytes changed, and gives Digest's value every
// time: a check with nothing changed reads no table; a rewrite of the same size with the modification time put back
// is seen (on Linux, by its change time); every table is read again after rehashAfter, or when the clock went back.
func TestDigesterSkipsUnchangedTables(t *testing.T) {
	dir := layout(t, map[string]string{
		"lookups/kube_allowed_namespaces.yml": nsLookup,
		"lookups/kube_allowed_namespaces.csv": "namespace,is_allowed\nkube-*,true\n",
		"allow.yml":                           allowlisted,
	})
	table := filepath.Join(dir, "lookups", "kube_allowed_namespaces.csv")
	own := filepath.Join(t.TempDir(), "own.csv")
	require.NoError(t, os.WriteFile(own, []byte("user\nalice\n"), 0o600))
	opts := Options{Paths: []string{dir}, Lookups: map[string]string{"users": own}}

	g := NewDigester()
	now := time.Now().Add(time.Hour) // the files were written long ago
	g.now = func() time.Time { return now }
	reads, parses := map[string]int{}, 0
	g.open = func(fsys fs.FS, name string) (io.ReadCloser, error) {
		reads[filepath.Base(name)]++
		return openLookupFile(fsys, name)
	}
	g.parse = func(file string, data []byte) (*escu.LookupDef, bool, error) {
		d, ok, err := escu.LookupOf(file, data)
		if ok {
			parses++
		}
		return d, ok, err
	}
	check := func(msg string) Fingerprint {
		t.Helper()
		clear(reads)
		parses = 0
		got, err := g.Digest(opts)
		require.NoError(t, err)
		want, err := Digest(opts)
		require.NoError(t, err)
		require.Equal(t, want, got, "%s: the Digester's value is Digest's", msg)
		return got
	}
	write := func(name, content string, mod time.Time) {
		t.Helper()
		require.NoError(t, os.WriteFile(name, []byte(content), 0o600))
		require.NoError(t, os.Chtimes(name, mod, mod))
	}

	first := check("first check")
	assert.Equal(t, map[string]int{"kube_allowed_namespaces.csv": 1, "own.csv": 1}, reads, "the first check reads every table")
	assert.Equal(t, 1, parses, "the lookup file, once")

	assert.Equal(t, first, check("nothing changed"))
	assert.Empty(t, reads, "a check with nothing changed reads no table")
	assert.Zero(t, parses, "nor parses the lookup file")

	old := time.Now().Add(-time.Hour)
	write(table, "namespace,is_allowed\nkube-*,true\nshop,true\n", old)
	second := check("a row added")
	assert.NotEqual(t, first, second)
	assert.Equal(t, map[string]int{"kube_allowed_namespaces.csv": 1}, reads, "only the table whose stat changed")

	was, err := statLookupFile(nil, table)
	require.NoError(t, err)
	write(table, "namespace,is_allowed\nkube-*,true\nship,true\n", old) // the same size, the time put back
	// A kernel without fine-grained file times (before Linux 6.13) stamps the change time with its clock tick, a few
	// milliseconds: a rewrite within the tick of the last one keeps it, and only the racy window (which this
	// Digester's clock, an hour on, has left behind) would tell. Written again until it tells, as a later write does.
	unchanged := func() bool { st, err := statLookupFile(nil, table); return err == nil && st.same(was) }
	for runtime.GOOS == "linux" && unchanged() {
		time.Sleep(time.Millisecond)
		write(table, "namespace,is_allowed\nkube-*,true\nship,true\n", old)
	}
	if runtime.GOOS == "linux" {
		assert.NotEqual(t, second, check("the same size and modification time"), "its change time tells")
	}

	require.NoError(t, os.WriteFile(filepath.Join(dir, "lookups", "kube_allowed_namespaces.yml"), []byte(nsLookup+"max_matches: 3\n"), 0o600))
	check("the lookup file changed")
	assert.Equal(t, 1, parses, "the changed lookup file is parsed again")
	assert.Empty(t, reads, "its table is not read again")

	now = now.Add(rehashAfter)
	check("rehashAfter later")
	assert.Equal(t, map[string]int{"kube_allowed_namespaces.csv": 1, "own.csv": 1}, reads, "every table is read again")
	check("then")
	assert.Empty(t, reads)

	now = now.Add(-time.Minute)
	check("the clock set back")
	assert.Equal(t, map[string]int{"kube_allowed_namespaces.csv": 1, "own.csv": 1}, reads, "every table is read again")

	require.NoError(t, os.Remove(own))
	check("a table gone")
	assert.Equal(t, map[string]int{"own.csv": 1}, reads, "a table that does not read is tried at every check")
	check("still gone")
	assert.Equal(t, map[string]int{"own.csv": 1}, reads)
}

// TestDigesterRereadsRacyTables: a table written as recently as the check (by the real clock) may be written again
// within its times' tick, its stat unchanged: it is read at every check until its times are older than racyWindow.
func TestDigesterRereadsRacyTables(t *testing.T) {
	own := filepath.Join(t.TempDir(), "own.csv")
	require.NoError(t, os.WriteFile(own, []byte("user\nalice\n"), 0o600))
	opts := Options{Paths: []string{layout(t, map[string]string{"allow.yml": allowlisted})}, Lookups: map[string]string{"users": own}}
	g := NewDigester()
	now := time.Now()
	g.now = func() time.Time { return now }
	reads := 0
	g.open = func(fsys fs.FS, name string) (io.ReadCloser, error) {
		reads++
		return openLookupFile(fsys, name)
	}
	check := func() int {
		t.Helper()
		reads = 0
		_, err := g.Digest(opts)
		require.NoError(t, err)
		return reads
	}
	assert.Equal(t, 1, check(), "the first check")
	assert.Equal(t, 1, check(), "racily clean: read again")
	now = now.Add(racyWindow + time.Minute)
	assert.Equal(t, 1, check(), "older than racyWindow: read once more")
	assert.Zero(t, check(), "then trusted")
}

// TestDigesterSeesReplacedTable: a table replaced by a rename (an editor's save, a ConfigMap's ..data swap) with a
// file of the same size and modification time is read again: another inode, renamed later.
func TestDigesterSeesReplacedTable(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the inode is read on Linux")
	}
	dir := t.TempDir()
	own := filepath.Join(dir, "own.csv")
	mod := time.Now().Add(-time.Hour)
	for _, f := range []struct{ name, content string }{{own, "user\nalice\n"}, {own + ".new", "user\nmalic\n"}} {
		require.NoError(t, os.WriteFile(f.name, []byte(f.content), 0o600))
		require.NoError(t, os.Chtimes(f.name, mod, mod))
	}
	opts := Options{Paths: []string{layout(t, map[string]string{"allow.yml": allowlisted})}, Lookups: map[string]string{"users": own}}
	g := NewDigester()
	g.now = func() time.Time { return time.Now().Add(time.Hour) } // the files were written long ago
	before, err := g.Digest(opts)
	require.NoError(t, err)
	require.NoError(t, os.Rename(own+".new", own))
	after, err := g.Digest(opts)
	require.NoError(t, err)
	assert.NotEqual(t, before, after)
}

// BenchmarkDigestUnchangedTable: the reload check of a rule set with a 32 MiB lookup table in `lookups:` that has not
// changed. "fresh" is a check that reads every table (a new Digester each time, as Digest does); "kept" is the
// reloader's own Digester, which stats the table and reads it no more (docs/operations.md, "Hot reload").
func BenchmarkDigestUnchangedTable(b *testing.B) {
	dir := b.TempDir()
	table := filepath.Join(dir, "users.csv")
	row := "system:serviceaccount:kube-system:replicaset-controller,true\n"
	body := "user,allowed\n" + strings.Repeat(row, 32<<20/len(row))
	require.NoError(b, os.WriteFile(table, []byte(body), 0o600))
	opts := Options{Paths: []string{Builtin}, Builtin: fstest.MapFS{"r.yml": {Data: []byte("x: 1\n")}}, Lookups: map[string]string{"users": table}}
	b.Run("fresh", func(b *testing.B) {
		for b.Loop() {
			if _, err := Digest(opts); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("kept", func(b *testing.B) {
		g := NewDigester()
		// The table was just written, and a check reads a table written within the last seconds again (its change
		// time cannot be set back): the checks run an hour later.
		later := time.Now().Add(time.Hour)
		g.now = func() time.Time { return later }
		if _, err := g.Digest(opts); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := g.Digest(opts); err != nil {
				b.Fatal(err)
			}
		}
	})
}
