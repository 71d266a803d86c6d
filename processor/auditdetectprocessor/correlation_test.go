package auditdetectprocessor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSigmaCorrelationInTheCollector: a Sigma correlation file (the rule it names in the same file, as the
// specification writes them) loads from the processor's rules setting, and the fifth denied request of one user
// within its timespan forks one risk record naming the user and the count; the rule it names does not alert alone.
func TestSigmaCorrelationInTheCollector(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "mr_denied_burst.yml"), []byte(`title: Burst of denied requests
id: 33333333-0000-4000-8000-000000000001
level: high
correlation:
  type: event_count
  rules: [denied]
  group-by: [user.username]
  timespan: 5m
  condition: {gte: 5}
---
title: Denied request
name: denied
logsource: {product: kubernetes, service: audit}
detection:
  sel: {responseStatus.code: 403}
  condition: sel
`), 0o600))
	off := false
	p, sink, _ := newTestProcessor(t, testConfig(func(c *Config) {
		c.Rules, c.Macros = []string{dir}, nil
		// The rule the correlation names is loaded but does not run alone: an override of it is not a typo (a
		// configuration that tuned it must still start), and changes nothing.
		c.RuleOverrides = map[string]RuleOverride{"denied": {Enabled: &off}}
	}))

	denied := func(i int, user string) string {
		return fmt.Sprintf(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"d-%d","stage":"ResponseComplete","requestURI":"/api/v1/secrets","verb":"list","user":{"username":%q},"sourceIPs":["198.51.100.%d"],"objectRef":{"resource":"secrets","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":403},"stageTimestamp":"2026-11-06T10:00:%02d.000000Z"}`, i, user, i, i)
	}
	var bodies []string
	for i := 0; i < 8; i++ {
		user := "mallory"
		if i%4 == 3 {
			user = "alice" // two of alice's: not a burst
		}
		bodies = append(bodies, denied(i, user))
	}
	for _, b := range bodies {
		require.NoError(t, p.ConsumeLogs(context.Background(), input(str(b))))
	}
	var risk []map[string]any
	for _, ld := range sink.AllLogs() {
		for _, r := range records(ld) {
			if isRisk(r) {
				risk = append(risk, r.Attributes().AsRaw())
			}
		}
	}
	require.Len(t, risk, 1, "one risk record: mallory's fifth denied request (the sixth record), once per window")
	assert.Equal(t, "mallory", risk[0]["risk_object"])
	assert.Equal(t, "user", risk[0]["risk_object_type"])
	assert.EqualValues(t, 73, risk[0]["risk_score"])
	assert.EqualValues(t, 5, risk[0]["event_count"])
	assert.Equal(t, "Burst of denied requests", risk[0]["search_name"])
	assert.Equal(t, "Burst of denied requests: user.username=mallory", risk[0]["risk_message"])
	assert.Equal(t, "d-5", risk[0]["auditID"], "the record the count was met on")
}
