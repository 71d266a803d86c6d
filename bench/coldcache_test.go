package bench

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/auditdetect/auditdetect/processor/auditdetectprocessor"
)

// evictBytes is how much memory BenchmarkColdCaches writes between batches: several times a core's L2 cache (2 MiB
// on the Xeon machine), about what a collector's receiver and exporter touch between two of filelog's batches (a
// batch of 100 records is read, decoded, copied into pdata, then encoded and written by the exporter).
const evictBytes = 16 << 20

var (
	evictBuf  []byte
	touchSink byte
)

// BenchmarkColdCaches runs the processor with the built-in pack (its default config) over the mix in batches of 10,
// 100 (filelog's) and 1000 records, either one batch after another ("kept": the engine's code and state stay in the
// core's caches) or with evictBytes written between batches ("evicted": as in a whole collector, where the receiver
// and the exporter run on the same goroutine between two batches). Each batch's bodies are read just before it, as
// the receiver has just written them, so that the difference between the two is the processor's own code and state
// coming back into the caches once per batch. Only the processor's calls are timed (cpu-ns/op, thread CPU); ns/op
// and -benchmem's columns include the eviction and each batch's copy. As in BenchmarkMix's processor benchmarks, the
// mix's auditIDs come back every pass: the stateful rules take those events for redeliveries.
func BenchmarkColdCaches(b *testing.B) {
	for _, size := range []int{10, 100, 1000} {
		bs := batchesOf(mix, size)
		for _, evict := range []bool{false, true} {
			// Named for benchstat's columns: `benchstat -col /caches` sets kept beside evicted.
			name := fmt.Sprintf("batch=%d/caches=kept", size)
			if evict {
				name = fmt.Sprintf("batch=%d/caches=evicted", size)
			}
			b.Run(name, func(b *testing.B) {
				if evict && evictBuf == nil {
					evictBuf = make([]byte, evictBytes)
				}
				p := newProcessor(b, auditdetectprocessor.NewFactory(), map[string]any{"rules": []string{"builtin"}},
					consumertest.NewNop())
				ctx := context.Background()
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				for _, batch := range bs[:min(len(bs), 4)] {
					ld := plog.NewLogs()
					batch.CopyTo(ld)
					consume(b, p, ctx, ld)
				}
				b.ResetTimer()
				var cpu time.Duration
				n := 0
				for i := 0; n < b.N; i++ {
					// Fork mode appends risk records to the batch it is given: each pass gets a copy (the bodies'
					// strings are shared, not copied).
					ld := plog.NewLogs()
					bs[i%len(bs)].CopyTo(ld)
					records := ld.LogRecordCount()
					if evict {
						for j := 0; j < len(evictBuf); j += 64 {
							evictBuf[j]++
						}
					}
					touchBodies(ld)
					cpu0 := threadCPU()
					consume(b, p, ctx, ld)
					cpu += threadCPU() - cpu0
					n += records
				}
				b.StopTimer()
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(n), "cpu-ns/op")
			})
		}
	}
}

// batchesOf puts events into plog batches of size string-bodied records.
func batchesOf(events [][]byte, size int) []plog.Logs {
	var out []plog.Logs
	for i := 0; i < len(events); i += size {
		ld := plog.NewLogs()
		lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
		for _, e := range events[i:min(i+size, len(events))] {
			lrs.AppendEmpty().Body().SetStr(string(e))
		}
		out = append(out, ld)
	}
	return out
}

// touchBodies reads a byte of every cache line of the batch's bodies, bringing them into the caches.
func touchBodies(ld plog.Logs) {
	lrs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	for k := 0; k < lrs.Len(); k++ {
		s := lrs.At(k).Body().Str()
		for j := 0; j < len(s); j += 64 {
			touchSink += s[j]
		}
	}
}
