package engine

import "testing"

// TestReadsTail: an engine prefetches an event's end (Evaluator.Prefetch) only when its rules read the fields the API
// server writes there, the timestamps and the annotations (in a filter or a pipeline), or keep state by the event's
// time.
func TestReadsTail(t *testing.T) {
	for _, c := range []struct {
		search string
		tail   bool
	}{
		{`verb=create objectRef.resource=pods`, false},
		{`verb=get user.username=system:anonymous responseStatus.code=200`, false},
		{`verb=get | table user.username sourceIPs{}`, false},
		{`verb=delete "annotations.authorization.k8s.io/decision"=allow`, true},
		{`stageTimestamp=2026*`, true},
		{`requestReceivedTimestamp=*`, true},
		{`verb=get | stats count by user.username | where count > 5`, true},
		{`verb=get | eval t=_time`, true},
		// A pipeline reads the fields of every event the filter passes, as a filter does.
		{`verb=get | where 'annotations.authorization.k8s.io/decision'="forbid"`, true},
		{`verb=create | stats count by requestReceivedTimestamp user.username`, true},
		{`verb=get | eval d='annotations.authorization.k8s.io/decision' | where d="forbid"`, true},
		{`verb=get | eval d=case(stageTimestamp>"2026", 1) | where d=1`, true},
	} {
		e, err := compileSPL(t, c.search, Options{})
		if err != nil {
			t.Fatalf("%s: %v", c.search, err)
		}
		if e.readsTail != c.tail {
			t.Errorf("%s: reads the tail %v, want %v", c.search, e.readsTail, c.tail)
		}
	}
}
