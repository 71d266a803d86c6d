package auditdetectprocessor

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// TestHeldWindowAnswerReportKeepsItsResource: answers of two clusters' windows close in one batch, and the throttle
// holds both; each report must go out in the resource of its own answer's events, not in the first group's.
func TestHeldWindowAnswerReportKeepsItsResource(t *testing.T) {
	p, sink := startWithStorage(t, fewCreatesThrottled(t, fewCreatesRule(t)), &memStorage{}, nil)
	ctx := context.Background()
	// Window [0,10): alice (east) and bob (west) answered at 11.5 and sent (the first of each key).
	require.NoError(t, p.ConsumeLogs(ctx, inCluster("east", str(createBy("alice", 1)))))
	require.NoError(t, p.ConsumeLogs(ctx, inCluster("west", str(createBy("bob", 2)))))
	require.NoError(t, p.ConsumeLogs(ctx, inCluster("north", str(createBy("carol", 11.5)))))
	// Window [10,20): both again, answered at 21.5 and held by the throttle (25m); reported at shutdown.
	require.NoError(t, p.ConsumeLogs(ctx, inCluster("east", str(createBy("alice", 12)))))
	require.NoError(t, p.ConsumeLogs(ctx, inCluster("west", str(createBy("bob", 13)))))
	require.NoError(t, p.ConsumeLogs(ctx, inCluster("north", str(createBy("carol", 21.5)))))
	require.NoError(t, p.Shutdown(ctx))
	assert.Equal(t, []string{"east/alice:1", "east/alice:1", "north/carol:1", "west/bob:1", "west/bob:1"},
		answersByCluster(sink.AllLogs()))
}

// TestSuppressedCountOfARefusedAnswerSurvivesRestart: alice's window answers at 10 (sent), 20 and 30 (held), 40 (sent
// with suppressed_count 2). The batch carrying the answer at 40 and the shutdown are refused; after the restart the
// answer must still stand for the three matches it carried.
func TestSuppressedCountOfARefusedAnswerSurvivesRestart(t *testing.T) {
	mem := &memStorage{}
	dir := fewCreatesRule(t)
	p, first := startRefusing(t, fewCreatesThrottled(t, dir), mem, func(call int32) bool { return call > 4 })
	ctx := context.Background()
	for _, min := range []float64{1, 11.5, 21.5, 31.5} {
		require.NoError(t, p.ConsumeLogs(ctx, input(str(createBy("alice", min)))))
	}
	require.Error(t, p.ConsumeLogs(ctx, input(str(createBy("alice", 41.5)))))
	require.Error(t, p.Shutdown(ctx))
	require.Equal(t, int64(1), matchesOf(first.AllLogs(), "alice"))

	p2, sink := startWithStorage(t, fewCreatesThrottled(t, dir), mem, nil)
	require.NoError(t, p2.Shutdown(ctx))
	assert.Equal(t, int64(4), matchesOf(append(first.AllLogs(), sink.AllLogs()...), "alice"),
		"alice's window answered four times")
}

// TestResourceOriginTellsTypesApart: two resources whose attributes differ only in a value's type are not the same
// resource (one agent sends an id as an int, another as a string): they must not share an origin, or the answers of
// one are written in the other's resource. Equal resources, in any order, share one.
func TestResourceOriginTellsTypesApart(t *testing.T) {
	res := func(fill func(m pcommon.Map)) pcommon.Resource {
		r := pcommon.NewResource()
		r.Attributes().PutStr("k8s.cluster.name", "east")
		fill(r.Attributes())
		return r
	}
	a := res(func(m pcommon.Map) { m.PutInt("shard", 1) })
	b := res(func(m pcommon.Map) { m.PutStr("shard", "1") })
	c := res(func(m pcommon.Map) { m.PutStr("tags", `["a"]`) })
	d := res(func(m pcommon.Map) { m.PutEmptySlice("tags").AppendEmpty().SetStr("a") })
	assert.NotEqual(t, resourceOrigin(a), resourceOrigin(b), "int 1 and string \"1\"")
	assert.NotEqual(t, resourceOrigin(c), resourceOrigin(d), "a slice and its JSON as a string")
	e := pcommon.NewResource()
	e.Attributes().PutInt("shard", 1)
	e.Attributes().PutStr("k8s.cluster.name", "east")
	assert.Equal(t, resourceOrigin(a), resourceOrigin(e), "the same attributes in another order")
}
