package auditdetectprocessor

import (
	"bytes"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/filestorage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/auditdetect/auditdetect/processor/auditdetectprocessor/internal/metadata"
	"github.com/auditdetect/auditdetect/processor/window"
)

var storageID = component.MustNewID("file_storage")

// scans is n unauthenticated list requests refused from one address, the first numbered from: the built-in
// scanning rule fires at the sixth in its window (count > 5).
func scans(from, n int) plog.Logs {
	var bodies []func(pcommon.Value)
	for i := from; i < from+n; i++ {
		bodies = append(bodies, str(fmt.Sprintf(`{"auditID":"scan-%d","stage":"ResponseComplete","verb":"list",`+
			`"user":{"username":"system:anonymous","groups":["system:unauthenticated"]},"sourceIPs":["198.51.100.7"],`+
			`"requestURI":"/api/v1/secrets","responseStatus":{"code":403},"stageTimestamp":"2026-11-03T09:00:0%dZ"}`, i, i)))
	}
	return input(bodies...)
}

// hostWith is a host whose extensions are exts.
type hostWith map[component.ID]component.Component

func (h hostWith) GetExtensions() map[component.ID]component.Component { return h }

// startWithStorage starts a processor whose config names storageID, on a host holding ext under that id.
func startWithStorage(t *testing.T, cfg *Config, ext component.Component, logger *zap.Logger) (processor.Logs, *consumertest.LogsSink) {
	t.Helper()
	cfg.Storage = &storageID
	set := processortest.NewNopSettings(metadata.Type)
	if logger != nil {
		set.Logger = logger
	}
	sink := new(consumertest.LogsSink)
	p, err := NewFactory().CreateLogs(context.Background(), set, cfg, sink)
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background(), hostWith{storageID: ext}))
	return p, sink
}

func riskCount(lds []plog.Logs) (n int, count string) {
	for _, ld := range lds {
		for _, r := range records(ld) {
			if isRisk(r) {
				n++
				if v, ok := r.Attributes().Get("count"); ok {
					count = v.AsString()
				}
			}
		}
	}
	return n, count
}

// TestStateSurvivesRestart, with the contrib file_storage extension the collector build ships: four scans before a
// restart and two after make six in one window, and the scanning rule fires after the restart with count 6. Without
// storage the two after the restart fire nothing.
func TestStateSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	newStorage := func() extension.Extension {
		f := filestorage.NewFactory()
		cfg := f.CreateDefaultConfig().(*filestorage.Config)
		cfg.Directory = dir
		ext, err := f.Create(context.Background(), extensiontest.NewNopSettings(f.Type()), cfg)
		require.NoError(t, err)
		require.NoError(t, ext.Start(context.Background(), componenttest.NewNopHost()))
		return ext
	}

	ext := newStorage()
	p, sink := startWithStorage(t, createDefaultConfig(), ext, nil)
	require.NoError(t, p.ConsumeLogs(context.Background(), scans(0, 4)))
	require.NoError(t, p.Shutdown(context.Background()))
	require.NoError(t, ext.Shutdown(context.Background()))
	n, _ := riskCount(sink.AllLogs())
	require.Zero(t, n, "four scans fire nothing")

	ext = newStorage()
	p, sink = startWithStorage(t, createDefaultConfig(), ext, nil)
	require.NoError(t, p.ConsumeLogs(context.Background(), scans(4, 2)))
	require.NoError(t, p.Shutdown(context.Background()))
	require.NoError(t, ext.Shutdown(context.Background()))
	n, count := riskCount(sink.AllLogs())
	assert.Equal(t, 1, n, "the sixth scan, after the restart, fires")
	assert.Equal(t, "6", count, "the four before the restart are counted")

	fresh, freshSink, _ := newTestProcessor(t, createDefaultConfig())
	require.NoError(t, fresh.ConsumeLogs(context.Background(), scans(4, 2)))
	n, _ = riskCount(freshSink.AllLogs())
	assert.Zero(t, n, "without storage, two scans fire nothing")
}

