package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auditdetect/auditdetect/processor/geoip/geoiptest"
)

// TestLint: the built-in pack is clean; a directory of rules that cannot work as written gives one line per finding,
// file:line first and in file order, errors for rules that never match or whose exclusion never applies, warnings
// for a dead alternative, a rule with no risk object and a deprecated one; exit 1 on an error.
func TestLint(t *testing.T) {
	var stdout, stderr bytes.Buffer
	require.Equal(t, exitOK, run([]string{"lint", "builtin"}, &stdout, &stderr), stderr.String())
	assert.Empty(t, stdout.String())
	assert.Contains(t, stderr.String(), "rules: 0 errors, 0 warnings")

	dir := t.TempDir()
	rba := "rba:\n  message: m\n  risk_objects: [{field: user.username, type: user, score: 5}]\n"
	for name, body := range map[string]string{
		"a_never.yml":     "name: Never\nid: n1\nsearch: verb=create stage=ResponseCompleted\n" + rba,
		"b_exclusion.yml": "name: Exclusion\nid: n2\nsearch: objectRef.resource=secrets verb=get NOT user.name=admin\n" + rba,
		"c_dead.yml":      "name: Dead\nid: n3\nsearch: objectRef.resource=cronjobs verb IN (create, replace)\n" + rba,
		"d_norisk.yml":    "name: No Risk\nid: n4\nsearch: verb=delete\nrba:\n  message: m\n  risk_objects: []\n",
		"e_old.yml":       "name: Old\nid: n5\nstatus: deprecated\nsearch: verb=patch\n" + rba,
		"f_fine.yml":      "name: Fine\nid: n6\nsearch: objectRef.resource=pods verb=create\n" + rba,
		"g_kind.yml":      "name: Kind\nid: n7\nsearch: objectRef.resource=Secret verb=get\n" + rba,
		"h_sigma.yml": "title: Unsupported\nid: n8\nstatus: unsupported\nlogsource: {product: kubernetes, service: audit}\n" +
			"detection:\n  sel: {verb: delete}\n  condition: sel\n",
		// Loads, but the engine refuses it (the collector would not start with it).
		"i_window.yml": "name: Rare\nid: n9\nsearch: verb=get | stats dc(requestURI) as n by user.username | where n > 20000\n" + rba,
	} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600))
	}
	stdout.Reset()
	stderr.Reset()
	require.Equal(t, exitFailed, run([]string{"lint", dir}, &stdout, &stderr), stderr.String())
	want := []string{
		filepath.Join(dir, "a_never.yml") + `:3: error: rule "Never": can never match an API server's audit event: ` + "`stage=ResponseCompleted` is never true",
		filepath.Join(dir, "b_exclusion.yml") + `:3: error: rule "Exclusion": an exclusion never applies, so the rule matches more than written: NOT ` + "`user.name=admin`",
		filepath.Join(dir, "c_dead.yml") + `:3: warning: rule "Dead": an alternative is never true (the rest of the rule runs): ` + "`verb=replace`",
		filepath.Join(dir, "d_norisk.yml") + `:3: warning: rule "No Risk": Rule names no risk object`,
		filepath.Join(dir, "e_old.yml") + `:4: warning: rule "Old": deprecated upstream`,
		filepath.Join(dir, "g_kind.yml") + `:3: warning: rule "Kind": ` + "`objectRef.resource=Secret` names no built-in resource: " +
			"audit events name resources in the plural, lower case (secrets?)",
		filepath.Join(dir, "h_sigma.yml") + `:5: warning: rule "Unsupported": marked unsupported upstream`,
		filepath.Join(dir, "i_window.yml") + `:3: error: rule "Rare": does not load: ` + "`n>20000`" + ` compares dc(requestURI) with 20000: a window counts at most 10000 distinct values per group, so the numbers dc() is compared with must be below 10000`,
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	require.Len(t, lines, len(want), stdout.String())
	for i, w := range want {
		assert.True(t, strings.HasPrefix(lines[i], w), "line %d:\n%s\nwant a line starting\n%s", i, lines[i], w)
	}
	assert.Contains(t, stderr.String(), "lint: 9 rules: 3 errors, 5 warnings")

	stdout.Reset()
	require.Equal(t, exitFailed, run([]string{"lint", "-format", "json", dir}, &stdout, &stderr))
	var out struct {
		Summary  struct{ Rules, Errors, Warnings int }
		Findings []struct{ Where, Rule, ID, Level, Message string }
	}
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &out), stdout.String())
	assert.Equal(t, 9, out.Summary.Rules)
	assert.Equal(t, 3, out.Summary.Errors)
	assert.Equal(t, 5, out.Summary.Warnings)
	require.Len(t, out.Findings, 8)
	assert.Equal(t, "n1", out.Findings[0].ID)
	assert.Equal(t, "error", out.Findings[0].Level)

	// Without the rules that cannot work, only warnings: exit 0. The loader's warning about a rule turned off is
	// not said, as lint's own findings are not.
	stdout.Reset()
	assert.Equal(t, exitOK, run([]string{"lint", "-disable", "Never", "-disable", "Exclusion", "-disable", "No Risk", "-disable", "Rare", dir}, &stdout, &stderr))
	assert.NotContains(t, stdout.String(), "No Risk")
	assert.Equal(t, exitUsage, run([]string{"lint", "-format", "xml", dir}, &stdout, &stderr))

	// No rule at all is exit 2, as in every command: a CI job pointed at the wrong folder must not pass.
	stderr.Reset()
	assert.Equal(t, exitUsage, run([]string{"lint", t.TempDir()}, &stdout, &stderr))
	assert.Equal(t, exitUsage, run([]string{"lint", "-disable", "Fine", filepath.Join(dir, "f_fine.yml")}, &stdout, &stderr))
	assert.Contains(t, stderr.String(), "-disable names every rule loaded")

	// Under skip: a rule that does not load is one error (not also the loader's warning about its risk object), a
	// file that is no rule is named without a line, and a -macro no rule uses is a warning placed at -macro.
	bad := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(bad, "only_dest.yml"), []byte("name: Only Dest\nid: b1\n"+
		"search: verb=get | stats count by user\nrba:\n  message: m\n  risk_objects: [{field: dest, type: system, score: 5}]\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(bad, "other.yml"), []byte("foo: bar\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(bad, "z_fine.yml"), []byte("name: Fine\nid: b2\nsearch: verb=create\n"+rba), 0o600))
	stdout.Reset()
	stderr.Reset()
	require.Equal(t, exitFailed, run([]string{"lint", "-on-rule-error", "skip", "-macro", "unused_filter=search *", bad}, &stdout, &stderr), stderr.String())
	lines = strings.Split(strings.TrimSpace(stdout.String()), "\n")
	require.Len(t, lines, 3, stdout.String())
	assert.True(t, strings.HasPrefix(lines[0], `-macro: warning: Configured macro referenced by no rule: macros: "unused_filter"`), lines[0])
	assert.True(t, strings.HasPrefix(lines[1], filepath.Join(bad, "only_dest.yml")+`:3: error: rule "Only Dest": does not load: no risk object field (dest)`), lines[1])
	assert.True(t, strings.HasPrefix(lines[2], filepath.Join(bad, "other.yml")+": error: does not load: "), lines[2])
	assert.Contains(t, stderr.String(), "lint: 1 rules: 2 errors, 1 warnings")
}

