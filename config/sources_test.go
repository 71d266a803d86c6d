package config_test

import (
	"net"
	"net/url"
	"path/filepath"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSourceConfigs checks the per-source examples in sources/: each is wired, its auditdetect section loads through
// the real factory, and it names only components the distribution holds (the Makefile's test-binary then validates
// each with the built binary).
func TestSourceConfigs(t *testing.T) {
	tests := []struct {
		file    string
		formats []string
	}{
		{file: "filelog.yaml", formats: []string{"native"}},
		{file: "webhook.yaml", formats: []string{"eventlist"}},
		{file: "eks-awscloudwatch.yaml", formats: []string{"native", "eks"}},
		{file: "aks-azureeventhub.yaml", formats: []string{"aks"}},
		{file: "gke-googlecloudpubsub.yaml", formats: []string{"gke"}},
	}
	files, err := filepath.Glob(filepath.Join("sources", "*.yaml"))
	require.NoError(t, err)
	// Every collector config in sources/ is listed above (the kubeconfig is the API server's, not a collector's).
	var listed []string
	for _, tt := range tests {
		listed = append(listed, filepath.Join("sources", tt.file))
	}
	listed = append(listed, filepath.Join("sources", "webhook-kubeconfig.yaml"))
	sort.Strings(listed)
	assert.Equal(t, listed, files)

	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			name := filepath.Join("sources", tt.file)
			cfg := readYAML(t, name)
			if get(cfg, "service", "extensions") == nil {
				mapAt(t, cfg, "service")["extensions"] = []any{} // checkWiring reads the list
			}
			checkWiring(t, cfg)
			section := mapAt(t, cfg, "processors", "auditdetect")
			checkAuditdetect(t, section)
			assert.Equal(t, tt.formats, strs(section["formats"]), "formats")
			assert.Empty(t, unknownComponents(t, cfg), "components outside the distribution")
		})
	}
}

// TestWebhookKubeconfig: the API server's webhook kubeconfig points at the port and path the webhook config listens on,
// over TLS with a client certificate, and the receiver keeps a POST whole.
func TestWebhookKubeconfig(t *testing.T) {
	kc := readYAML(t, filepath.Join("sources", "webhook-kubeconfig.yaml"))
	clusters := get(kc, "clusters").([]any)
	require.Len(t, clusters, 1)
	server, err := url.Parse(get(clusters[0], "cluster", "server").(string))
	require.NoError(t, err)
	users := get(kc, "users").([]any)
	require.Len(t, users, 1)
	assert.NotEmpty(t, get(users[0], "user", "client-certificate"))
	assert.NotEmpty(t, get(users[0], "user", "client-key"))

	recv := mapAt(t, readYAML(t, filepath.Join("sources", "webhook.yaml")), "receivers", "splunk_hec/webhook")
	_, port, err := net.SplitHostPort(recv["endpoint"].(string))
	require.NoError(t, err)
	assert.Equal(t, "https", server.Scheme)
	assert.Equal(t, port, server.Port())
	assert.Equal(t, recv["raw_path"], server.Path)
	assert.Equal(t, "none", recv["splitting"], "one POST, one EventList, one record")
	assert.NotEmpty(t, get(recv, "tls", "client_ca_file"), "the raw endpoint checks no token: mutual TLS guards it")
}
