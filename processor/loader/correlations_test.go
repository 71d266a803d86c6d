package loader

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auditdetect/auditdetect/processor/rule"
)

const deniedRule = `title: Denied request
id: 22222222-0000-4000-8000-000000000001
name: denied
logsource: {product: kubernetes, service: audit}
detection:
  sel: {responseStatus.code: 403}
  condition: sel
`

func correlationDoc(title, refs string, generate bool) string {
	g := ""
	if generate {
		g = "\n  generate: true"
	}
	return "title: " + title + "\ncorrelation:\n  type: event_count\n  rules: [" + refs + "]\n  group-by: [user.username]\n" +
		"  timespan: 5m\n  condition: {gte: 10}" + g + "\n"
}

func sortedNames(rules []*rule.Rule) []string {
	out := names(rules)
	slices.Sort(out)
	return out
}

// TestSigmaCorrelations: a correlation names rules of its own file or of others, by name or id; the rules it names
// feed it and stop alerting alone, unless it says generate: true; what it names must be loaded.
func TestSigmaCorrelations(t *testing.T) {
	t.Run("in one file, as the specification writes it", func(t *testing.T) {
		dir := layout(t, map[string]string{"mr_denied.yml": correlationDoc("Many denied", "denied", false) + "---\n" + deniedRule})
		res, err := Load(Options{Paths: []string{dir}})
		require.NoError(t, err)
		assert.Equal(t, []string{"Many denied"}, sortedNames(res.Rules), "the named rule feeds the correlation only")
	})
	t.Run("across files, by id, with generate", func(t *testing.T) {
		dir := layout(t, map[string]string{
			"denied.yml":    deniedRule,
			"mr_denied.yml": correlationDoc("Many denied", "22222222-0000-4000-8000-000000000001", true),
		})
		res, err := Load(Options{Paths: []string{dir}})
		require.NoError(t, err)
		assert.Equal(t, []string{"Denied request", "Many denied"}, sortedNames(res.Rules))
		for _, r := range res.Rules {
			if r.Name == "Many denied" {
				assert.Equal(t, filepath.Join(dir, "mr_denied.yml"), r.Origin.File)
				assert.Len(t, r.Pipeline, 4, "copy, stats, where, severity")
			}
		}
	})
	t.Run("a name no loaded rule has fails the load at its line, or is skipped", func(t *testing.T) {
		dir := layout(t, map[string]string{"denied.yml": deniedRule, "mr.yml": correlationDoc("Many", "denied, denyed", false)})
		_, err := Load(Options{Paths: []string{dir}})
		var e *rule.Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, filepath.Join(dir, "mr.yml"), e.File)
		assert.Equal(t, 4, e.Line)
		assert.Contains(t, e.Reason, `no loaded Sigma rule has the name or id "denyed"`)

		res, err := Load(Options{Paths: []string{dir}, SkipErrors: true})
		require.NoError(t, err)
		assert.Len(t, res.Skipped, 1)
		assert.Empty(t, res.Rules, "the rule the broken correlation names was meant to feed it, not to alert alone")
	})
	t.Run("a rule named by two correlations is left out unless one generates it", func(t *testing.T) {
		dir := layout(t, map[string]string{
			"denied.yml": deniedRule,
			"a.yml":      correlationDoc("A", "denied", false),
			"b.yml":      "id: b-id\n" + correlationDoc("B", "denied", true),
		})
		res, err := Load(Options{Paths: []string{dir}})
		require.NoError(t, err)
		assert.Equal(t, []string{"A", "B", "Denied request"}, sortedNames(res.Rules))
	})
	t.Run("a document of a correlation's file that is no rule is the fault named", func(t *testing.T) {
		broken := strings.Replace(deniedRule, "detection:", "detction:", 1)
		dir := layout(t, map[string]string{"mr.yml": correlationDoc("Many", "denied", false) + "---\n" + broken,
			"other.yml": "title: Other\nid: other-id\nname: other\nlogsource: {product: kubernetes, service: audit}\n" +
				"detection:\n  sel: {verb: get}\n  condition: sel\n" + "---\n" + correlationDoc("Many others", "other", false)})
		_, err := Load(Options{Paths: []string{dir}})
		var e *rule.Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, 9, e.Line, "the broken document starts there")
		assert.Contains(t, e.Reason, "this document is not a Sigma rule")

		// Under skip the file is left out, and the rule its correlation names (in another file) does not alert alone.
		dir = layout(t, map[string]string{"denied.yml": deniedRule,
			"mr.yml": "title: Many\ncorrelation: {type: temporal_ordered, rules: [denied], group-by: [a], timespan: 5m}\n"})
		res, err := Load(Options{Paths: []string{dir}, SkipErrors: true})
		require.NoError(t, err)
		assert.Len(t, res.Skipped, 1)
		assert.Empty(t, res.Rules)
		assert.Equal(t, []string{"Denied request"}, names(res.Correlated))
	})
	t.Run("a name two rules have is refused, not picked", func(t *testing.T) {
		other := strings.Replace(strings.Replace(deniedRule, "000000000001", "000000000009", 1), "Denied request", "Another", 1)
		dir := layout(t, map[string]string{"a.yml": deniedRule, "b.yml": other, "mr.yml": correlationDoc("Many", "denied", false)})
		_, err := Load(Options{Paths: []string{dir}})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "denied names more than one loaded Sigma rule")
	})
	t.Run("an id a rule of another language has is a duplicate, not an older version", func(t *testing.T) {
		dir := layout(t, map[string]string{"denied.yml": deniedRule,
			"escu.yml": "version: 2\n" + detection("33333333-0000-4000-8000-000000000001", "ESCU one", "verb=get | stats count by user"),
			"mr.yml":   "id: 33333333-0000-4000-8000-000000000001\n" + correlationDoc("Many", "denied", false)})
		_, err := Load(Options{Paths: []string{dir}})
		require.Error(t, err)
		assert.Contains(t, err.Error(), `duplicate rule id "33333333-0000-4000-8000-000000000001"`)
	})
	t.Run("a file of several documents that are not all Sigma rules is still refused", func(t *testing.T) {
		dir := layout(t, map[string]string{"collection.yml": "action: global\ntitle: Shared\n---\n" + deniedRule})
		_, err := Load(Options{Paths: []string{dir}})
		require.Error(t, err)
		assert.True(t, strings.Contains(err.Error(), "several YAML documents in one file"), err.Error())
	})
}
