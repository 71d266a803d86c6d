package auditdetectprocessor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/attribute"

	"github.com/auditdetect/auditdetect/processor/auditdetectprocessor/internal/metadata"
)

// fewCreatesRule is an ESCU detection whose condition can stop holding as its window fills (fewer than 3 creations
// per user in the window): it is answered when the window closes.
func fewCreatesRule(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "few.yml"), []byte(`name: Test Few Creates
id: 0b6f9a43-51a4-4a43-9d6c-5a3c2c1e0003
version: 1
date: '2026-12-06'
author: auditdetect tests
status: production
type: Anomaly
description: Users who created something, but fewer than three things, in the window.
data_source:
  - Kubernetes Audit
search: '`+"`kube_audit`"+` verb=create
  | stats count by user.username
  | rename user.username as user
  | where count < 3'
rba:
  message: $user$ created $count$ objects
  risk_objects:
    - field: user
      type: user
      score: 20
tags:
  analytic_story:
    - Kubernetes Security
  mitre_attack_id:
    - T1204
`), 0o644))
	return dir
}

// closingConfig runs the rules in dir (fewCreatesRule's, or more beside them) with 10-minute windows answered once a
// record is a minute past their end.
func closingConfig(dir string) *Config {
	cfg := createDefaultConfig()
	cfg.Rules = []string{dir}
	cfg.Window = 10 * time.Minute
	cfg.AllowedLateness = time.Minute
	return cfg
}

func createBy(user string, min float64) string {
	at := s0.Add(time.Duration(min * float64(time.Minute))).Format(time.RFC3339Nano)
	return fmt.Sprintf(`{"kind":"Event","auditID":"c-%s-%g","stage":"ResponseComplete","verb":"create","user":{"username":%q},`+
		`"objectRef":{"resource":"configmaps"},"stageTimestamp":%q}`, user, min, user, at)
}

// closedAnswers lists the risk records of windows answered at their close: "user:count".
func closedAnswers(lds []plog.Logs) []string {
	var out []string
	for _, ld := range lds {
		for _, r := range records(ld) {
			if !isRisk(r) {
				continue
			}
			u, _ := r.Attributes().Get("user")
			c, _ := r.Attributes().Get("count")
			out = append(out, u.AsString()+":"+c.AsString())
		}
	}
	return out
}

// TestWindowAnsweredAtClose: in fork mode the answers of a window that closes go out as risk records with the batch
// in which the stream's time passes the window (here the 10-minute window, 1 minute of lateness); a refused batch's
// answers go out with the next one; enrich mode refuses the rule.
func TestWindowAnsweredAtClose(t *testing.T) {
	cfg := closingConfig(fewCreatesRule(t))

	sink := new(consumertest.LogsSink)
	p, err := NewFactory().CreateLogs(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, refusingCall(t, sink, 2))
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))

	// alice creates twice, bob four times: nothing is answered while the window is open.
	require.NoError(t, p.ConsumeLogs(context.Background(), input(str(createBy("alice", 1)), str(createBy("alice", 2)),
		str(createBy("bob", 1)), str(createBy("bob", 2)), str(createBy("bob", 3)), str(createBy("bob", 4)))))
	assert.Empty(t, closedAnswers(sink.AllLogs()))
	// At 10:11 (past the end and the lateness) the window closes: this batch carries alice's answer, and is refused.
	require.Error(t, p.ConsumeLogs(context.Background(), input(str(createBy("carol", 11.5)))))
	// The next batch carries it again, once.
	require.NoError(t, p.ConsumeLogs(context.Background(), input(str(createBy("carol", 12)))))
	assert.Equal(t, []string{"alice:2"}, closedAnswers(sink.AllLogs()))
	// carol's window is open at shutdown: not answered early.
	require.NoError(t, p.Shutdown(context.Background()))
	assert.Equal(t, []string{"alice:2"}, closedAnswers(sink.AllLogs()))

	cfg.Mode = ModeEnrich
	_, err = NewFactory().CreateLogs(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, consumertest.NewNop())
	require.ErrorContains(t, err, "would fire on the first event of every group")
}

