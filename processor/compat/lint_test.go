package compat

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/auditdetect/auditdetect/processor/builtin"
	"github.com/auditdetect/auditdetect/processor/coverage"
	"github.com/auditdetect/auditdetect/processor/lint"
	"github.com/auditdetect/auditdetect/processor/loader"
	"github.com/auditdetect/auditdetect/processor/rule"
)

// TestCorpusNeverTrueTerms runs package lint over every corpus rule that loads and the built-in pack. Four corpus
// rules can never match an API server's event, the four Sigma rules docs/sigma-elastic.md lists as reading fields
// audit events lack: top-level hostPath, capabilities and apiGroup, and responseStatus.code compared with the word
// ALLOW (ANDed with the rest of the rule). Three more carry dead alternatives that leave their rules running (Sigma's
// `replace`, which an audit event writes as update; an Elastic rule listing the stage ResponseComplete among levels).
// The built-in pack has none.
func TestCorpusNeverTrueTerms(t *testing.T) {
	dir := corpusDir(t)
	res, err := loader.Load(loader.Options{Paths: []string{loader.Builtin, filepath.Join(dir, "escu", "macros"),
		filepath.Join(dir, "escu", "v4"), filepath.Join(dir, "escu", "v5"), filepath.Join(dir, "sigma"),
		filepath.Join(dir, "elastic")}, Builtin: builtin.FS, SkipErrors: true})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range res.Rules {
		l := lint.Check(r)
		for _, f := range l.Findings {
			got = append(got, fmt.Sprintf("%s %s: %s never=%v", r.Origin.Format, filepath.Base(r.Origin.File), f.Term, l.NeverMatches))
		}
	}
	for _, r := range res.Rules {
		for _, h := range coverage.ResourceHints(r) {
			t.Errorf("%s: %s", r.Origin, h)
		}
	}
	sort.Strings(got)
	want := []string{
		"elastic discovery_endpoint_permission_enumeration_by_anonymous_user.toml: level=ResponseComplete never=false",
		"elastic execution_anonymous_create_update_patch_pod_request.toml: level=ResponseComplete never=false",
		"sigma kubernetes_audit_change_admission_controller.yml: verb=replace never=false",
		"sigma kubernetes_audit_cronjob_modification.yml: verb=replace never=false",
		"sigma kubernetes_audit_hostpath_mount.yml: hostPath=* never=true",
		"sigma kubernetes_audit_potential_enumeration_activity.yml: responseStatus.code=ALLOW never=true",
		"sigma kubernetes_audit_privileged_pod_creation.yml: capabilities=* never=true",
		"sigma kubernetes_audit_rbac_permisions_listing.yml: apiGroup=authorization.k8s.io never=true",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("never-true terms:\n%s\nwant:\n%s", fmt.Sprint(got), fmt.Sprint(want))
	}
}

// TestCorpusMessageTokens: every $field$ token of the corpus's ESCU risk messages and of the built-in pack's names a
// field the detection's results hold, so the loader says none (a token no row can fill would stay as written in every
// risk record). Each ESCU generation is loaded on its own, so that the v4 versions of the two v5 detections are
// checked too. The count pins that the tokens were there to check: 25 in the corpus (the v4 Kubernetes AWS kubectl
// detection's message is "tbd"), 140 in the pack.
func TestCorpusMessageTokens(t *testing.T) {
	dir := corpusDir(t)
	macros := filepath.Join(dir, "escu", "macros")
	var warned []string
	tokens := map[string]int{}
	for _, set := range []struct {
		name  string
		paths []string
	}{
		{"pack", []string{loader.Builtin}},
		{"corpus", []string{macros, filepath.Join(dir, "escu", "v4")}},
		{"corpus", []string{macros, filepath.Join(dir, "escu", "v5")}},
	} {
		core, logs := observer.New(zapcore.WarnLevel)
		res, err := loader.Load(loader.Options{Paths: set.paths, Builtin: builtin.FS, Logger: zap.New(core)})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res.Rules {
			tokens[set.name] += len(rule.MessageTokens(r.Risk.Message, func(string) bool { return true }))
		}
		for _, e := range logs.FilterMessageSnippet("risk message names a field its results never hold").All() {
			ctx := e.ContextMap()
			warned = append(warned, fmt.Sprintf("%s: %s %s", ctx["file"], ctx["rule"], ctx["token"]))
		}
	}
	if len(warned) > 0 {
		t.Errorf("message tokens no result row fills:\n%s", strings.Join(warned, "\n"))
	}
	if tokens["corpus"] != 25 || tokens["pack"] != 166 {
		t.Errorf("tokens checked: %v, want corpus 25, pack 166", tokens)
	}
}

// TestCorpusStatus: every corpus rule that loads carries the status its file writes (ESCU and Sigma `status:`,
// Elastic `maturity`), read here from the text independently; none of the corpus is deprecated.
func TestCorpusStatus(t *testing.T) {
	dir := corpusDir(t)
	res, err := loader.Load(loader.Options{Paths: []string{filepath.Join(dir, "escu", "macros"), filepath.Join(dir, "escu", "v4"),
		filepath.Join(dir, "escu", "v5"), filepath.Join(dir, "sigma"), filepath.Join(dir, "elastic")}, SkipErrors: true})
	if err != nil {
		t.Fatal(err)
	}
	written := regexp.MustCompile(`(?m)^(?:status:\s*|maturity\s*=\s*")([A-Za-z]+)`)
	counts := map[string]int{}
	for _, r := range res.Rules {
		data, err := os.ReadFile(r.Origin.File)
		if err != nil {
			t.Fatal(err)
		}
		want := ""
		if m := written.FindSubmatch(data); m != nil {
			want = strings.ToLower(string(m[1]))
		}
		if r.Status != want || r.Deprecated() {
			t.Errorf("%s: status %q, the file writes %q", r.Origin.File, r.Status, want)
		}
		counts[r.Origin.Format+" "+r.Status]++
	}
	t.Logf("statuses: %v", counts)
	if counts["escu production"] == 0 || counts["sigma test"] == 0 || counts["elastic production"] == 0 {
		t.Errorf("statuses %v: the corpus's production ESCU, test Sigma and production Elastic rules are missing", counts)
	}
}
