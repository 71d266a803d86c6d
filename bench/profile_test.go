package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	"github.com/open-telemetry/opentelemetry-collector-contrib/exporter/fileexporter"
	"github.com/open-telemetry/opentelemetry-collector-contrib/receiver/filelogreceiver"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/xconfmap"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/auditdetect/auditdetect/processor/auditdetectprocessor"
	"github.com/auditdetect/auditdetect/processor/auditgen"
)

// profileEvents is the length of the log the collector reads in TestCollectorProfile, profileRuns how many times,
// profileHz the rate asked of the profiler (samples per CPU second).
const (
	profileEvents = 240000
	profileRuns   = 5
	profileHz     = 1000
)

// TestCollectorProfile runs a whole collector pipeline in this process, filelog → auditdetect → file exporter, over
// the generated log, under the CPU profiler, and prints the share of the CPU each part took. `make bench` runs it.
// It fails only if the pipeline loses records; the shares are printed, not asserted (a timed test would be flaky
// on a shared machine).
func TestCollectorProfile(t *testing.T) {
	if testing.Short() {
		t.Skip("a whole collector run")
	}
	for _, tc := range []struct {
		name  string
		rules []string
		// encoding is the filelog receiver's; "" leaves its default (utf-8), as every run before session 30 did.
		encoding string
	}{
		{"built-in pack (the default config)", []string{"builtin"}, ""},
		// The shipped configs read with utf-8-raw (docs/operations.md): the receiver costs less, so the processor's
		// share of the same work is larger.
		{"built-in pack, filelog encoding utf-8-raw (the shipped configs')", []string{"builtin"}, "utf-8-raw"},
		{"full rule set", fullRulePaths(t), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// At pprof's default 100 samples a second, one run held about 400 samples: a share of 12% moved by ±1.7
			// points from sampling alone. profileHz asks for more; the kernel's timer tick caps it (about 250 a
			// second on these machines: ±1.1). Several runs are merged, and each run's auditdetect share is printed
			// to show the spread, which is larger than sampling alone explains.
			var profiles []*profile.Profile
			var runs []string
			var cpu time.Duration
			for range profileRuns {
				p, n, elapsed, runCPU := profileCollector(t, tc.rules, tc.encoding)
				profiles = append(profiles, p)
				cpu += runCPU
				shares := cpuShares(p)
				runs = append(runs, fmt.Sprintf("%.1f%% (%d records in %s, %s CPU)", shares[len(shares)-1].pct, n,
					elapsed.Round(time.Millisecond), runCPU.Round(time.Millisecond)))
			}
			merged, err := profile.Merge(profiles)
			if err != nil {
				t.Fatal(err)
			}
			if path := os.Getenv("AUDITDETECT_PROFILE_OUT"); path != "" {
				// Keep the merged profile for `go tool pprof` (the last rule set's, when both run).
				var buf bytes.Buffer
				if err := merged.Write(&buf); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			samples := int64(0)
			for _, s := range merged.Sample {
				samples += s.Value[0] // the first sample type of a CPU profile counts samples
			}
			// The shares move with what the rest of the collector costs on the day (the exporter's writes spend much
			// of their time in the kernel), so each part's CPU per event is printed beside its share: the process's
			// CPU time over the runs (user and system, from getrusage), split by the profile's shares.
			perEvent := float64(cpu.Nanoseconds()) / float64(profileRuns*profileEvents)
			fmt.Printf("\nwhole collector, %s, %d runs merged (%d samples; %.0f ns of CPU an event in all):\n",
				tc.name, profileRuns, samples, perEvent)
			for _, s := range cpuShares(merged) {
				fmt.Printf("  %5.1f%%  %6.0f ns an event  %s\n", s.pct, s.pct/100*perEvent, s.what)
			}
			fmt.Printf("  auditdetect in all, run by run: %s\n", strings.Join(runs, ", "))
		})
	}
}

type share struct {
	what string
	pct  float64
}