// memStorage is a storage extension in memory that can be told to fail, for what file_storage cannot be made to
// do on demand.
type memStorage struct {
	component.StartFunc
	component.ShutdownFunc
	mu      sync.Mutex
	data    map[string][]byte
	failSet bool
	failGet int // Gets that fail before one succeeds
	sets    int
}

func (m *memStorage) GetClient(context.Context, component.Kind, component.ID, string) (storage.Client, error) {
	return memClient{m}, nil
}

type memClient struct{ m *memStorage }

func (c memClient) Get(_ context.Context, key string) ([]byte, error) {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	if c.m.failGet > 0 {
		c.m.failGet--
		return nil, errors.New("i/o error")
	}
	return c.m.data[key], nil
}

func (c memClient) Set(_ context.Context, key string, value []byte) error {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	if c.m.failSet {
		return errors.New("disk full")
	}
	if c.m.data == nil {
		c.m.data = map[string][]byte{}
	}
	c.m.data[key] = append([]byte(nil), value...)
	c.m.sets++
	return nil
}

func (c memClient) Delete(_ context.Context, key string) error {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	delete(c.m.data, key)
	return nil
}

func (c memClient) Batch(ctx context.Context, ops ...*storage.Operation) error {
	for _, op := range ops {
		var err error
		switch op.Type {
		case storage.Get:
			op.Value, err = c.Get(ctx, op.Key)
		case storage.Set:
			err = c.Set(ctx, op.Key, op.Value)
		case storage.Delete:
			err = c.Delete(ctx, op.Key)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (memClient) Close(context.Context) error { return nil }

// TestCheckpointSurvivesACrash: the state is saved every checkpoint_interval, so a collector killed without a
// shutdown (OOM, node loss) still finds what was counted before the last checkpoint.
func TestCheckpointSurvivesACrash(t *testing.T) {
	mem := &memStorage{}
	cfg := createDefaultConfig()
	cfg.CheckpointInterval = 10 * time.Millisecond
	crashed, _ := startWithStorage(t, cfg, mem, nil)
	require.NoError(t, crashed.ConsumeLogs(context.Background(), scans(0, 4)))
	// A checkpoint after the batch: two saves from now on, the later one began after the batch was counted.
	mem.mu.Lock()
	after := mem.sets
	mem.mu.Unlock()
	require.Eventually(t, func() bool {
		mem.mu.Lock()
		defer mem.mu.Unlock()
		return mem.sets >= after+2
	}, 10*time.Second, 5*time.Millisecond)
	// The crashed processor is never shut down (its checkpoints are stopped at the end of the test).
	snapshot := &memStorage{data: map[string][]byte{}}
	mem.mu.Lock()
	for k, v := range mem.data {
		snapshot.data[k] = v
	}
	mem.mu.Unlock()
	t.Cleanup(func() { require.NoError(t, crashed.Shutdown(context.Background())) })

	// The same state as a build that did not seal its values wrote it (the payloads alone) restores too.
	unsealed := &memStorage{data: map[string][]byte{}}
	for k, v := range snapshot.data {
		payload, err := unseal(v)
		require.NoError(t, err)
		require.NotEqual(t, v, payload, "the saved value was sealed")
		unsealed.data[k] = payload
	}
	for name, storage := range map[string]*memStorage{"sealed": snapshot, "unsealed": unsealed} {
		p, sink := startWithStorage(t, createDefaultConfig(), storage, nil)
		require.NoError(t, p.ConsumeLogs(context.Background(), scans(4, 2)))
		require.NoError(t, p.Shutdown(context.Background()))
		n, count := riskCount(sink.AllLogs())
		assert.Equal(t, 1, n, name)
		assert.Equal(t, "6", count, name)
	}
}

// TestUnreadableStateStartsEmpty: saved state that does not decode is logged and the processor starts with empty
// state (it is a cache of what the events said: nothing to stop the collector for); a storage setting that names
// no storage extension stops start-up; a failing save is logged, counted, and reported by shutdown.
func TestUnreadableStateStartsEmpty(t *testing.T) {
	// Sealed bytes that do not decode, a sealed value with one byte changed (a bad disk), and a value of another format.
	for _, tt := range []struct {
		name, value, log, err string
	}{
		{"undecodable", string(seal([]byte("not state"))), "saved detection state unreadable; stateful rules start empty", "reading saved detection state"},
		{"damaged", strings.Replace(string(seal([]byte("some saved state"))), "saved", "sav3d", 1), "saved detection state not used; stateful rules start empty, and the next checkpoint replaces it", "checksum does not match"},
		{"cut short", string(seal([]byte("x")))[:len(stateMagic)+5], "saved detection state not used; stateful rules start empty, and the next checkpoint replaces it", "damaged: cut short"},
		// Written before values were sealed: read as it is, so that its own check says what it is.
		{"unsealed", "not state", "saved detection state unreadable; stateful rules start empty", "reading saved detection state"},
	} {
		core, logs := observer.New(zap.InfoLevel)
		mem := &memStorage{data: map[string][]byte{stateStorageKey: []byte(tt.value), throttleStorageKey: []byte(tt.value)}}
		p, _ := startWithStorage(t, createDefaultConfig(), mem, zap.New(core))
		said := logs.FilterMessage(tt.log).All()
		require.Len(t, said, 1, tt.name)
		assert.Contains(t, said[0].ContextMap()["error"], tt.err, tt.name)
		assert.Equal(t, 1, logs.FilterMessage("saved throttle state not used; throttles start empty").Len(), tt.name)
		require.NoError(t, p.Shutdown(context.Background()))
	}

	core, logs := observer.New(zap.InfoLevel)
	mem := &memStorage{data: map[string][]byte{stateStorageKey: []byte("not state")}}
	p, sink := startWithStorage(t, createDefaultConfig(), mem, zap.New(core))
	assert.Equal(t, 1, logs.FilterMessage("saved detection state unreadable; stateful rules start empty").Len())
	require.NoError(t, p.ConsumeLogs(context.Background(), scans(0, 6)))
	n, _ := riskCount(sink.AllLogs())
	assert.Equal(t, 1, n, "the processor runs")
	require.NoError(t, p.Shutdown(context.Background()))
	assert.NotEqual(t, "not state", string(mem.data[stateStorageKey]), "shutdown saved the state over it")

	for name, ext := range map[string]component.Component{"absent": nil, "not a storage": struct {
		component.StartFunc
		component.ShutdownFunc
	}{}} {
		cfg := createDefaultConfig()
		cfg.Storage = &storageID
		p, err := NewFactory().CreateLogs(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, new(consumertest.LogsSink))
		require.NoError(t, err)
		host := hostWith{}
		if ext != nil {
			host[storageID] = ext
		}
		err = p.Start(context.Background(), host)
		assert.ErrorContains(t, err, `storage: extension "file_storage"`, name)
		require.NoError(t, p.Shutdown(context.Background()))
	}

	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	set := processortest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	cfg := createDefaultConfig()
	cfg.Storage = &storageID
	full := &memStorage{failSet: true}
	p, err := NewFactory().CreateLogs(context.Background(), set, cfg, new(consumertest.LogsSink))
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background(), hostWith{storageID: full}))
	assert.ErrorContains(t, p.Shutdown(context.Background()), "disk full")
	assertSum(t, tel, "otelcol_processor_auditdetect_state_saves", 1)
}

// TestStorageThatFailsToRead: a read that fails at start-up is tried again a few times; one that keeps failing is
// logged as an error and the processor starts empty.
func TestStorageThatFailsToRead(t *testing.T) {
	saved := &memStorage{}
	p, _ := startWithStorage(t, createDefaultConfig(), saved, nil)
	require.NoError(t, p.ConsumeLogs(context.Background(), scans(0, 4)))
	require.NoError(t, p.Shutdown(context.Background()))

	for _, tc := range []struct {
		name    string
		failGet int
		fires   bool
	}{
		{"fails twice, then reads", restoreAttempts - 1, true},
		{"keeps failing", restoreAttempts, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			core, logs := observer.New(zap.InfoLevel)
			mem := &memStorage{data: saved.data, failGet: tc.failGet}
			p, sink := startWithStorage(t, createDefaultConfig(), mem, zap.New(core))
			require.NoError(t, p.ConsumeLogs(context.Background(), scans(4, 2)))
			n, _ := riskCount(sink.AllLogs())
			assert.Equal(t, tc.fires, n == 1, "the scan spanning the restart fires only if the state was read")
			assert.Equal(t, !tc.fires, logs.FilterLevelExact(zap.ErrorLevel).Len() == 1, "an error is logged when it was not")
			require.NoError(t, p.Shutdown(context.Background()))
		})
	}
}