// TestWindowAnsweredAtCloseIsThrottled: answers of closed windows pass through their rule's throttle, as matches at
// the window's end: alice, alone in three windows, is reported once, and the held answers at shutdown with their count.
func TestWindowAnsweredAtCloseIsThrottled(t *testing.T) {
	cfg := closingConfig(fewCreatesRule(t))
	cfg.RuleOverrides = map[string]RuleOverride{"Test Few Creates": {Throttle: &ThrottleConfig{Fields: []string{"user"}, Window: 24 * time.Hour}}}
	p, sink, tel := newTestProcessor(t, cfg)
	for _, min := range []float64{1, 11.5, 21.5, 31.5} {
		require.NoError(t, p.ConsumeLogs(context.Background(), input(str(createBy("alice", min)))))
	}
	// Each window's answer is a match of the rule, whatever the throttle does with it.
	assertSumAttr(t, tel, "otelcol_processor_auditdetect_rule_matches", attribute.String("rule_id", "0b6f9a43-51a4-4a43-9d6c-5a3c2c1e0003"), 3)
	require.NoError(t, p.Shutdown(context.Background()))
	var got []string
	for _, ld := range sink.AllLogs() {
		for _, r := range records(ld) {
			if isRisk(r) {
				n, _ := r.Attributes().Get(SuppressedCountField)
				u, _ := r.Attributes().Get("user")
				got = append(got, fmt.Sprintf("%s+%d", u.AsString(), n.Int()))
			}
		}
	}
	assert.Equal(t, []string{"alice+0", "alice+1"}, got, "the first window's answer, then at shutdown the latest held with the other")
}

// TestWindowAnswerSurvivesARefusedShutdown: an answer whose batch was refused, and then the shutdown flush too, is
// kept in storage and goes out after the restart.
func TestWindowAnswerSurvivesARefusedShutdown(t *testing.T) {
	mem := &memStorage{}
	cfg := closingConfig(fewCreatesRule(t))
	p, first := startRefusingAfterFirst(t, cfg, mem)
	require.NoError(t, p.ConsumeLogs(context.Background(), input(str(createBy("alice", 1)), str(createBy("alice", 2)))))
	require.Error(t, p.ConsumeLogs(context.Background(), input(str(createBy("carol", 11.5)))))
	require.Error(t, p.Shutdown(context.Background()))
	assert.Empty(t, closedAnswers(first.AllLogs()))

	p2, sink := startWithStorage(t, closingConfig(cfg.Rules[0]), mem, nil)
	require.NoError(t, p2.ConsumeLogs(context.Background(), input(str(createBy("carol", 12)))))
	require.NoError(t, p2.Shutdown(context.Background()))
	assert.Equal(t, []string{"alice:2"}, closedAnswers(sink.AllLogs()))
}

// TestClosedAnswersWaitingAreBounded: while the next consumer refuses every batch, the answers of closed windows
// wait, at most max_keys per rule answering at its close; past that the oldest are dropped, counted under
// risk_events_dropped{reason=closed_backlog}, and the newest go out once the consumer takes batches again.
func TestClosedAnswersWaitingAreBounded(t *testing.T) {
	cfg := closingConfig(fewCreatesRule(t))
	cfg.MaxKeys = 2
	s, endOutage := startInOutage(t, cfg)
	p, tel := s.p, s.tel

	require.Error(t, p.ConsumeLogs(context.Background(), input(str(createBy("a", 1)), str(createBy("b", 2)))))
	// The first window closes: a and b wait (two, the bound).
	require.Error(t, p.ConsumeLogs(context.Background(), input(str(createBy("c", 11.5)))))
	require.Error(t, p.ConsumeLogs(context.Background(), input(str(createBy("d", 12)))))
	assertSumAttr(t, tel, "otelcol_processor_auditdetect_risk_events_dropped", reasonAttr("closed_backlog"), 0)
	// The second closes: c and d join them, and a and b, the oldest, are dropped.
	require.Error(t, p.ConsumeLogs(context.Background(), input(str(createBy("e", 21.5)))))
	assertSumAttr(t, tel, "otelcol_processor_auditdetect_risk_events_dropped", reasonAttr("closed_backlog"), 2)

	endOutage()
	require.NoError(t, p.ConsumeLogs(context.Background(), input(str(createBy("f", 22)))))
	assert.Equal(t, []string{"c:1", "d:1"}, closedAnswers(s.sink.AllLogs()))
	require.NoError(t, p.Shutdown(context.Background()))
}

