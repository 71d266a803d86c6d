package escu

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// contentctl computes a v4 score as round(confidence * impact / 100) with Python's round (half to even):
// contentctl/objects/detection_tags.py (computed risk_score) and the older validator that required
// risk_score == round(impact * confidence / 100).
func TestV4ScoreRoundsAsContentctl(t *testing.T) {
	for _, tc := range []struct {
		impact, confidence, want int
	}{
		{90, 55, 50}, // 49.5 -> 50 (half to even)
		{70, 75, 52}, // 52.5 -> 52 (half to even)
		{95, 90, 86}, // 85.5 -> 86
		{35, 95, 33}, // 33.25 -> 33
		{66, 66, 44}, // 43.56 -> 44
		{80, 50, 40},
	} {
		data := []byte("name: x\nsearch: a=1\ntags:\n  impact: " + strconv.Itoa(tc.impact) + "\n  confidence: " + strconv.Itoa(tc.confidence) +
			"\n  observable:\n  - {name: user, type: User, role: [Victim]}\n")
		r, err := Parse("t.yml", data, nil, nil)
		require.NoError(t, err)
		assert.Equal(t, []rule.RiskObject{{Field: "user", Type: "user", Score: tc.want}}, r.Risk.Objects,
			"impact %d confidence %d", tc.impact, tc.confidence)
	}
}

// contentctl 4.x (detection_abstract.py, Detection_Abstract.risk): an Attacker observable of type File, File Name or
// File Hash is a threat object of type file_name; any other Attacker type is entity.type.lower().
func TestV4AttackerThreatTypesAsContentctl(t *testing.T) {
	data := []byte(`name: x
search: a=1
tags:
  risk_score: 20
  observable:
  - {name: u, type: User, role: [Victim]}
  - {name: h, type: File Hash, role: [Attacker]}
  - {name: r, type: Registry Key, role: [Attacker]}
`)
	r, err := Parse("t.yml", data, nil, nil)
	require.NoError(t, err)
	assert.Equal(t, []rule.ThreatObject{{Field: "h", Type: "file_name"}, {Field: "r", Type: "registry key"}}, r.Risk.Threats)
}