// TestLintCorpus pins what docs/operations.md says lint finds in the whole corpus (with the built-in pack, under
// -on-rule-error skip): with a GeoIP database, 8 errors (4 Elastic rules that cannot run per event, 4 Sigma rules
// that can never match) and 3 warnings (dead alternatives); without one, the 3 ESCU rules using iplocation besides.
// The corpus's macro files define allow-lists the pack defines too: each applies to its own rules, no conflict.
func TestLintCorpus(t *testing.T) {
	dir := os.Getenv("AUDITDETECT_CORPUS")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "corpus")
	}
	if _, err := os.Stat(dir); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("compatibility corpus not found at %s: CI must run the corpus tests", dir)
		}
		t.Skipf("SKIP: compatibility corpus not found at %s; set AUDITDETECT_CORPUS", dir)
	}
	args := []string{"lint", "-on-rule-error", "skip", "builtin"}
	for _, sub := range []string{"escu/macros", "escu/v4", "escu/v5", "sigma", "elastic"} {
		args = append(args, filepath.Join(dir, sub))
	}
	var stdout, stderr bytes.Buffer
	require.Equal(t, exitFailed, run(args, &stdout, &stderr), stderr.String())
	assert.Contains(t, stderr.String(), "lint: 94 rules: 9 errors, 4 warnings")
	assert.Equal(t, 3, strings.Count(stdout.String(), "does not load without a GeoIP database"))

	db := geoiptest.WriteCityDB(t, map[string]geoiptest.Place{"10.0.0.0/8": {City: "Paris", Country: "France"}})
	args = append([]string{"lint", "-geoip-database", db}, args[1:]...)
	stdout.Reset()
	stderr.Reset()
	require.Equal(t, exitFailed, run(args, &stdout, &stderr), stderr.String())
	assert.Contains(t, stderr.String(), "lint: 94 rules: 6 errors, 4 warnings")
	out := stdout.String()
	assert.Zero(t, strings.Count(out, "does not load without a GeoIP database"))
	// Of the 11 ES|QL rules, 10 load (two answered when their window closes); the other uses NOW().
	assert.Equal(t, 1, strings.Count(out, "does not load: NOW() is the time a run of the query starts"))
	assert.Zero(t, strings.Count(out, "does not load: aggregate sum is not supported"))
	assert.Zero(t, strings.Count(out, "would fire when the count reaches 2"))
	// The EQL sequence runs as a sequence, but compares user.groups, a text field Elasticsearch's EQL cannot compare.
	assert.Equal(t, 1, strings.Count(out, "does not load: kubernetes.audit.user.groups is a text field"))
	assert.Zero(t, strings.Count(out, "is also defined, differently"))
	assert.Equal(t, 4, strings.Count(out, "can never match an API server's audit event"))
	// The fourth: the anonymous enumeration rule's `level in (..., "ResponseComplete", ...)`, a stage, not a level.
	assert.Equal(t, 4, strings.Count(out, "an alternative is never true"))
}

