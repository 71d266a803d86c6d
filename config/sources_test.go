package config_test

import (
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSourceConfigs checks the per-source examples in sources/: each is wired, its auditdetect section loads through
// the real factory, and the only components it names outside the distribution are the ones its header tells the
// reader to add to builder-config.yaml, each at the distribution's contrib version.
func TestSourceConfigs(t *testing.T) {
	tests := []struct {
		file    string
		formats []string
		// extra are the components the distribution lacks, as kind and id.
		extra []string
	}{
		{file: "filelog.yaml", formats: []string{"native"}},
		{file: "webhook.yaml", formats: []string{"eventlist"}},
		{file: "eks-awscloudwatch.yaml", formats: []string{"native", "eks"}, extra: []string{"receivers awscloudwatch/eks"}},
		{file: "aks-azureeventhub.yaml", formats: []string{"aks"}, extra: []string{"receivers azureeventhub/aks"}},
		{
			file: "gke-googlecloudpubsub.yaml", formats: []string{"gke"},
			extra: []string{"extensions text_encoding/gke", "receivers googlecloudpubsub/gke"},
		},
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

	gomod := regexp.MustCompile(`#\s+- gomod: (\S+) (\S+)`)
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
			assert.Equal(t, tt.extra, unknownComponents(t, cfg))

			// The header names a module for each missing component, at the distribution's contrib version.
			raw, err := os.ReadFile(name)
			require.NoError(t, err)
			var named, missing []string
			for _, m := range gomod.FindAllStringSubmatch(string(raw), -1) {
				assert.Equal(t, "v0.145.0", m[2], m[1])
				// The module's last element names the type: textencodingextension → textencoding.
				named = append(named, strings.TrimSuffix(strings.TrimSuffix(filepath.Base(m[1]), "receiver"), "extension"))
			}
			for _, e := range tt.extra {
				typ, _, _ := strings.Cut(strings.Fields(e)[1], "/")
				missing = append(missing, strings.ReplaceAll(typ, "_", ""))
			}
			assert.ElementsMatch(t, missing, named, "modules named in the header")
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
