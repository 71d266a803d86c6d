// Package corpus finds the compatibility corpus for tests: real ESCU, Sigma and Elastic rules and audit events, kept
// outside the repository (../shared/corpus beside it, or AUDITDETECT_CORPUS).
package corpus

import (
	"os"
	"path/filepath"
	"testing"
)

// Dir returns the corpus folder. Without one, the test is skipped with a message saying where it looked; under CI
// (CI=true) it fails instead, so that a CI run never counts as passed a corpus test it did not run.
func Dir(tb testing.TB) string {
	tb.Helper()
	dir, err := find()
	if err != nil {
		if inCI() {
			tb.Fatalf("compatibility corpus not found (%v): CI must run the corpus tests", err)
		}
		tb.Skipf("SKIP: compatibility corpus not found (%v); set AUDITDETECT_CORPUS to run these tests", err)
	}
	return dir
}

// Optional returns the corpus folder, or "" for a test that also runs without it (on fewer inputs); under CI a
// missing corpus fails the test.
func Optional(tb testing.TB) string {
	tb.Helper()
	dir, err := find()
	if err != nil {
		if inCI() {
			tb.Fatalf("compatibility corpus not found (%v): CI must run the corpus tests", err)
		}
		return ""
	}
	return dir
}

// inCI says the tests run in CI: CI set to anything but false or 0 (CI services set true or 1).
func inCI() bool {
	v := os.Getenv("CI")
	return v != "" && v != "false" && v != "0"
}

// find returns AUDITDETECT_CORPUS (a relative path is from the module root, as a user at the root means it), or
// ../shared/corpus beside the module root (the folder of go.mod above the working directory, which go test sets to
// the package's folder).
func find() (string, error) {
	root, err := moduleRoot()
	if dir := os.Getenv("AUDITDETECT_CORPUS"); dir != "" {
		if !filepath.IsAbs(dir) && err == nil {
			dir = filepath.Join(root, dir)
		}
		_, err := os.Stat(dir)
		return dir, err
	}
	if err != nil {
		return "", err
	}
	corpus := filepath.Join(filepath.Dir(root), "shared", "corpus")
	_, err = os.Stat(corpus)
	return corpus, err
}

func moduleRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		if filepath.Dir(dir) == dir {
			return "", os.ErrNotExist
		}
	}
}