// profileCollector runs the pipeline once under the profiler and returns its profile, the records that came out, the
// wall time and the process's CPU time (user and system) while it ran.
func profileCollector(t *testing.T, rules []string, encoding string) (*profile.Profile, int64, time.Duration, time.Duration) {
	dir := t.TempDir()
	// Each run writes about 730 MB of OTLP JSON. Left until the test ends, the earlier runs' files were still being
	// written back while the later runs ran, which slowed those runs' exporter by a third and lowered auditdetect's
	// share in them: every run now starts without them.
	defer os.RemoveAll(dir)
	logPath := filepath.Join(dir, "audit.log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := auditgen.WriteLog(f, 1, profileEvents); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	host := componentHost{}
	var started []component.Component
	start := func(c component.Component) {
		if err := c.Start(ctx, host); err != nil {
			t.Fatal(err)
		}
		started = append(started, c)
	}
	defer func() {
		for i := len(started) - 1; i >= 0; i-- {
			_ = started[i].Shutdown(ctx)
		}
	}()

	expFactory := fileexporter.NewFactory()
	exp, err := expFactory.CreateLogs(ctx, exportertest.NewNopSettings(expFactory.Type()),
		config(t, expFactory, map[string]any{"path": filepath.Join(dir, "out.json")}))
	if err != nil {
		t.Fatal(err)
	}
	start(exp)
	// Counts the audit records that come out (risk records have a risk_object attribute).
	var out atomic.Int64
	tap, err := consumer.NewLogs(func(ctx context.Context, ld plog.Logs) error {
		out.Add(int64(auditRecords(ld)))
		return exp.ConsumeLogs(ctx, ld)
	})
	if err != nil {
		t.Fatal(err)
	}
	procFactory := auditdetectprocessor.NewFactory()
	proc, err := procFactory.CreateLogs(ctx, processortest.NewNopSettings(procFactory.Type()),
		config(t, procFactory, map[string]any{"rules": rules, "on_rule_error": "skip",
			"geoip_database": geoDBPath(t)}), tap)
	if err != nil {
		t.Fatal(err)
	}
	start(proc)

	var prof bytes.Buffer
	// StartCPUProfile sets 100 Hz, which a rate set before it overrides: the runtime then prints "cannot set cpu
	// profile rate until previous profile has finished" to stderr and keeps profileHz.
	runtime.SetCPUProfileRate(profileHz)
	if err := pprof.StartCPUProfile(&prof); err != nil {
		t.Fatal(err)
	}
	begin, beginCPU := time.Now(), processCPU(t)
	flFactory := filelogreceiver.NewFactory()
	flConfig := map[string]any{"include": []any{logPath}, "start_at": "beginning", "poll_interval": "20ms"}
	if encoding != "" {
		flConfig["encoding"] = encoding
	}
	fl, err := flFactory.CreateLogs(ctx, receivertest.NewNopSettings(flFactory.Type()), config(t, flFactory, flConfig), proc)
	if err != nil {
		t.Fatal(err)
	}
	start(fl)
	for deadline := time.Now().Add(3 * time.Minute); out.Load() < profileEvents; {
		if time.Now().After(deadline) {
			pprof.StopCPUProfile()
			t.Fatalf("%d of %d records came out", out.Load(), profileEvents)
		}
		time.Sleep(10 * time.Millisecond)
	}
	elapsed, cpu := time.Since(begin), processCPU(t)-beginCPU
	pprof.StopCPUProfile()
	if n := out.Load(); n != profileEvents {
		t.Fatalf("%d records came out, %d went in", n, profileEvents)
	}
	p, err := profile.Parse(&prof)
	if err != nil {
		t.Fatal(err)
	}
	return p, out.Load(), elapsed, cpu
}

// processCPU is the CPU time the process has used so far, in user and system mode.
func processCPU(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuShares attributes each CPU sample to the innermost part of the pipeline on its stack: the receiver calls the
// processor, which calls the exporter, on one goroutine, so a sample in the exporter is the exporter's, not the
// receiver's. The exporter is the file exporter and the collector's exporterhelper around it (queue, timeout,
// obsreport): the processor's deliveryWatch wraps the next consumer, so until session 26 a sample in exporterhelper,
// with no file exporter frame below it, was counted as the processor's (about 0.5 points of its share). Likewise
// the processorhelper around auditdetect (its telemetry) is the processor's, not the receiver's (about 0.1 points).
func cpuShares(p *profile.Profile) []share {
	parts := []struct {
		what string
		pkgs []string
	}{
		{"auditdetect: the engine (Evaluate)", []string{"auditdetect/processor/engine."}},
		{"auditdetect: event reading", []string{"auditdetect/processor/event."}},
		{"auditdetect: the rest of the processor (pdata, RBA records, telemetry)",
			[]string{"auditdetect/processor/", "go.opentelemetry.io/collector/processor/processorhelper."}},
		{"file exporter (OTLP JSON encoding, writing; exporterhelper)",
			[]string{"exporter/fileexporter", "go.opentelemetry.io/collector/exporter/"}},
		{"filelog receiver (reading, splitting, stanza)", []string{"opentelemetry-collector-contrib/"}},
		{"garbage collector", []string{"runtime.gcBgMarkWorker"}},
		{"this test's tap (counting the records that come out)", []string{"auditdetect/auditdetect/bench."}},
	}
	var total int64
	sums := make([]int64, len(parts)+1)
	for _, s := range p.Sample {
		v := s.Value[len(s.Value)-1] // cpu nanoseconds
		total += v
		sums[attribute(s, len(parts), func(name string) int {
			// A generic function's name carries its type arguments' packages (window.(*Store[...engine.Row])): match
			// the function's own package only.
			if i := strings.IndexByte(name, '['); i >= 0 {
				name = name[:i]
			}
			for i, part := range parts {
				for _, pkg := range part.pkgs {
					if strings.Contains(name, pkg) {
						return i
					}
				}
			}
			return -1
		})] += v
	}
	var out []share
	auditdetect := 0.0
	for i, part := range parts {
		pct := 100 * float64(sums[i]) / float64(max(total, 1))
		if i < 3 {
			auditdetect += pct
		}
		out = append(out, share{part.what, pct})
	}
	out = append(out, share{"everything else (collector core, runtime)", 100 * float64(sums[len(parts)]) / float64(max(total, 1))},
		share{"auditdetect in all", auditdetect})
	return out
}

// attribute returns the part of the innermost frame that has one (other when none has).
func attribute(s *profile.Sample, other int, partOf func(string) int) int {
	for _, loc := range s.Location { // leaf first
		for _, line := range loc.Line {
			if i := partOf(line.Function.Name); i >= 0 {
				return i
			}
		}
	}
	return other
}

func auditRecords(ld plog.Logs) int {
	n := 0
	for i := 0; i < ld.ResourceLogs().Len(); i++ {
		sls := ld.ResourceLogs().At(i).ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			lrs := sls.At(j).LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				if _, risk := lrs.At(k).Attributes().Get("risk_object"); !risk {
					n++
				}
			}
		}
	}
	return n
}

// config unmarshals conf over the factory's defaults and validates it, as the collector does with YAML.
func config(tb testing.TB, f component.Factory, conf map[string]any) component.Config {
	tb.Helper()
	cfg := f.CreateDefaultConfig()
	if err := confmap.NewFromStringMap(conf).Unmarshal(cfg); err != nil {
		tb.Fatal(err)
	}
	if err := xconfmap.Validate(cfg); err != nil {
		tb.Fatal(err)
	}
	return cfg
}
