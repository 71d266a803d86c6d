package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auditdetect/auditdetect/processor/auditdetectprocessor"
)

var sampleLog = filepath.Join("..", "..", "testdata", "audit", "sample-audit.log")

// sampleEvent is a line of the sample log, decoded with encoding/json, independently of the engine.
type sampleEvent struct {
	line      string
	verb      string
	resource  string
	wholeJSON bool
}

func readSample(t *testing.T) (events []sampleEvent) {
	t.Helper()
	f, err := os.Open(sampleLog)
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var ev struct {
			Verb      string `json:"verb"`
			ObjectRef struct {
				Resource string `json:"resource"`
			} `json:"objectRef"`
		}
		err := json.Unmarshal(sc.Bytes(), &ev)
		events = append(events, sampleEvent{line: sc.Text(), verb: ev.Verb, resource: ev.ObjectRef.Resource, wholeJSON: err == nil})
	}
	require.NoError(t, sc.Err())
	return events
}

// gzipped is data gzip-compressed, as the API server's --audit-log-compress writes rotated logs.
func gzipped(t *testing.T, data []byte) []byte {
	t.Helper()
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	_, err := w.Write(data)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return gz.Bytes()
}

// wholeEvents are the sample's lines that are whole JSON (one is truncated on purpose).
func wholeEvents(t *testing.T) []sampleEvent {
	return slices.DeleteFunc(readSample(t), func(e sampleEvent) bool { return !e.wholeJSON })
}

func builtinCount(t *testing.T) int {
	t.Helper()
	var stderr bytes.Buffer
	rules, err := load(nil, &ruleFlags{onRuleError: "fail", splTimeZone: "UTC"}, "test", &stderr)
	require.NoError(t, err)
	return len(rules)
}

func costJSON(t *testing.T, args ...string) costReport {
	t.Helper()
	var stdout, stderr bytes.Buffer
	exit := run(append([]string{"rule-cost", "-passes", "1", "-format", "json"}, args...), &stdout, &stderr)
	require.Equal(t, exitOK, exit, stderr.String())
	var rep costReport
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &rep))
	return rep
}

func TestCostReport(t *testing.T) {
	rep := costJSON(t, "-events", sampleLog, "-passes", "2")
	whole := wholeEvents(t)
	assert.Equal(t, len(whole), rep.Events, "every whole line of the sample log is one event")
	assert.Equal(t, len(readSample(t))-len(whole), rep.Unreadable, "the sample's truncated line")
	assert.False(t, rep.Limited)
	assert.Zero(t, rep.Oversized)
	assert.Equal(t, 2, rep.Passes)
	assert.Positive(t, rep.EmptyNS)
	assert.GreaterOrEqual(t, rep.NoiseNS, 0.0)
	assert.Greater(t, rep.AllNS, rep.EmptyNS, "the built-in pack costs more than reading the verb")

	require.Len(t, rep.Rules, builtinCount(t))
	numbers := map[int]bool{}
	for i, r := range rep.Rules {
		assert.False(t, numbers[r.Number], "rule #%d listed twice", r.Number)
		numbers[r.Number] = true
		assert.Equal(t, r.AloneNS-rep.EmptyNS, r.AddedNS, r.Name)
		if i > 0 {
			assert.LessOrEqual(t, r.AddedNS, rep.Rules[i-1].AddedNS, "costliest first")
		}
	}
	byName := func(name string) ruleCost {
		i := slices.IndexFunc(rep.Rules, func(r ruleCost) bool { return r.Name == name })
		require.GreaterOrEqual(t, i, 0, name)
		return rep.Rules[i]
	}

	// A rule on every operation is evaluated on every event; one keyed on services on the events of those.
	anonymous := byName("Kubernetes Anonymous Request Allowed")
	assert.Equal(t, []string{"any-any"}, anonymous.Operations)
	assert.Equal(t, rep.Events, anonymous.Evaluated)
	nodePort := byName("Kubernetes NodePort Service Exposed")
	wantEvaluated := 0
	for _, ev := range whole {
		if ev.resource == "services" && slices.Contains(nodePort.Operations, ev.verb+"-services") {
			wantEvaluated++
		}
	}
	assert.Positive(t, wantEvaluated)
	assert.Equal(t, wantEvaluated, nodePort.Evaluated)
	// The sample's README lists one NodePort service (line 33) and one pod in `default` (line 36).
	assert.Equal(t, 1, nodePort.Matched)
	assert.Equal(t, 1, byName("Kubernetes Pod Created in Default or System Namespace").Matched)
	// A match builds rows: the rule's engine allocates.
	assert.Positive(t, nodePort.AllocsPerEvent)

	// A rule reading a request body searches for literals first; one reading only the head has no search.
	assert.Nil(t, anonymous.Prefilter)
	pf := nodePort.Prefilter
	require.NotNil(t, pf, "the NodePort rule reads requestObject.spec")
	assert.Equal(t, [][]prefilterLiteral{{{Text: `externalIPs"`}, {Text: `type"`}}}, pf.SearchedFor)
	assert.Equal(t, uint64(nodePort.Matched), pf.Held, "the sample's one NodePort service")
	for _, r := range rep.Rules {
		if p := r.Prefilter; p != nil {
			assert.LessOrEqual(t, p.Held, p.Passed, r.Name)
			assert.LessOrEqual(t, p.Passed, p.Reached, r.Name)
			assert.LessOrEqual(t, p.Reached, uint64(r.Evaluated), r.Name)
		}
	}
}

