package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/auditdetect/auditdetect/processor/auditdetectprocessor"
)

// collectorRisk sends lines through the processor (default config, fork mode, the rules given), one record per
// batch, and returns its risk records' attributes as scan -format json prints them.
func collectorRisk(t *testing.T, rules []string, lines []string) []map[string]any {
	t.Helper()
	factory := auditdetectprocessor.NewFactory()
	sink := new(consumertest.LogsSink)
	cfg := factory.CreateDefaultConfig().(*auditdetectprocessor.Config)
	cfg.Rules = rules
	proc, err := factory.CreateLogs(context.Background(), processortest.NewNopSettings(factory.Type()), cfg, sink)
	require.NoError(t, err)
	require.NoError(t, proc.Start(context.Background(), componenttest.NewNopHost()))
	for _, l := range lines {
		logs := plog.NewLogs()
		logs.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr(l)
		require.NoError(t, proc.ConsumeLogs(context.Background(), logs))
	}
	require.NoError(t, proc.Shutdown(context.Background()))
	var out []map[string]any
	for _, ld := range sink.AllLogs() {
		for i := 0; i < ld.ResourceLogs().Len(); i++ {
			sls := ld.ResourceLogs().At(i).ScopeLogs()
			for j := 0; j < sls.Len(); j++ {
				for k := 0; k < sls.At(j).LogRecords().Len(); k++ {
					rec := sls.At(j).LogRecords().At(k)
					if idx, ok := rec.Attributes().Get("com.splunk.index"); ok && idx.Str() == "risk" {
						a := rec.Attributes().AsRaw()
						a["_time"] = rec.Timestamp().AsTime().UTC().Format(time.RFC3339Nano)
						out = append(out, a)
					}
				}
			}
		}
	}
	return out
}

// TestScanCountsLateEventsAsTheCollector: the collector keeps a window open for events up to allowed_lateness (5m
// by default) older than the newest one; scan must count them the same, or a burst the collector reports is missed.
func TestScanCountsLateEventsAsTheCollector(t *testing.T) {
	dir := t.TempDir()
	rules := filepath.Join(dir, "many.yml")
	require.NoError(t, os.WriteFile(rules, []byte("name: Many Creates\nid: 7f000000-0000-4000-8000-00000000000b\n"+
		"search: verb=create | stats count by user.username | rename user.username as user | where count > 2\n"+
		"rba:\n  message: $user$ created $count$\n  risk_objects:\n    - field: user\n      type: user\n      score: 20\n"), 0o600))
	ev := func(id, user, ts string) string {
		return fmt.Sprintf(`{"auditID":"%s","verb":"create","user":{"username":%q},"stageTimestamp":"2026-03-01T%sZ"}`, id, user, ts)
	}
	// alice's third create arrives 20 seconds late, after bob's event of the next hour.
	lines := []string{ev("1", "alice", "10:59:00"), ev("2", "alice", "10:59:30"), ev("3", "bob", "11:00:10"), ev("4", "alice", "10:59:50")}
	log := filepath.Join(dir, "audit.log")
	require.NoError(t, os.WriteFile(log, []byte(strings.Join(lines, "\n")+"\n"), 0o600))

	collected := collectorRisk(t, []string{rules}, lines)
	require.Len(t, collected, 1, "the collector reports alice's three creates")
	scanned, _ := scanJSON(t, "-events", log, rules)
	// Through JSON both ways, so that numbers compare alike.
	b, err := json.Marshal(collected)
	require.NoError(t, err)
	s, err := json.Marshal(scanned)
	require.NoError(t, err)
	assert.JSONEq(t, string(b), string(s))
}

func TestStateFlagsFollowTheProcessor(t *testing.T) {
	cfg := auditdetectprocessor.NewFactory().CreateDefaultConfig().(*auditdetectprocessor.Config)
	for _, cmd := range []string{"scan", "rule-test", "rule-cost"} {
		var out, errOut bytes.Buffer
		run([]string{cmd, "-h"}, &out, &errOut)
		assert.Contains(t, errOut.String(), "-allowed-lateness", cmd)
		assert.Contains(t, errOut.String(), fmt.Sprintf("(default %s)", cfg.AllowedLateness), cmd)
	}
	var out, errOut bytes.Buffer
	assert.Equal(t, exitUsage, run([]string{"scan", "-allowed-lateness", "-1m", "-events", sampleLog}, &out, &errOut))
	assert.Contains(t, errOut.String(), "must not be negative")
	// The processor refuses a window or lateness over 366 days (config validation); so does every command.
	for _, cmd := range []string{"scan", "rule-test", "rule-cost"} {
		for _, flag := range []string{"-window", "-allowed-lateness"} {
			out.Reset()
			errOut.Reset()
			args := []string{cmd, flag, "8785h"}
			if cmd != "rule-test" { // it reads its rules' own cases
				args = append(args, "-events", sampleLog)
			}
			assert.Equal(t, exitUsage, run(args, &out, &errOut), cmd+" "+flag)
			assert.Contains(t, errOut.String(), "at most 366 days", cmd+" "+flag)
		}
	}
}

