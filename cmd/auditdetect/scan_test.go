package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
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

func scanJSON(t *testing.T, args ...string) (records []map[string]any, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	exit := run(append([]string{"scan", "-format", "json"}, args...), &out, &errOut)
	require.Equal(t, exitOK, exit, errOut.String())
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec), line)
		records = append(records, rec)
	}
	return records, errOut.String()
}

// TestScanWritesWhatTheCollectorWrites runs the sample log through the processor's factory (default config: the
// built-in pack, fork mode) and through scan: the risk records are the same, attribute for attribute.
func TestScanWritesWhatTheCollectorWrites(t *testing.T) {
	scanned, stderr := scanJSON(t, "-events", sampleLog)
	assert.Contains(t, stderr, "left out: 1 unreadable lines")
	assert.Contains(t, stderr, "left out (it needs -geoip-database): Kubernetes Secret Read From Unapproved Country")

	factory := auditdetectprocessor.NewFactory()
	sink := new(consumertest.LogsSink)
	proc, err := factory.CreateLogs(context.Background(), processortest.NewNopSettings(factory.Type()),
		factory.CreateDefaultConfig(), sink)
	require.NoError(t, err)
	require.NoError(t, proc.Start(context.Background(), componenttest.NewNopHost()))
	defer func() { require.NoError(t, proc.Shutdown(context.Background())) }()
	logs := plog.NewLogs()
	lrs := logs.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	for _, ev := range readSample(t) {
		lrs.AppendEmpty().Body().SetStr(ev.line)
	}
	require.NoError(t, proc.ConsumeLogs(context.Background(), logs))

	var collected []map[string]any
	for _, ld := range sink.AllLogs() {
		for i := 0; i < ld.ResourceLogs().Len(); i++ {
			sls := ld.ResourceLogs().At(i).ScopeLogs()
			for j := 0; j < sls.Len(); j++ {
				for k := 0; k < sls.At(j).LogRecords().Len(); k++ {
					rec := sls.At(j).LogRecords().At(k)
					if idx, ok := rec.Attributes().Get("com.splunk.index"); ok && idx.Str() == "risk" {
						attrs := rec.Attributes().AsRaw()
						attrs["_time"] = rec.Timestamp().AsTime().UTC().Format(time.RFC3339Nano)
						collected = append(collected, attrs)
					}
				}
			}
		}
	}
	// The sample's README: 15 risk events from the built-in pack.
	require.Len(t, collected, 15)
	// Through JSON both ways, so that numbers and arrays compare alike.
	normal := func(recs []map[string]any) []string {
		var out []string
		for _, r := range recs {
			b, err := json.Marshal(r)
			require.NoError(t, err)
			out = append(out, string(b))
		}
		slices.Sort(out)
		return out
	}
	assert.Equal(t, normal(collected), normal(scanned))
}

func TestScanText(t *testing.T) {
	dir := t.TempDir()
	sample, err := os.ReadFile(sampleLog)
	require.NoError(t, err)
	zipped := filepath.Join(dir, "audit.log.1.gz")
	require.NoError(t, os.WriteFile(zipped, gzipped(t, sample), 0o600))

	var out, errOut bytes.Buffer
	require.Equal(t, exitOK, run([]string{"scan", "-events", zipped}, &out, &errOut), errOut.String())
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	assert.Len(t, lines, 15)
	assert.Contains(t, out.String(), "2026-03-12T09:14:15Z  Kubernetes NodePort Service Exposed  user=oidc:dave@example.com (25)  "+
		"oidc:dave@example.com asked to expose service payments/payments-debug on every node")
	assert.Contains(t, errOut.String(), "scan: 30 rules, 67 events in ")
	assert.Contains(t, errOut.String(), ": 10 matched, 15 risk records;")
	assert.Contains(t, errOut.String(), "       1  Kubernetes NodePort Service Exposed\n")
}