// TestCheckpointsDuringReloadsAndBatches: checkpoints every millisecond while two goroutines send batches and the
// rule files change under a reload interval, then shutdown: nothing races (-race), nothing deadlocks, and the state
// is saved throughout.
func TestCheckpointsDuringReloadsAndBatches(t *testing.T) {
	cfg, dir := builtinAndReloadRule(t)
	// A rule whose aggregates rewrite their values in place, which a save must copy before encoding.
	writeFile(t, filepath.Join(dir, "extremes.yml"), `name: Test Extremes
id: 0b6f9a43-51a4-4a43-9d6c-5a3c2c1e0777
search: '`+"`kube_audit`"+` responseStatus.code=403
  | stats count min(requestURI) as lo max(requestURI) as hi earliest(requestURI) as e latest(requestURI) as l by sourceIPs{}
  | where count > 1000000
  | rename sourceIPs{} as src'
rba:
  message: scan from $src$
  risk_objects: [{field: src, type: system, score: 20}]
`)
	cfg.CheckpointInterval = time.Millisecond
	mem := &memStorage{}
	p, _ := startWithStorage(t, cfg, mem, nil)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := 0; g < 2; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				body := fmt.Sprintf(`{"auditID":"r-%d-%d","stage":"ResponseComplete","verb":"list",`+
					`"user":{"username":"system:anonymous","groups":["system:unauthenticated"]},"sourceIPs":["198.51.100.%d"],`+
					`"requestURI":"/api/v1/x%d","responseStatus":{"code":403},"stageTimestamp":"2026-11-03T09:%02d:00Z"}`, g, i, i%7, i, i%60)
				assert.NoError(t, p.ConsumeLogs(context.Background(), input(str(body))))
			}
		}()
	}
	for i := 0; i < 6; i++ {
		writeFile(t, filepath.Join(dir, "svc.yml"), reloadRule([]string{"ClusterIP", "NodePort"}[i%2]))
		time.Sleep(3 * tick)
	}
	// The batches go on until the checkpoints have run (a loaded machine may not have run them in those 900 ms).
	require.Eventually(t, func() bool {
		mem.mu.Lock()
		defer mem.mu.Unlock()
		return mem.sets > 10
	}, waitFor, tick, "checkpoints ran")
	close(stop)
	wg.Wait()
	done := make(chan error)
	go func() { done <- p.Shutdown(context.Background()) }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(waitFor):
		t.Fatal("shutdown hangs")
	}
}