// TestLintSaysUnfilledTokens: a message token no result row can fill is a warning, with the token, the fields the
// results have and, when they are the event, why it has no such field.
func TestLintSaysUnfilledTokens(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"a_stats.yml": "name: Stats\nid: t1\nsearch: verb=get | stats count by user_name\n" +
			"rba:\n  message: $user$ read $count$ times\n  risk_objects: [{field: user_name, type: user, score: 5}]\n",
		"b_event.yml": "name: Event\nid: t2\nsearch: verb=get\n" +
			"rba:\n  message: $user$ read $objectRef.name$\n  risk_objects: [{field: user.username, type: user, score: 5}]\n",
	} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600))
	}
	var stdout, stderr bytes.Buffer
	require.Equal(t, exitOK, run([]string{"lint", dir}, &stdout, &stderr), stderr.String())
	assert.Equal(t, filepath.Join(dir, "a_stats.yml")+`:3: warning: rule "Stats": Rule's risk message names a field its results `+
		`never hold: the token stays as written in its risk records (token $user$; results: user_name, count)`+"\n"+
		filepath.Join(dir, "b_event.yml")+`:3: warning: rule "Event": Rule's risk message names a field its results never hold: `+
		`the token stays as written in its risk records (token $user$; results: the event's fields; user is an object: its `+
		`members have values, it has none (its members: username, uid, groups, extra))`+"\n", stdout.String())
	assert.Contains(t, stderr.String(), "lint: 2 rules: 0 errors, 2 warnings")
}
