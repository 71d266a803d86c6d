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
	t.Run("a file of several documents that are not all Sigma rules is still refused", func(t *testing.T) {
		dir := layout(t, map[string]string{"collection.yml": "action: global\ntitle: Shared\n---\n" + deniedRule})
		_, err := Load(Options{Paths: []string{dir}})
		require.Error(t, err)
		assert.True(t, strings.Contains(err.Error(), "several YAML documents in one file"), err.Error())
	})
}
