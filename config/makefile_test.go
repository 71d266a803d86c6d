package config_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBuildPerPlatform runs the Makefile's build with a stand-in for ocb (it writes "<GOOS>/<GOARCH>" where ocb
// writes the binary), in a copy of the module's layout made of links, so that it builds nothing real and leaves the
// repository's bin/ alone: a binary is kept per platform, a cross build never reuses the machine's binary nor
// replaces it, and an unchanged platform's binary is up to date.
func TestBuildPerPlatform(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("SKIP: no make on this machine")
	}
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	dir := t.TempDir()
	for _, name := range []string{"go.mod", "go.sum", "builder-config.yaml", "processor", "internal"} {
		require.NoError(t, os.Symlink(filepath.Join(root, name), filepath.Join(dir, name)))
	}
	ocb := filepath.Join(dir, "fake-ocb")
	require.NoError(t, os.WriteFile(ocb, []byte("#!/bin/sh\nmkdir -p build/otelcol-auditdetect\n"+
		`printf '%s/%s' "$GOOS" "$GOARCH" > build/otelcol-auditdetect/otelcol-auditdetect`+"\n"), 0o755))

	host := runtime.GOOS + "_" + runtime.GOARCH
	other := "linux_arm64"
	if host == other {
		other = "linux_amd64"
	}
	otherOS, otherArch, _ := strings.Cut(other, "_")
	build := func(env ...string) string {
		t.Helper()
		cmd := exec.Command("make", "--no-print-directory", "-f", filepath.Join(root, "Makefile"), "OCB="+ocb, "build")
		cmd.Dir = dir
		for _, kv := range os.Environ() {
			// A make or go setting of the caller's must not steer this one (MAKEFLAGS under `make test`).
			if k, _, _ := strings.Cut(kv, "="); !strings.HasPrefix(k, "MAKE") && k != "MFLAGS" && k != "GOOS" && k != "GOARCH" {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		cmd.Env = append(cmd.Env, env...)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		return string(out)
	}
	content := func(name string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		return string(b)
	}
	hostBinary := "bin/" + host + "/otelcol-auditdetect"

	out := build()
	assert.Contains(t, out, ">> built "+hostBinary)
	assert.Equal(t, strings.Replace(host, "_", "/", 1), content(hostBinary))
	assert.Equal(t, content(hostBinary), content("bin/otelcol-auditdetect"), "the machine's binary is its platform's")

	out = build("GOOS="+otherOS, "GOARCH="+otherArch)
	assert.Contains(t, out, ">> built bin/"+other+"/otelcol-auditdetect", "a cross build does not take the machine's binary")
	assert.Equal(t, otherOS+"/"+otherArch, content("bin/"+other+"/otelcol-auditdetect"))
	assert.Equal(t, strings.Replace(host, "_", "/", 1), content("bin/otelcol-auditdetect"), "nor replaces it")

	out = build()
	assert.Contains(t, out, ">> "+hostBinary+" is up to date")
	assert.NotContains(t, out, ">> built")
}