// TestScanTextIsOneLinePerRecord: a risk object comes from the event (a user name can hold a newline); the text
// output must not let it forge a line that reads as another rule's risk record.
func TestScanTextIsOneLinePerRecord(t *testing.T) {
	dir := t.TempDir()
	rules := filepath.Join(dir, "create.yml")
	require.NoError(t, os.WriteFile(rules, []byte("name: Any Create\nid: 7f000000-0000-4000-8000-00000000000c\n"+
		"search: verb=create\nrba:\n  message: created by $user.username$\n"+
		"  risk_objects: [{field: user.username, type: user, score: 5}]\n"), 0o600))
	log := filepath.Join(dir, "audit.log")
	require.NoError(t, os.WriteFile(log, []byte(`{"kind":"Event","auditID":"x1","verb":"create","user":{"username":"eve\n`+
		`2026-03-12T09:14:41Z  Kubernetes Cluster Admin Role Bound  user=admin (60)  forged"},"stageTimestamp":"2026-03-01T10:00:00Z"}`+"\n"), 0o600))
	var out, errOut bytes.Buffer
	require.Equal(t, exitOK, run([]string{"scan", "-events", log, rules}, &out, &errOut), errOut.String())
	assert.Equal(t, 1, strings.Count(out.String(), "\n"), "one risk record, one line:\n%s", out.String())
	assert.Contains(t, out.String(), `user=eve\n2026-03-12T09:14:41Z`)
}

// TestLintSaysWhyNothingLoaded: under -on-rule-error skip, a set in which no rule loads is exit 2; the reasons must
// still be said (coverage, scan, rule-test and rule-cost say them), or the CI log holds no clue.
func TestLintSaysWhyNothingLoaded(t *testing.T) {
	dir := t.TempDir()
	broken := filepath.Join(dir, "broken.yml")
	require.NoError(t, os.WriteFile(broken, []byte("name: x\nsearch: verb=get |\n"), 0o600))
	for _, format := range []string{"text", "json"} {
		var out, errOut bytes.Buffer
		assert.Equal(t, exitUsage, run([]string{"lint", "-format", format, "-on-rule-error", "skip", broken}, &out, &errOut))
		assert.Contains(t, errOut.String(), "no rules loaded")
		assert.Contains(t, errOut.String(), "broken.yml:2", format)
	}
}

// TestRuleTestDisabledRuleCasesAreNotFailures: -disable is rule_overrides' enabled: false; the side-car cases of the
// rule it leaves out are not "cases of no loaded rule" (the rule loaded), and do not fail the run.
func TestRuleTestDisabledRuleCasesAreNotFailures(t *testing.T) {
	packCases := filepath.Join("..", "..", "processor", "builtin", "testdata")
	var out, errOut bytes.Buffer
	exit := run([]string{"rule-test", "-cases", packCases, "-disable", "Kubernetes CronJob Created", "builtin"}, &out, &errOut)
	assert.Equal(t, exitOK, exit, "stdout:\n%s\nstderr:\n%s", out.String(), errOut.String())
	assert.NotContains(t, out.String(), "no loaded rule comes from a file named kubernetes_cronjob_created.yml")
	assert.Contains(t, out.String(), "disabled")
}

// TestNoEventUnderMaxBodySaysSo: when every event of a log is over -max-body-bytes, the log is not malformed: the
// error must not send the user to reformat it with jq, but name the limit.
func TestNoEventUnderMaxBodySaysSo(t *testing.T) {
	for _, cmd := range []string{"scan", "rule-cost"} {
		var out, errOut bytes.Buffer
		assert.Equal(t, exitUsage, run([]string{cmd, "-max-body-bytes", "100", "-events", sampleLog}, &out, &errOut))
		assert.Contains(t, errOut.String(), "over -max-body-bytes 100", cmd)
		assert.NotContains(t, errOut.String(), "jq -c", cmd)
	}
}
