package auditdetectprocessor

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/confmap/xconfmap"

	"github.com/auditdetect/auditdetect/processor/auditdetectprocessor/internal/metadata"
)

func loadFormatsConfig(t *testing.T, name string) (*Config, error) {
	t.Helper()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "formats.yaml"))
	require.NoError(t, err)
	sub, err := cm.Sub(component.NewIDWithName(metadata.Type, name).String())
	require.NoError(t, err)
	cfg := createDefaultConfig()
	require.NoError(t, sub.Unmarshal(cfg))
	return cfg, xconfmap.Validate(cfg)
}

func TestFormatsConfig(t *testing.T) {
	cfg, err := loadFormatsConfig(t, "formats")
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"pod.name": "user.extra.authentication.kubernetes.io/pod-name"}, cfg.ElasticFieldMap)
	assert.Equal(t, RuleOverride{
		RiskObjects:   []RiskObjectConfig{{Field: "objectRef.namespace", Type: "system"}, {Field: "user.username", Type: "user", Score: 80}},
		ThreatObjects: []ThreatObjectConfig{{Field: "objectRef.name", Type: "system"}},
		Message:       "$user.username$ ran a command in pod $objectRef.namespace$/$objectRef.name$ from $src_ip$",
	}, cfg.RuleOverrides["Test Exec Into Pod"])

	for name, msg := range map[string]string{
		"unmapped_field":    `field "pod.name" is not in the Kubernetes audit event`,
		"bad_field_map":     `elastic_field_map "user.*": a prefix entry must map to a path ending in .*`,
		"bad_risk_override": `rule_overrides "Test Exec Into Pod": risk object type "cluster" is not user, system or other`,
		"bad_threat_type":   `rule_overrides "Test Exec Into Pod": threat object type "pod" is not one of ESCU's (contentctl): certificate_common_name,`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := loadFormatsConfig(t, name)
			assert.ErrorContains(t, err, msg)
		})
	}
}

func TestSigmaAndElasticRiskRecords(t *testing.T) {
	cfg, err := loadFormatsConfig(t, "formats")
	require.NoError(t, err)
	p, sink, _ := newTestProcessor(t, cfg)
	const (
		exec = `{"kind":"Event","auditID":"x-1","verb":"create","user":{"username":"mallory"},"sourceIPs":["203.0.113.7","10.0.0.2"],` +
			`"objectRef":{"resource":"pods","namespace":"shop","name":"web-1","subresource":"exec"},"requestURI":"/api/v1/namespaces/shop/pods/web-1/exec"}`
		secret = `{"kind":"Event","auditID":"s-1","verb":"get","user":{"username":"system:serviceaccount:shop:web",` +
			`"extra":{"authentication.kubernetes.io/pod-name":["web-1"]}},"sourceIPs":["10.244.1.7"],` +
			`"objectRef":{"resource":"secrets","namespace":"shop","name":"db"},"requestURI":"/api/v1/namespaces/shop/secrets/db"}`
		secretNoPod = `{"kind":"Event","auditID":"s-2","verb":"get","user":{"username":"dev"},"sourceIPs":["10.0.0.9"],` +
			`"objectRef":{"resource":"secrets","namespace":"shop","name":"db"}}`
	)
	require.NoError(t, p.ConsumeLogs(context.Background(), input(str(exec), str(secret), str(secretNoPod))))

	type riskRec struct {
		search, object, objectType string
		score                      int64
		threat, severity, message  string
	}
	var got []riskRec
	for _, r := range records(sink.AllLogs()[0]) {
		if !isRisk(r) {
			continue
		}
		a := r.Attributes().AsRaw()
		threat, _ := a["threat_object"].(string)
		got = append(got, riskRec{a["search_name"].(string), a["risk_object"].(string), a["risk_object_type"].(string),
			a["risk_score"].(int64), threat, a["severity"].(string), a["risk_message"].(string)})
	}
	assert.Equal(t, []riskRec{
		// Sigma, objects and message overridden: the namespace scores the rule's own 73, the user the configured 80.
		{"Test Exec Into Pod", "shop", "system", 73, "web-1", "high", "mallory ran a command in pod shop/web-1 from 203.0.113.7, 10.0.0.2"},
		{"Test Exec Into Pod", "mallory", "user", 80, "web-1", "high", "mallory ran a command in pod shop/web-1 from 203.0.113.7, 10.0.0.2"},
		// Elastic, default objects and message: the user, and the first source address as the threat.
		{"Test Secret Read By Pod Identity", "system:serviceaccount:shop:web", "user", 73, "10.244.1.7", "high",
			"Test Secret Read By Pod Identity: get /api/v1/namespaces/shop/secrets/db by system:serviceaccount:shop:web from 10.244.1.7"},
	}, got)
}
