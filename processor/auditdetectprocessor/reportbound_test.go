package auditdetectprocessor

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/auditdetect/auditdetect/processor/rule"
	"github.com/auditdetect/auditdetect/processor/window"
)

// TestWaitingReportsBoundPerRule: reports with no throttle to go back to (a reload removed their throttles) wait at
// most max_keys per rule they are of. The bound counted the throttles of the running rule set instead: after a reload
// that removed every throttle, reports of two rules had room for one rule's.
func TestWaitingReportsBoundPerRule(t *testing.T) {
	cfg := testConfig(nil)
	cfg.MaxKeys = 1
	p := &auditProcessor{cfg: cfg, state: newStateful(cfg, nil)}
	a, b := &rule.Rule{ID: "a"}, &rule.Rule{ID: "b"}
	report := func(r *rule.Rule, key string, at int64) window.Pending[heldMatch] {
		return window.Pending[heldMatch]{Key: key, Held: 1, First: time.Unix(at, 0), LastAt: time.Unix(at, 0),
			Last: heldMatch{rule: r}}
	}
	assert.Zero(t, p.waitReports([]window.Pending[heldMatch]{report(a, "eve", 1), report(b, "eve", 2)}))
	assert.Len(t, p.state.deliveries.reports, 2)
	assert.Equal(t, 1, p.waitReports([]window.Pending[heldMatch]{report(a, "bob", 3)}), "past one per rule, the oldest goes")
	assert.Len(t, p.state.deliveries.reports, 2)
}
