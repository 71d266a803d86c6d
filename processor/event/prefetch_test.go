package event

import (
	"bytes"
	"testing"
)

// TestPrefetchLeavesBodies: Prefetch returns for every length and alignment around its head and tail bounds and
// changes no byte (it is assembly on amd64 and arm64: a wrong loop bound would not return, a wrong instruction would
// write).
func TestPrefetchLeavesBodies(t *testing.T) {
	buf := make([]byte, 64+prefetchHead+2*prefetchTail+64)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	want := bytes.Clone(buf)
	for off := range 64 {
		for _, n := range []int{0, 1, 2, 63, 64, 65, 127, prefetchHead - 1, prefetchHead, prefetchHead + 1,
			prefetchHead + prefetchTail - 1, prefetchHead + prefetchTail, prefetchHead + 2*prefetchTail} {
			for _, tail := range []bool{false, true} {
				Prefetch(buf[off:off+n], tail)
			}
		}
	}
	Prefetch(nil, true)
	if !bytes.Equal(buf, want) {
		t.Fatal("Prefetch changed the bytes it was given")
	}
}