// TestThrottleWindowsSurviveRestart: a key whose risk event went out before the restart stays suppressed after it,
// for the rest of its window, when the rule's detection and its throttle settings are unchanged (a rule_overrides
// message or score changes neither); changed settings start afresh.
func TestThrottleWindowsSurviveRestart(t *testing.T) {
	for _, tc := range []struct {
		name  string
		after *Config
		want  []string
	}{
		// eve@2 falls in the window eve@0 opened (to minute 10) and is held back; eve@12 goes out carrying it.
		{"same settings", testConfig(throttled(10 * time.Minute)), []string{"eve@12+1"}},
		{"message and score overridden", throttledWithRisk(10*time.Minute, RuleOverride{Message: "$user$ opened a NodePort",
			RiskObjects: []RiskObjectConfig{{Field: "user", Type: "user", Score: 90}}}), []string{"eve@12+1"}},
		// Another window length is another throttle: eve@2 goes out, and eve@12 falls in the window it opened.
		{"window changed", testConfig(throttled(20 * time.Minute)), []string{"eve@2+0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := &memStorage{}
			before, beforeSink := startWithStorage(t, testConfig(throttled(10*time.Minute)), mem, nil)
			require.NoError(t, before.ConsumeLogs(context.Background(), input(str(nodePortBy("eve", "198.51.100.1", 0)))))
			require.NoError(t, before.Shutdown(context.Background()))
			require.Equal(t, []string{"eve@0+0"}, riskSummary(t, beforeSink.AllLogs()))

			after, sink := startWithStorage(t, tc.after, mem, nil)
			require.NoError(t, after.ConsumeLogs(context.Background(), input(
				str(nodePortBy("eve", "198.51.100.1", 2)), str(nodePortBy("eve", "198.51.100.1", 12)))))
			assert.Equal(t, tc.want, riskSummary(t, sink.AllLogs()))
			require.NoError(t, after.Shutdown(context.Background()))
		})
	}
}