func TestScanErrors(t *testing.T) {
	dir := t.TempDir()
	pretty := filepath.Join(dir, "pretty.json")
	require.NoError(t, os.WriteFile(pretty, []byte("[\n  {\n    \"kind\": \"Event\",\n    \"verb\": \"get\"\n  }\n]\n"), 0o600))
	for _, tc := range []struct {
		name   string
		args   []string
		stderr string
	}{
		{"bad format", []string{"scan", "-format", "xml"}, `"xml" is not text or json`},
		{"missing log", []string{"scan", "-events", filepath.Join(dir, "missing.log")}, "missing.log"},
		{"missing GeoIP database", []string{"scan", "-events", sampleLog, "-geoip-database", filepath.Join(dir, "missing.mmdb")}, "missing.mmdb"},
		{"no audit log", []string{"scan"}, "scan: no audit log: -events FILE (- for standard input)"},
		{"a directory", []string{"scan", "-events", dir}, dir + " is a directory, not an audit log"},
		{"the audit log given as rules", []string{"scan", sampleLog}, "a Kubernetes audit log (JSON audit events), not a rule file"},
		{"a flag after the rules", []string{"scan", "-events", sampleLog, "builtin", "-format", "json"},
			"-format after the rules: flags go before RULES (auditdetect scan [flags] [RULES...])"},
		{"bad window", []string{"scan", "-window", "-1m"}, "must be positive"},
		// Not "0 matched": nothing was read.
		{"no event in the log", []string{"scan", "-events", pretty}, "scan: no audit events in " + pretty + ": the log must hold one JSON audit event"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			assert.Equal(t, exitUsage, run(tc.args, &out, &errOut))
			assert.Contains(t, errOut.String(), tc.stderr)
			assert.Empty(t, out.String())
		})
	}
}

// TestScanUnreadableLogHasNoSummary: a log that cannot be opened is an error alone, not a scan of 0 events.
// TestScanLogWithByteOrderMark: a log saved by a tool that starts files with a UTF-8 byte order mark is read whole,
// its first event included, as the collector reads it.
func TestScanLogWithByteOrderMark(t *testing.T) {
	sample, err := os.ReadFile(sampleLog)
	require.NoError(t, err)
	marked := filepath.Join(t.TempDir(), "audit.log")
	require.NoError(t, os.WriteFile(marked, append([]byte("\ufeff"), sample...), 0o600))
	var plain, out, errOut bytes.Buffer
	require.Equal(t, exitOK, run([]string{"scan", "-events", sampleLog}, &plain, &errOut), errOut.String())
	errOut.Reset()
	require.Equal(t, exitOK, run([]string{"scan", "-events", marked}, &out, &errOut), errOut.String())
	assert.Equal(t, plain.String(), out.String())
	assert.Contains(t, errOut.String(), " 67 events in ")
	assert.Contains(t, errOut.String(), "left out: 1 unreadable lines,", "the sample's one broken line, not the first")
}

func TestScanUnreadableLogHasNoSummary(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope.log")
	for _, path := range []string{missing, dir} {
		var out, errOut bytes.Buffer
		assert.Equal(t, exitUsage, run([]string{"scan", "-events", path}, &out, &errOut))
		assert.Contains(t, errOut.String(), path)
		assert.NotContains(t, errOut.String(), " events in ", "no summary")
		assert.NotContains(t, errOut.String(), "after 0 events")
	}
}

func TestScanTruncatedGzipStillSummarises(t *testing.T) {
	sample, err := os.ReadFile(sampleLog)
	require.NoError(t, err)
	zipped := gzipped(t, sample)
	cut := filepath.Join(t.TempDir(), "cut.log.gz")
	require.NoError(t, os.WriteFile(cut, zipped[:len(zipped)*2/3], 0o600))
	var out, errOut bytes.Buffer
	assert.Equal(t, exitUsage, run([]string{"scan", "-events", cut}, &out, &errOut))
	assert.Contains(t, errOut.String(), "scan: 30 rules, ")
	assert.Regexp(t, `unexpected EOF, after [1-9][0-9]* events`, errOut.String())
}

// TestCommandLine: -h prints a command's usage and exits 0; a set of files without rules, and test-case or data
// directories that are not there, are command-line errors.
func TestCommandLine(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		exit   int
		stderr string
	}{
		{"help of a command", []string{"scan", "-h"}, exitOK, "usage: auditdetect scan [flags] [RULES...]\n\nrun a rule set over an audit log"},
		{"help of rule-cost", []string{"rule-cost", "-help"}, exitOK, "measure what each rule adds"},
		{"no rules in what was named", []string{"coverage", filepath.Join("..", "..", "processor", "builtin", "rules", "macros")},
			exitUsage, "coverage: no rules loaded from"},
		{"cases that are not there", []string{"rule-test", "-cases", "/nonexistent"}, exitUsage, "rule-test: -cases /nonexistent is not a directory"},
		{"data that is not there", []string{"rule-test", "-data-dir", "/nonexistent"}, exitUsage, "-data-dir /nonexistent is not a directory"},
		{"the pack without its cases is said", []string{"rule-test"}, exitUsage, "-cases processor/builtin/testdata"},
		{"no test ran is not a pass", []string{"rule-test"}, exitUsage, "rule-test: no rule test ran"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			assert.Equal(t, tc.exit, run(tc.args, &out, &errOut), errOut.String())
			assert.Contains(t, errOut.String(), tc.stderr)
		})
	}
}