func TestCostReadsLogsAsTheProcessorWould(t *testing.T) {
	dir := t.TempDir()
	whole := wholeEvents(t)
	sample, err := os.ReadFile(sampleLog)
	require.NoError(t, err)

	t.Run("gzip", func(t *testing.T) {
		path := filepath.Join(dir, "audit.log.gz")
		require.NoError(t, os.WriteFile(path, gzipped(t, sample), 0o600))
		assert.Equal(t, len(whole), costJSON(t, "-events", path).Events)
	})

	t.Run("standard input", func(t *testing.T) {
		f, err := os.Open(sampleLog)
		require.NoError(t, err)
		defer f.Close()
		stdin := os.Stdin
		os.Stdin = f
		defer func() { os.Stdin = stdin }()
		rep := costJSON(t, "-events", "-")
		assert.Equal(t, len(whole), rep.Events)
		assert.Equal(t, "standard input", rep.Source)
	})

	t.Run("EventLists are split, and the limit cuts one", func(t *testing.T) {
		items := make([]string, 3)
		for i := range items {
			items[i] = whole[i].line
		}
		list := `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[` + strings.Join(items, ",") + "]}\n"
		path := filepath.Join(dir, "webhook.log")
		require.NoError(t, os.WriteFile(path, []byte(list+list), 0o600))
		rep := costJSON(t, "-events", path)
		assert.Equal(t, 6, rep.Events)
		assert.False(t, rep.Limited)
		rep = costJSON(t, "-events", path, "-limit", "2")
		assert.Equal(t, 2, rep.Events)
		assert.True(t, rep.Limited)
	})

	t.Run("events over max-body-bytes are left out and counted", func(t *testing.T) {
		const limit = 1500
		long := 0
		for _, ev := range readSample(t) {
			if len(ev.line) > limit {
				long++
			}
		}
		require.Positive(t, long)
		rep := costJSON(t, "-events", sampleLog, "-max-body-bytes", fmt.Sprint(limit))
		assert.Equal(t, long, rep.Oversized)
		assert.Equal(t, len(whole)-long, rep.Events)
	})

	t.Run("an EventList over max-body-bytes is read item by item, as the processor reads it", func(t *testing.T) {
		var items []string
		longest := 0
		for _, ev := range whole[:20] {
			items = append(items, ev.line)
			longest = max(longest, len(ev.line))
		}
		list := `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[` + strings.Join(items, ",") + "]}\n"
		path := filepath.Join(dir, "eventlist.log")
		require.NoError(t, os.WriteFile(path, []byte(list), 0o600))
		require.Greater(t, len(list), 2*longest)
		rep := costJSON(t, "-events", path, "-max-body-bytes", fmt.Sprint(longest))
		assert.Equal(t, 20, rep.Events)
		assert.Equal(t, 0, rep.Oversized)
		rep = costJSON(t, "-events", path, "-max-body-bytes", fmt.Sprint(longest-1))
		assert.Equal(t, 1, rep.Oversized, "the longest item")
	})

	t.Run("a line longer than the reader's buffer", func(t *testing.T) {
		// 100 KiB of spaces before an event: longer than bufio's 64 KiB buffer, within max-body-bytes.
		line := strings.Repeat(" ", 100<<10) + whole[0].line + "\n"
		path := filepath.Join(dir, "padded.log")
		require.NoError(t, os.WriteFile(path, []byte(line+whole[1].line+"\n"), 0o600))
		assert.Equal(t, 2, costJSON(t, "-events", path).Events)
		rep := costJSON(t, "-events", path, "-max-body-bytes", fmt.Sprint(64<<10))
		assert.Equal(t, 1, rep.Events)
		assert.Equal(t, 1, rep.Oversized)
	})
}

