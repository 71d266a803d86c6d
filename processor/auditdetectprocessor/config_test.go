package auditdetectprocessor

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/confmap/xconfmap"

	"github.com/auditdetect/auditdetect/processor/auditdetectprocessor/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	tests := []struct {
		id       component.ID
		expected *Config
		errMsg   string
	}{
		{id: component.NewID(metadata.Type), expected: createDefaultConfig()},
		{
			id: component.NewIDWithName(metadata.Type, "custom"),
			expected: &Config{
				Rules: []string{"builtin", "testdata/rules"},
				Macros: map[string]string{
					"kube_audit":           `index=k8s sourcetype="kube:apiserver-audit"`,
					"test_nodeport_filter": "search NOT user=admin",
				},
				OnRuleError:    RuleErrorSkip,
				Mode:           ModeEnrich,
				DropUnmatched:  true,
				RiskIndex:      "security_risk",
				RiskSourcetype: "auditdetect:risk",
				Window:         30 * time.Minute,
				MaxKeys:        5000,
			},
		},
		{id: component.NewIDWithName(metadata.Type, "bad_mode"), errMsg: `mode: "copy" is not fork or enrich`},
		{id: component.NewIDWithName(metadata.Type, "bad_on_rule_error"), errMsg: `on_rule_error: "ignore" is not fail or skip`},
		{id: component.NewIDWithName(metadata.Type, "no_rules"), errMsg: "rules: at least one entry is required"},
		{id: component.NewIDWithName(metadata.Type, "missing_rules"), errMsg: "testdata/does-not-exist"},
		{id: component.NewIDWithName(metadata.Type, "bad_window"), errMsg: "window: must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.id.String(), func(t *testing.T) {
			cfg := NewFactory().CreateDefaultConfig()
			sub, err := cm.Sub(tt.id.String())
			require.NoError(t, err)
			require.NoError(t, sub.Unmarshal(cfg))
			err = xconfmap.Validate(cfg)
			if tt.errMsg != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.errMsg)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.expected, cfg)
		})
	}
}

func TestConfigStruct(t *testing.T) {
	require.NoError(t, componenttest.CheckConfigStruct(createDefaultConfig()))
}