// throttledWithRisk is the test config with the NodePort rule throttled on its risk objects' fields for window and
// o's risk objects, threat objects and message.
func throttledWithRisk(window time.Duration, o RuleOverride) *Config {
	cfg := testConfig(throttled(window))
	o.Throttle = cfg.RuleOverrides["Test NodePort"].Throttle
	cfg.RuleOverrides["Test NodePort"] = o
	return cfg
}

// TestThrottleStateSavedBeforeTheDetectionKey: throttle state saved before it carried its rule's detection key (by a
// build that wrote only the definition key) is restored by the definition key, risk block included: to the same rule,
// not to one whose message was reworded since.
func TestThrottleStateSavedBeforeTheDetectionKey(t *testing.T) {
	const id = "0b6f9a43-51a4-4a43-9d6c-5a3c2c1e0001" // Test NodePort
	newProcessor := func(cfg *Config) *auditProcessor {
		p, err := newAuditProcessor(processortest.NewNopSettings(metadata.Type), cfg)
		require.NoError(t, err)
		return p
	}
	def, ok := newProcessor(testConfig(throttled(10 * time.Minute))).detector.engine.DefinitionKey(id)
	require.True(t, ok)
	var saved bytes.Buffer
	require.NoError(t, gob.NewEncoder(&saved).Encode(savedThrottles{Version: throttleStateVersion, Rules: []savedThrottle{{
		RuleID: id, Definition: def, Fields: []string{"user"}, Window: 10 * time.Minute,
		Keys: []window.KeyWindow{{Key: "eve", End: s0.Add(10 * time.Minute)}}}}}))
	n, err := newProcessor(testConfig(throttled(10 * time.Minute))).restoreThrottles(saved.Bytes())
	require.NoError(t, err)
	assert.Equal(t, 1, n, "the same rule")
	n, err = newProcessor(throttledWithRisk(10*time.Minute, RuleOverride{Message: "$user$ opened a NodePort"})).
		restoreThrottles(saved.Bytes())
	require.NoError(t, err)
	assert.Zero(t, n, "a reworded message: the saved definition key is another")
}

// TestThrottleReportSurvivesARefusedShutdown: the shutdown flushes what the throttles held back; when the next
// consumer refuses that flush, the reports are kept in storage, with the resource of their match, and go out with the
// first batch after the restart. The throttle's window is kept too: eve stays suppressed after the restart.
func TestThrottleReportSurvivesARefusedShutdown(t *testing.T) {
	mem := &memStorage{}
	p, first := startRefusingAfterFirst(t, testConfig(throttled(10*time.Minute)), mem)
	// eve@0 goes out and opens a window to minute 10; eve@2 and eve@3 are held back.
	require.NoError(t, p.ConsumeLogs(context.Background(), input(str(nodePortBy("eve", "198.51.100.1", 0)),
		str(nodePortBy("eve", "198.51.100.1", 2)), str(nodePortBy("eve", "198.51.100.1", 3)))))
	require.Equal(t, []string{"eve@0+0"}, riskSummary(t, first.AllLogs()))
	require.Error(t, p.Shutdown(context.Background()))

	after, sink := startWithStorage(t, testConfig(throttled(10*time.Minute)), mem, nil)
	require.NoError(t, after.ConsumeLogs(context.Background(), input(str(nodePortBy("eve", "198.51.100.1", 5)))))
	assert.Equal(t, []string{"eve@3+1"}, riskSummary(t, sink.AllLogs()), "the held report, and eve@5 held in the restored window")
	var cluster []string
	for _, ld := range sink.AllLogs() {
		for i := 0; i < ld.ResourceLogs().Len(); i++ {
			if v, ok := ld.ResourceLogs().At(i).Resource().Attributes().Get("k8s.cluster.name"); ok {
				cluster = append(cluster, v.Str())
			}
		}
	}
	assert.Contains(t, cluster, "prod", "the report's resource is its match's")
	require.NoError(t, after.Shutdown(context.Background()))
}

