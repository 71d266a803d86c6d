package bench

import (
	"testing"

	"github.com/google/pprof/profile"
)

// TestCPUSharesAttribution: each sample goes to the innermost part of the pipeline on its stack. The exporterhelper
// around the file exporter is the exporter's even when the processor's deliveryWatch is the next frame above it, and
// the processor's own code under deliveryWatch stays the processor's, as does the processorhelper around it.
func TestCPUSharesAttribution(t *testing.T) {
	const (
		receiver   = "github.com/open-telemetry/opentelemetry-collector-contrib/pkg/stanza/adapter.(*receiver).consumeEntries"
		procHelper = "go.opentelemetry.io/collector/processor/processorhelper.NewLogs.func1"
		watch      = "github.com/auditdetect/auditdetect/processor/auditdetectprocessor.deliveryWatch.ConsumeLogs"
		answered   = "github.com/auditdetect/auditdetect/processor/auditdetectprocessor.(*auditProcessor).answered"
		process    = "github.com/auditdetect/auditdetect/processor/auditdetectprocessor.(*auditProcessor).processLogs"
		evaluate   = "github.com/auditdetect/auditdetect/processor/engine.(*Evaluator).Evaluate"
		tap        = "github.com/auditdetect/auditdetect/bench.profileCollector.func3"
		consume    = "go.opentelemetry.io/collector/consumer.ConsumeLogsFunc.ConsumeLogs"
		sender     = "go.opentelemetry.io/collector/exporter/exporterhelper/internal.(*BaseExporter).Send"
		fileExp    = "github.com/open-telemetry/opentelemetry-collector-contrib/exporter/fileexporter.(*fileExporter).consumeLogs"
		malloc     = "runtime.mallocgc"
		// Generic names as the profile has them: the type arguments name other packages.
		store   = "github.com/auditdetect/auditdetect/processor/window.(*Store[go.shape.[]github.com/auditdetect/auditdetect/processor/engine.Row]).Add"
		timeout = "go.opentelemetry.io/collector/exporter/exporterhelper/internal.(*timeoutSender[go.shape.interface { MergeSplit(context.Context, int, go.opentelemetry.io/collector/exporter/exporterhelper/internal/request.SizerType) }]).Send"
	)
	stacks := []struct {
		frames []string // leaf first
		cpu    int64
		part   string
	}{
		{[]string{evaluate, process, procHelper, receiver}, 10, "auditdetect: the engine (Evaluate)"},
		{[]string{malloc, process, procHelper, receiver}, 4, "auditdetect: the rest of the processor (pdata, RBA records, telemetry)"},
		{[]string{malloc, procHelper, receiver}, 1, "auditdetect: the rest of the processor (pdata, RBA records, telemetry)"},
		{[]string{malloc, answered, watch, procHelper, receiver}, 1, "auditdetect: the rest of the processor (pdata, RBA records, telemetry)"},
		{[]string{malloc, sender, consume, tap, consume, watch, procHelper, receiver}, 7, "file exporter (OTLP JSON encoding, writing; exporterhelper)"},
		{[]string{fileExp, consume, sender, consume, tap, consume, watch, procHelper, receiver}, 20, "file exporter (OTLP JSON encoding, writing; exporterhelper)"},
		{[]string{tap, consume, watch, procHelper, receiver}, 2, "this test's tap (counting the records that come out)"},
		{[]string{malloc, store, process, procHelper, receiver}, 1, "auditdetect: the rest of the processor (pdata, RBA records, telemetry)"},
		// Without the tap between them, exporterhelper's next frame above is deliveryWatch, as in a real collector.
		{[]string{malloc, timeout, consume, watch, procHelper, receiver}, 1, "file exporter (OTLP JSON encoding, writing; exporterhelper)"},
		{[]string{malloc, receiver}, 48, "filelog receiver (reading, splitting, stanza)"},
		{[]string{"runtime.futex"}, 5, "everything else (collector core, runtime)"},
	}
	p := &profile.Profile{SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}}}
	want := map[string]float64{}
	for _, st := range stacks {
		s := &profile.Sample{Value: []int64{1, st.cpu}}
		for _, name := range st.frames {
			s.Location = append(s.Location, &profile.Location{Line: []profile.Line{{Function: &profile.Function{Name: name}}}})
		}
		p.Sample = append(p.Sample, s)
		want[st.part] += float64(st.cpu)
	}
	want["auditdetect in all"] = want["auditdetect: the engine (Evaluate)"] +
		want["auditdetect: the rest of the processor (pdata, RBA records, telemetry)"]
	got := map[string]float64{}
	for _, sh := range cpuShares(p) {
		got[sh.what] = sh.pct
	}
	for part, cpu := range want {
		if g := got[part]; g != cpu { // the stacks' CPU adds up to 100
			t.Errorf("%s: %.1f%%, want %.1f%%", part, g, cpu)
		}
	}
}