// startInOutage is startWithLogs with a next consumer that refuses every batch, as an exporter whose sending queue
// stays full, until endOutage is called.
func startInOutage(t *testing.T, cfg *Config) (s started, endOutage func()) {
	t.Helper()
	var refusing atomic.Bool
	refusing.Store(true)
	s = startProcessor(t, cfg, func(sink *consumertest.LogsSink) consumer.Logs {
		next, err := consumer.NewLogs(func(ctx context.Context, ld plog.Logs) error {
			if refusing.Load() {
				return errors.New("sending queue is full")
			}
			return sink.ConsumeLogs(ctx, ld)
		})
		require.NoError(t, err)
		return next
	})
	return s, func() { refusing.Store(false) }
}

func reasonAttr(reason string) attribute.KeyValue { return attribute.String("reason", reason) }

// startRefusingAfterFirst starts a processor with storage in mem whose next consumer takes the first batch (into
// the sink returned) and refuses every later one, the shutdown flush too.
func startRefusingAfterFirst(t *testing.T, cfg *Config, mem *memStorage) (processor.Logs, *consumertest.LogsSink) {
	t.Helper()
	return startRefusing(t, cfg, mem, func(call int32) bool { return call > 1 })
}

// inCluster is input with the resource's k8s.cluster.name set to cluster.
func inCluster(cluster string, bodies ...func(pcommon.Value)) plog.Logs {
	ld := input(bodies...)
	ld.ResourceLogs().At(0).Resource().Attributes().PutStr("k8s.cluster.name", cluster)
	return ld
}

// answersByCluster lists the answers of closed windows as "cluster/user:count", from the resource each is written in.
func answersByCluster(lds []plog.Logs) []string {
	var out []string
	for _, ld := range lds {
		for i := 0; i < ld.ResourceLogs().Len(); i++ {
			rl := ld.ResourceLogs().At(i)
			cluster, _ := rl.Resource().Attributes().Get("k8s.cluster.name")
			one := plog.NewLogs()
			rl.CopyTo(one.ResourceLogs().AppendEmpty())
			for _, a := range closedAnswers([]plog.Logs{one}) {
				out = append(out, cluster.AsString()+"/"+a)
			}
		}
	}
	sort.Strings(out)
	return out
}

// TestWindowAnswerGoesWhereItsEventsCame: a gateway serving two clusters writes each answer of a closed window in the
// resource of the last event its group counted, not in the resource of the batch that closed the window; after a
// restart with storage too.
func TestWindowAnswerGoesWhereItsEventsCame(t *testing.T) {
	dir := fewCreatesRule(t)
	mem := &memStorage{}
	p, sink := startWithStorage(t, closingConfig(dir), mem, nil)
	ctx := context.Background()
	require.NoError(t, p.ConsumeLogs(ctx, inCluster("east", str(createBy("alice", 1)))))
	require.NoError(t, p.ConsumeLogs(ctx, inCluster("west", str(createBy("bob", 2)), str(createBy("bob", 3)))))
	// The window closes in a batch of a third cluster.
	require.NoError(t, p.ConsumeLogs(ctx, inCluster("north", str(createBy("carol", 11.5)))))
	assert.Equal(t, []string{"east/alice:1", "west/bob:2"}, answersByCluster(sink.AllLogs()))

	// carol's window (north) and dave's (south) are open at shutdown, saved, and answered after the restart in a
	// batch of yet another cluster.
	require.NoError(t, p.ConsumeLogs(ctx, inCluster("south", str(createBy("dave", 12)))))
	require.NoError(t, p.Shutdown(ctx))
	p2, sink2 := startWithStorage(t, closingConfig(dir), mem, nil)
	require.NoError(t, p2.ConsumeLogs(ctx, inCluster("central", str(createBy("erin", 21.5)))))
	assert.Equal(t, []string{"north/carol:1", "south/dave:1"}, answersByCluster(sink2.AllLogs()))
	require.NoError(t, p2.Shutdown(ctx))
}