// TestThrottleDecisionsSurviveRestart: a batch the next consumer refused just before a restart (a Kafka receiver
// redelivers what it did not commit) is throttled after the restart as it was the first time. eve@0 went out in
// the refused batch and opened a window the restart keeps; without the memory of that decision, its retry would be
// held back as a repeat of itself, and no risk record of eve@0 would ever reach Splunk. eve@2 was held back the
// first time, and its report (refused at the shutdown, saved) goes out after the restart: its retry is not counted
// again, or a second report would say it twice.
func TestThrottleDecisionsSurviveRestart(t *testing.T) {
	mem := &memStorage{}
	refused := func() plog.Logs {
		return input(str(nodePortBy("eve", "198.51.100.1", 0)), str(nodePortBy("eve", "198.51.100.1", 2)))
	}
	before, _ := startRefusing(t, testConfig(throttled(10*time.Minute)), mem, func(int32) bool { return true })
	require.Error(t, before.ConsumeLogs(context.Background(), refused()))
	require.Error(t, before.Shutdown(context.Background()), "its flush of eve@2's report is refused too")

	after, sink := startWithStorage(t, testConfig(throttled(10*time.Minute)), mem, nil)
	require.NoError(t, after.ConsumeLogs(context.Background(), refused()))
	assert.ElementsMatch(t, []string{"eve@2+0", "eve@0+0"}, riskSummary(t, sink.AllLogs()),
		"the saved report of eve@2, and the retry's eve@0")
	require.NoError(t, after.Shutdown(context.Background()))
	assert.ElementsMatch(t, []string{"eve@2+0", "eve@0+0"}, riskSummary(t, sink.AllLogs()), "no second report of eve@2")
}

// TestSavedReportOfAGoneRuleIsSaid: a throttle report refused at shutdown is saved; when the restarted rule set no
// longer loads its rule, the report cannot be written (its risk record is made from the rule) and is dropped, with a
// warning naming the rule.
func TestSavedReportOfAGoneRuleIsSaid(t *testing.T) {
	mem := &memStorage{}
	p, _ := startRefusingAfterFirst(t, testConfig(throttled(10*time.Minute)), mem)
	require.NoError(t, p.ConsumeLogs(context.Background(), input(str(nodePortBy("eve", "198.51.100.1", 0)),
		str(nodePortBy("eve", "198.51.100.1", 2)))))
	require.Error(t, p.Shutdown(context.Background()))

	other := createDefaultConfig()
	other.Rules = []string{fewCreatesRule(t)}
	core, logs := observer.New(zap.InfoLevel)
	after, sink := startWithStorage(t, other, mem, zap.New(core))
	require.NoError(t, after.Shutdown(context.Background()))
	assert.Empty(t, riskSummary(t, sink.AllLogs()))
	said := logs.FilterMessageSnippet("saved for rules that are no longer loaded").All()
	require.Len(t, said, 1)
	assert.Equal(t, []any{"0b6f9a43-51a4-4a43-9d6c-5a3c2c1e0001"}, said[0].ContextMap()["rule_ids"])
	assert.Equal(t, int64(1), said[0].ContextMap()["reports"])
}
