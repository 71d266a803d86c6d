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
	root, dir, ocb := fakeModule(t)

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

// TestCrossBuildInstallsToolsForTheMachine: a cross build (`GOOS=linux GOARCH=arm64 make build`, as the image's
// instructions run it on a Mac) on a fresh clone installs ocb first, and ocb runs on this machine: it is installed for
// the machine's platform whatever GOOS and GOARCH say (with GOBIN set, `go install` refuses a cross-compiled binary:
// "cannot install cross-compiled binaries when GOBIN is set"). A stand-in for go records the platform it is asked to
// install for, and installs the stand-in for ocb.
func TestCrossBuildInstallsToolsForTheMachine(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("SKIP: no make on this machine")
	}
	realGo, err := exec.LookPath("go")
	if err != nil {
		t.Skip("SKIP: no go on the PATH")
	}
	root, dir, ocb := fakeModule(t)
	fakeGo := filepath.Join(dir, "fake-go")
	require.NoError(t, os.WriteFile(fakeGo, []byte("#!/bin/sh\n"+
		`if [ "$1" = install ]; then printf '%s/%s' "${GOOS:-}" "${GOARCH:-}" > "$GOBIN/installed-for"; `+
		`cp `+ocb+` "$GOBIN/builder"; exit 0; fi`+"\n"+
		`exec `+realGo+` "$@"`+"\n"), 0o755))

	host := runtime.GOOS + "_" + runtime.GOARCH
	other := "linux_arm64"
	if host == other {
		other = "linux_amd64"
	}
	otherOS, otherArch, _ := strings.Cut(other, "_")
	cmd := exec.Command("make", "--no-print-directory", "-f", filepath.Join(root, "Makefile"), "GO="+fakeGo,
		"TOOLS_BIN="+filepath.Join(dir, "tools"), "build")
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); !strings.HasPrefix(k, "MAKE") && k != "MFLAGS" && k != "GOOS" && k != "GOARCH" {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "GOOS="+otherOS, "GOARCH="+otherArch)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	installed, err := os.ReadFile(filepath.Join(dir, "tools", "installed-for"))
	require.NoError(t, err, "%s", out)
	assert.Equal(t, strings.Replace(host, "_", "/", 1), string(installed), "ocb is installed for this machine")
	built, err := os.ReadFile(filepath.Join(dir, "bin", other, "otelcol-auditdetect"))
	require.NoError(t, err, "%s", out)
	assert.Equal(t, otherOS+"/"+otherArch, string(built), "the binary is built for GOOS/GOARCH")
}

// fakeModule returns the repository's root and a temporary copy of the module's layout made of links, with a
// stand-in for ocb in it (it writes "<GOOS>/<GOARCH>" where ocb writes the binary).
func fakeModule(t *testing.T) (root, dir, ocb string) {
	t.Helper()
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	dir = t.TempDir()
	for _, name := range []string{"go.mod", "go.sum", "builder-config.yaml", "processor", "internal"} {
		require.NoError(t, os.Symlink(filepath.Join(root, name), filepath.Join(dir, name)))
	}
	ocb = filepath.Join(dir, "fake-ocb")
	require.NoError(t, os.WriteFile(ocb, []byte("#!/bin/sh\nmkdir -p build/otelcol-auditdetect\n"+
		`printf '%s/%s' "$GOOS" "$GOARCH" > build/otelcol-auditdetect/otelcol-auditdetect`+"\n"), 0o755))
	return root, dir, ocb
}
