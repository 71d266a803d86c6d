package auditdetectprocessor

import (
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/auditdetect/auditdetect/processor/engine"
)

// TestPrefetchBodyAllocatesNothing: prefetching the next record is a hint, so it must not cost what reading the body
// does: a bytes body, which pdata gives out only as a copy, is left alone.
func TestPrefetchBodyAllocatesNothing(t *testing.T) {
	e, err := engine.Compile(nil, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	eval := e.Evaluator()
	defer eval.Close()
	str, raw := pcommon.NewValueStr(nodePortCreate), pcommon.NewValueBytes()
	raw.Bytes().FromRaw([]byte(nodePortCreate))
	for _, body := range []pcommon.Value{str, raw, pcommon.NewValueEmpty()} {
		if n := testing.AllocsPerRun(100, func() { prefetchBody(&eval, body) }); n != 0 {
			t.Errorf("%s body: %v allocations per prefetch, want 0", body.Type(), n)
		}
	}
}