// TestScanAnswersWindowsAtTheirClose: a rule whose condition can stop holding answers when the log's time passes its
// window, and the windows still open at the end of the log answer then.
func TestScanAnswersWindowsAtTheirClose(t *testing.T) {
	dir := t.TempDir()
	rules := filepath.Join(dir, "few.yml")
	require.NoError(t, os.WriteFile(rules, []byte("name: Few Creates\nid: 7f000000-0000-4000-8000-00000000000a\n"+
		"search: verb=create | stats count by user.username | rename user.username as user | where count < 3\n"+
		"rba:\n  message: $user$ created $count$\n  risk_objects:\n    - field: user\n      type: user\n      score: 20\n"), 0o600))
	ev := func(user string, min int) string {
		return fmt.Sprintf(`{"auditID":"%s%d","verb":"create","user":{"username":%q},"stageTimestamp":"2026-03-01T10:%02d:00Z"}`+"\n", user, min, user, min)
	}
	log := filepath.Join(dir, "audit.log")
	require.NoError(t, os.WriteFile(log, []byte(ev("alice", 1)+ev("bob", 2)+ev("bob", 3)+ev("bob", 4)+ev("carol", 75)), 0o600))
	var out, errOut bytes.Buffer
	require.Equal(t, exitOK, run([]string{"scan", "-events", log, rules}, &out, &errOut), errOut.String())
	assert.Equal(t, "alice created 1\ncarol created 1\n", regexp.MustCompile(`(?m)^.*  `).ReplaceAllString(out.String(), ""))
	assert.Contains(t, errOut.String(), "0 matched (and 2 groups answered when their window closed), 2 risk records")
}

// TestScanInTimeZone: -spl-time-zone is the processor's spl_time_zone: convert ctime writes the rule's firstTime in
// that zone (UTC without the flag), for every command that loads rules; a zone that does not exist is refused.
func TestScanInTimeZone(t *testing.T) {
	dir := t.TempDir()
	rules := filepath.Join(dir, "deletes.yml")
	require.NoError(t, os.WriteFile(rules, []byte(`name: Test Deletes
id: 7f000000-0000-4000-8000-0000000000aa
search: 'verb=delete | stats count min(_time) as firstTime by user.username
  | convert timeformat="%Y-%m-%d %H:%M %Z" ctime(firstTime) | rename user.username as user'
rba:
  message: $user$ deleted since $firstTime$
  risk_objects: [{field: user, type: user, score: 20}]
`), 0o600))
	events := filepath.Join(dir, "audit.log")
	require.NoError(t, os.WriteFile(events, []byte(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata",`+
		`"auditID":"a1","stage":"ResponseComplete","verb":"delete","user":{"username":"alice"},`+
		`"objectRef":{"resource":"pods","namespace":"default","name":"p"},"stageTimestamp":"2025-11-24T23:30:00.000000Z"}`+"\n"), 0o600))
	for zone, want := range map[string]string{
		"":                 "alice deleted since 2025-11-24 23:30 UTC",
		"Europe/Berlin":    "alice deleted since 2025-11-25 00:30 CET",
		"Asia/Kolkata":     "alice deleted since 2025-11-25 05:00 IST",
		"America/St_Johns": "alice deleted since 2025-11-24 20:00 NST",
	} {
		args := []string{"-events", events, rules}
		if zone != "" {
			args = append([]string{"-spl-time-zone", zone}, args...)
		}
		records, _ := scanJSON(t, args...)
		require.Len(t, records, 1)
		assert.Equal(t, want, records[0]["risk_message"], zone)
	}
	for _, args := range [][]string{{"scan", "-events", events}, {"rule-cost", "-events", events}, {"rule-test"}, {"lint"}, {"coverage"}} {
		command := args[0]
		var out, errOut bytes.Buffer
		args = append(args, "-spl-time-zone", "Europe/Bonn", rules)
		assert.Equal(t, exitUsage, run(args, &out, &errOut), command)
		assert.Contains(t, errOut.String(), `-spl-time-zone: unknown time zone "Europe/Bonn"`, command)
	}
}