func TestCostMarkdownAndErrors(t *testing.T) {
	dir := t.TempDir()
	noise := filepath.Join(dir, "noise.log")
	require.NoError(t, os.WriteFile(noise, []byte("not json\n{\"a\":1}\n"), 0o600))
	sample, err := os.ReadFile(sampleLog)
	require.NoError(t, err)
	mixed := filepath.Join(dir, "mixed.log")
	require.NoError(t, os.WriteFile(mixed, append([]byte("a line of another log\n\n"), sample...), 0o600))
	broken := filepath.Join(dir, "broken.yml")
	require.NoError(t, os.WriteFile(broken, []byte("name: x\nsearch: verb=get |\n"), 0o600))
	whole := len(wholeEvents(t))

	for _, tc := range []struct {
		name   string
		args   []string
		exit   int
		stdout []string
		stderr string
	}{
		{name: "markdown, generated events", args: []string{"rule-cost", "-passes", "1"}, exit: exitOK,
			stdout: []string{"# Rule cost", "generated events", ": 4000 events,", "the fastest of 1 pass (",
				"| empty (reads each event's verb) |", fmt.Sprintf("| all %d rules |", builtinCount(t)),
				"| noise: two empty engines differed by |",
				"| Kubernetes NodePort Service Exposed | escu | create-services, patch-services, update-services |",
				"every operation", "## Literal prefilters", "| rule # | rule | searched for | reached | let through | held |",
				`| Kubernetes Workload With Privileged Container | "privileged\"" or "add\"" |`,
				`| Kubernetes Image Pulled From Unapproved Registry | "pulling image " (any case); and`},
			stderr: fmt.Sprintf("rule-cost: %d rules, 4000 events, 1 pass in", builtinCount(t))},
		{name: "the limit sets how many events are generated", args: []string{"rule-cost", "-passes", "1", "-limit", "50"},
			exit: exitOK, stdout: []string{": 50 events,"}},
		{name: "lines without audit events are counted", args: []string{"rule-cost", "-passes", "1", "-events", mixed}, exit: exitOK,
			stdout: []string{fmt.Sprintf("%d events", whole), "lines without a readable audit event, left out: 2"}},
		{name: "limit", args: []string{"rule-cost", "-passes", "1", "-limit", "10", "-events", sampleLog}, exit: exitOK,
			stdout: []string{"the first 10 events (-limit)"}},
		{name: "skipped rules are named; no rule at all is an error", args: []string{"rule-cost", "-on-rule-error", "skip", broken},
			exit: exitUsage, stderr: "rule-cost: skipped: "},
		{name: "no rules", args: []string{"rule-cost", "-on-rule-error", "skip", broken}, exit: exitUsage, stderr: "rule-cost: no rules loaded"},
		{name: "no events", args: []string{"rule-cost", "-events", noise}, exit: exitUsage,
			stderr: "no audit events in " + noise + " (lines without a readable event: 2;"},
		{name: "missing file", args: []string{"rule-cost", "-events", filepath.Join(dir, "missing.log")}, exit: exitUsage, stderr: "missing.log"},
		{name: "bad passes", args: []string{"rule-cost", "-passes", "0"}, exit: exitUsage, stderr: "must be positive"},
		{name: "bad window", args: []string{"rule-cost", "-window", "0s"}, exit: exitUsage, stderr: "must be positive"},
		{name: "bad format", args: []string{"rule-cost", "-format", "xml"}, exit: exitUsage, stderr: `"xml"`},
		{name: "bad on-rule-error", args: []string{"rule-cost", "-on-rule-error", "ignore"}, exit: exitUsage, stderr: `"ignore" is not fail or skip`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			assert.Equal(t, tc.exit, run(tc.args, &stdout, &stderr), stderr.String())
			for _, s := range tc.stdout {
				assert.Contains(t, stdout.String(), s)
			}
			if tc.stderr != "" {
				assert.Contains(t, stderr.String(), tc.stderr)
			}
			if tc.exit != exitOK {
				assert.Empty(t, strings.TrimSpace(stdout.String()))
			}
		})
	}
}

// TestCostLimitHelp: -limit has a default per source, which its help says once each; the flag package adds its own
// "(default N)" for a flag with a non-zero default, which said a third, contradicting one.
func TestCostLimitHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	require.Equal(t, exitOK, run([]string{"rule-cost", "-h"}, &stdout, &stderr))
	assert.Contains(t, stderr.String(), "  -limit events\n    \tat most this many events to read from the file (default 10000) "+
		"or, without -events, to generate (default 4000)\n")
}

func TestCostDefaultsFollowTheProcessor(t *testing.T) {
	assert.Equal(t, auditdetectprocessor.DefaultMaxBodyBytes, defaultMaxBodyBytes)
}
