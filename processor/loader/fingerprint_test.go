package loader

import (
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDigest(t *testing.T) {
	write := func(t *testing.T, p, s string) {
		t.Helper()
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(s), 0o600))
	}
	tests := []struct {
		name string
		// change alters the rule directory after the first digest.
		change  func(t *testing.T, dir string)
		changed bool
	}{
		{name: "nothing changes", change: func(*testing.T, string) {}, changed: false},
		{name: "same content rewritten", change: func(t *testing.T, dir string) { write(t, filepath.Join(dir, "rules", "a.yml"), "a: 1\n") }, changed: false},
		{name: "content edited", change: func(t *testing.T, dir string) { write(t, filepath.Join(dir, "rules", "a.yml"), "a: 2\n") }, changed: true},
		{name: "file added", change: func(t *testing.T, dir string) { write(t, filepath.Join(dir, "rules", "c.yml"), "c: 1\n") }, changed: true},
		{name: "file renamed", change: func(t *testing.T, dir string) {
			require.NoError(t, os.Rename(filepath.Join(dir, "rules", "b.yml"), filepath.Join(dir, "rules", "b2.yml")))
		}, changed: true},
		{name: "non-rule file added", change: func(t *testing.T, dir string) { write(t, filepath.Join(dir, "rules", "README.md"), "x") }, changed: false},
		{name: "ConfigMap update: ..data swapped to a new directory", change: func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, "rules", "..2026_12_02", "cm.yml"), "cm: 2\n")
			tmp := filepath.Join(dir, "rules", "..data_tmp")
			require.NoError(t, os.Symlink("..2026_12_02", tmp))
			require.NoError(t, os.Rename(tmp, filepath.Join(dir, "rules", "..data")))
		}, changed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			rules := filepath.Join(dir, "rules")
			write(t, filepath.Join(rules, "a.yml"), "a: 1\n")
			write(t, filepath.Join(rules, "b.yml"), "b: 1\n")
			// A ConfigMap volume: the file is a link through ..data, itself a link to a timestamped directory.
			write(t, filepath.Join(rules, "..2026_12_01", "cm.yml"), "cm: 1\n")
			require.NoError(t, os.Symlink("..2026_12_01", filepath.Join(rules, "..data")))
			require.NoError(t, os.Symlink(filepath.Join("..data", "cm.yml"), filepath.Join(rules, "cm.yml")))

			opts := Options{Paths: []string{rules}}
			before, err := Digest(opts)
			require.NoError(t, err)
			tt.change(t, dir)
			after, err := Digest(opts)
			require.NoError(t, err)
			assert.Equal(t, tt.changed, before != after)
		})
	}
}

func TestDigestErrors(t *testing.T) {
	_, err := Digest(Options{Paths: []string{filepath.Join(t.TempDir(), "gone")}})
	require.Error(t, err)

	pack := fstest.MapFS{"x.yml": {Data: []byte("x: 1\n")}}
	a, err := Digest(Options{Paths: []string{Builtin}, Builtin: pack})
	require.NoError(t, err)
	b, err := Digest(Options{Paths: []string{Builtin}, Builtin: pack})
	require.NoError(t, err)
	assert.Equal(t, a, b, "the embedded pack digests the same every time")
	c, err := Digest(Options{Paths: []string{Builtin}, Builtin: fstest.MapFS{"x.yml": {Data: []byte("x: 2\n")}}})
	require.NoError(t, err)
	assert.NotEqual(t, a, c)
}
