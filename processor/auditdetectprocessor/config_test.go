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
				ESCUApp:        "ACME",
				SPLTimeZone:    "Europe/Berlin",
				Window:         30 * time.Minute,
				MaxKeys:        5000,
				MaxBodyBytes:   1 << 20,
				// The default, as the file does not set it.
				MaxRiskEventsPerRecord: 100,
				AllowedLateness:        5 * time.Minute,
				IdleTimeout:            time.Minute,
				CheckpointInterval:     time.Minute,
			},
		},
		{
			id: component.NewIDWithName(metadata.Type, "storage"),
			expected: func() *Config {
				cfg := createDefaultConfig()
				id := component.MustNewIDWithName("file_storage", "state")
				cfg.Storage = &id
				cfg.CheckpointInterval = 30 * time.Second
				return cfg
			}(),
		},
		{id: component.NewIDWithName(metadata.Type, "bad_checkpoint_interval"), errMsg: "checkpoint_interval: must not be negative"},
		{
			id: component.NewIDWithName(metadata.Type, "stateful"),
			expected: func() *Config {
				cfg := createDefaultConfig()
				cfg.Rules = []string{"testdata/rules"}
				cfg.AllowedLateness = time.Minute
				cfg.NewTermsLearning = 2 * time.Hour
				cfg.RuleOverrides = map[string]RuleOverride{
					"0b6f9a43-51a4-4a43-9d6c-5a3c2c1e0001": {Window: 2 * time.Hour},
					"Test NodePort":                        {Throttle: &ThrottleConfig{Fields: []string{"user", "src_ip"}, Window: 10 * time.Minute}},
				}
				return cfg
			}(),
		},
		{
			id: component.NewIDWithName(metadata.Type, "disabled"),
			expected: func() *Config {
				cfg := createDefaultConfig()
				off := false
				cfg.RuleOverrides = map[string]RuleOverride{
					"Kubernetes Pod Created in Default or System Namespace": {Enabled: &off},
				}
				return cfg
			}(),
		},
		{
			id: component.NewIDWithName(metadata.Type, "route"),
			expected: func() *Config {
				cfg := createDefaultConfig()
				cfg.Mode = ModeRoute
				cfg.RoutingAttribute = "auditdetect.routing_key"
				return cfg
			}(),
		},
		{id: component.NewIDWithName(metadata.Type, "bad_lateness"), errMsg: "allowed_lateness: must not be negative"},
		{id: component.NewIDWithName(metadata.Type, "huge_lateness"), errMsg: "allowed_lateness: must be at most 8784h0m0s (366 days), got 2562047h0m0s"},
		{id: component.NewIDWithName(metadata.Type, "huge_throttle_window"), errMsg: `rule_overrides: "Test NodePort": throttle.window: must be at most 8784h0m0s`},
		{id: component.NewIDWithName(metadata.Type, "tiny_reload_interval"), errMsg: "reload_interval: must be 0 (off) or at least 1s, got 1ns"},
		{id: component.NewIDWithName(metadata.Type, "tiny_checkpoint_interval"), errMsg: "checkpoint_interval: must be 0 (off) or at least 1s, got 10ms"},
		{id: component.NewIDWithName(metadata.Type, "tiny_idle_timeout"), errMsg: "idle_timeout: must be 0 (off) or at least 1s, got 10ms"},
		{id: component.NewIDWithName(metadata.Type, "idle_off"), expected: func() *Config {
			c := createDefaultConfig()
			c.IdleTimeout = 0
			return c
		}()},
		{id: component.NewIDWithName(metadata.Type, "bad_new_terms_learning"), errMsg: "new_terms_learning: must not be negative"},
		{id: component.NewIDWithName(metadata.Type, "bad_throttle_window"), errMsg: `rule_overrides: "x": throttle.window must be positive`},
		{id: component.NewIDWithName(metadata.Type, "throttle_in_enrich"), errMsg: "enrich mode does not write"},
		{id: component.NewIDWithName(metadata.Type, "unknown_override"), errMsg: `rule_overrides: no loaded rule has the id or name "No Such Rule"`},
		{id: component.NewIDWithName(metadata.Type, "route_drop_unmatched"), errMsg: "drop_unmatched: route mode must forward every record"},
		{id: component.NewIDWithName(metadata.Type, "bad_mode"), errMsg: `mode: "copy" is not fork, enrich or route`},
		{id: component.NewIDWithName(metadata.Type, "bad_on_rule_error"), errMsg: `on_rule_error: "ignore" is not fail or skip`},
		{id: component.NewIDWithName(metadata.Type, "no_rules"), errMsg: "rules: at least one entry is required"},
		{id: component.NewIDWithName(metadata.Type, "missing_rules"), errMsg: "testdata/does-not-exist"},
		{id: component.NewIDWithName(metadata.Type, "bad_window"), errMsg: "window: must be positive"},
		{id: component.NewIDWithName(metadata.Type, "bad_spl_time_zone"), errMsg: `spl_time_zone: unknown time zone "Europe/Bonn": name an IANA zone such as UTC or Europe/Berlin`},
		{id: component.NewIDWithName(metadata.Type, "local_spl_time_zone"), errMsg: `spl_time_zone: time zone "Local" is the host's`},
		{id: component.NewIDWithName(metadata.Type, "empty_risk_sourcetype"), errMsg: "risk_sourcetype: must not be empty in fork mode"},
		{id: component.NewIDWithName(metadata.Type, "bad_max_body_bytes"), errMsg: "max_body_bytes: must be positive"},
		{id: component.NewIDWithName(metadata.Type, "bad_max_risk_events"), errMsg: "max_risk_events_per_record: must be positive"},
		{id: component.NewIDWithName(metadata.Type, "formats"), expected: func() *Config {
			c := createDefaultConfig()
			c.Formats = []string{"native", "eventlist", "GKE"}
			return c
		}()},
		{id: component.NewIDWithName(metadata.Type, "bad_throttle_field"), errMsg: `rule_overrides: "Test NodePort": throttle.fields "user.username": rule "Test NodePort" has no such result field (its results have: objectRef.name, objectRef.namespace, src_ip, user, verb, count, user_groups)`},
		{id: component.NewIDWithName(metadata.Type, "bad_throttle_field_by_search_name"), errMsg: `rule_overrides: "ESCU - Test NodePort - Rule": throttle.fields "user.username": rule "Test NodePort" has no such result field`},
		{id: component.NewIDWithName(metadata.Type, "bad_risk_field"), errMsg: `rule_overrides "Test NodePort": risk_objects[].field "usr": rule "Test NodePort" has no such result field (its results have: objectRef.name, objectRef.namespace, src_ip, user, verb, count, user_groups)`},
		{id: component.NewIDWithName(metadata.Type, "bad_override_message"), errMsg: `rule_overrides "Test NodePort": message holds U+000A, a control character or line break, at byte 25`},
		{id: component.NewIDWithName(metadata.Type, "bad_threat_field"), errMsg: `rule_overrides "Test NodePort": threat_objects[].field "sourceIPs{}": rule "Test NodePort" has no such result field`},
		{id: component.NewIDWithName(metadata.Type, "unused_macro"), errMsg: `macros: "test_nodeport_filtr" is referenced by no loaded rule, so it would change nothing (did you mean "test_nodeport_filter"?)`},
		{id: component.NewIDWithName(metadata.Type, "bad_formats"), errMsg: `formats: "cloudtrail" is not one of native, eventlist, eks, aks, gke`},
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