// deleteBy is createBy's deletion, which fewDeletesRule counts and fewCreatesRule does not.
func deleteBy(user string, min float64) string {
	return strings.Replace(strings.Replace(createBy(user, min), `"verb":"create"`, `"verb":"delete"`, 1), `"c-`, `"d-`, 1)
}

// fewCreatesAndDeletes puts beside fewCreatesRule in its directory the same rule on deletions (Test Few Deletes).
func fewCreatesAndDeletes(t *testing.T) string {
	t.Helper()
	dir := fewCreatesRule(t)
	src, err := os.ReadFile(filepath.Join(dir, "few.yml"))
	require.NoError(t, err)
	deletes := strings.NewReplacer("Test Few Creates", "Test Few Deletes", "5a3c2c1e0003", "5a3c2c1e0005",
		"verb=create", "verb=delete").Replace(string(src))
	writeFile(t, filepath.Join(dir, "few_deletes.yml"), deletes)
	return dir
}

// TestClosedAnswersOfOneRuleKeepAnothersWaiting: while the next consumer refuses every batch, the answers of one
// rule's windows must not push out another rule's: each rule keeps up to max_keys waiting, its own oldest dropped
// past that, counted (risk_events_dropped{reason=closed_backlog}) and logged with the rule that lost them. Here root's
// deletions answer once, first; then two windows of creations answer two users each, past max_keys (2).
func TestClosedAnswersOfOneRuleKeepAnothersWaiting(t *testing.T) {
	cfg := closingConfig(fewCreatesAndDeletes(t))
	cfg.MaxKeys = 2
	s, endOutage := startInOutage(t, cfg)
	p, tel := s.p, s.tel
	ctx := context.Background()

	require.Error(t, p.ConsumeLogs(ctx, input(str(deleteBy("root", 1)))))
	// root's window closes; a and b create in the second.
	require.Error(t, p.ConsumeLogs(ctx, input(str(createBy("a", 11.5)), str(createBy("b", 12)))))
	// The second closes (a and b answer); c and d create in the third, which e closes (c and d answer).
	require.Error(t, p.ConsumeLogs(ctx, input(str(createBy("c", 21.5)), str(createBy("d", 22)))))
	require.Error(t, p.ConsumeLogs(ctx, input(str(createBy("e", 31.5)))))

	endOutage()
	require.NoError(t, p.ConsumeLogs(ctx, input(str(createBy("f", 32)))))
	got := closedAnswers(s.sink.AllLogs())
	sort.Strings(got)
	assert.Equal(t, []string{"c:1", "d:1", "root:1"}, got, "root's answer waits with the newest max_keys of creations")
	assertSumAttr(t, tel, "otelcol_processor_auditdetect_risk_events_dropped", reasonAttr("closed_backlog"), 2)
	lost := map[string]int64{}
	for _, e := range s.logs.FilterMessageSnippet("answers of closed windows dropped").All() {
		c := e.ContextMap()
		rule, _ := c["rule"].(string)
		n, _ := c["dropped"].(int64)
		lost[rule] += n
	}
	assert.Equal(t, map[string]int64{"Test Few Creates": 2}, lost, "the log names the rule that lost answers")
	require.NoError(t, p.Shutdown(ctx))
}
