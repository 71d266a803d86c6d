package window

import (
	"fmt"
	"runtime"
	"testing"
	"time"
)

// BenchmarkThrottleAdmit is the cost of one throttle decision over 10000 keys (mostly repeats held back).
func BenchmarkThrottleAdmit(b *testing.B) {
	th := NewThrottle[int](10*time.Minute, 100000)
	keys := make([]string, 10000)
	for i := range keys {
		keys[i] = fmt.Sprintf("user-%d\x0010.0.%d.%d", i, i>>8&255, i&255)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		th.Admit(keys[i%len(keys)], t0.Add(time.Duration(i)*time.Millisecond), i)
	}
}

// BenchmarkThrottleBytesPerKey measures the heap one throttle key holds beyond the caller's record of its latest
// held match (T is an int here): 100000 keys, each with one match let through and one held back.
func BenchmarkThrottleBytesPerKey(b *testing.B) {
	const n = 100000
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("user-%d\x0010.0.%d.%d", i, i>>8&255, i&255)
	}
	for i := 0; i < b.N; i++ {
		th := NewThrottle[int](time.Hour, n)
		th.wm.Now = func() time.Time { return t0.Add(48 * time.Hour) }
		before := heap()
		for k, key := range keys {
			th.Admit(key, t0, k)
			th.Admit(key, t0.Add(time.Second), k)
		}
		after := heap()
		if keys, _, held := th.Stats(); keys != n || held != n {
			b.Fatalf("keys %d held %d", keys, held)
		}
		b.ReportMetric(float64(after-before)/n, "bytes/key")
		runtime.KeepAlive(th)
	}
}

func heap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
