package main

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLookupFlag: -lookup gives a lookup's CSV file, as the processor's lookups setting: scan runs the detections of a
// security_content layout with the user's own allow-list instead of the one beside the lookup file, plain or
// gzip-compressed (.csv.gz).
func TestLookupFlag(t *testing.T) {
	content := filepath.Join("..", "..", "processor", "compat", "testdata", "escu-lookups")
	dir := t.TempDir()
	events := filepath.Join(dir, "audit.log")
	require.NoError(t, os.WriteFile(events, []byte(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"a1","stage":"ResponseComplete","verb":"create","user":{"username":"mallory"},"sourceIPs":["10.0.0.1"],"objectRef":{"resource":"pods","namespace":"default","name":"web"},"responseStatus":{"code":201},"stageTimestamp":"2026-01-05T10:00:00Z"}`+"\n"), 0o600))

	records, _ := scanJSON(t, "-events", events, content)
	require.Len(t, records, 1, "default is on no allow-list")

	own := filepath.Join(dir, "namespaces.csv")
	require.NoError(t, os.WriteFile(own, []byte("namespace,is_allowed\ndefault,true\n"), 0o600))
	records, _ = scanJSON(t, "-lookup", "kube_allowed_namespaces="+own, "-events", events, content)
	assert.Empty(t, records, "default is on the user's allow-list")

	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	_, err := w.Write([]byte("namespace,is_allowed\ndefault,true\n"))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	compressed := filepath.Join(dir, "namespaces.csv.gz")
	require.NoError(t, os.WriteFile(compressed, gz.Bytes(), 0o600))
	records, _ = scanJSON(t, "-lookup", "kube_allowed_namespaces="+compressed, "-events", events, content)
	assert.Empty(t, records, "default is on the user's compressed allow-list")

	var out, errOut bytes.Buffer
	assert.Equal(t, exitUsage, run([]string{"scan", "-lookup", "no-file", "-events", events, content}, &out, &errOut))
	assert.Contains(t, errOut.String(), "want name=file.csv")
}
