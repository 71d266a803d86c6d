package engine

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// hopelessEvents: four sources in one window. 10.0.0.1 makes 3 requests on 3 names, 10.0.0.2 makes 12 on 12 names,
// 10.0.0.3 makes 2 on one name, 10.0.0.4 makes 5 on 2 names.
func hopelessEvents() [][]byte {
	var events [][]byte
	for ip, names := range map[string][]string{
		"10.0.0.1": {"a", "b", "c"},
		"10.0.0.2": {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"},
		"10.0.0.3": {"a", "a"},
		"10.0.0.4": {"a", "b", "a", "b", "a"},
	} {
		for i, n := range names {
			events = append(events, ev(ip, float64(i)/10, fmt.Sprintf(`"s":%q`, n)))
		}
	}
	return events
}

// closedGroups plays events into a fresh engine of the rule, closes the window, and returns "ip:count:names" per
// group answered.
func closedGroups(t *testing.T, r *rule.Rule, events [][]byte) []string {
	t.Helper()
	e, err := Compile([]*rule.Rule{r}, Options{Window: 10 * time.Minute, AllowedLateness: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if got := play(t, e, events); len(got) != 0 {
		t.Fatalf("answered before the close: %v", got)
	}
	var got []string
	for _, c := range e.CloseAll() {
		got = append(got, strings.Join(c.Row.Values("sourceIPs{}"), ",")+":"+strings.Join(c.Row.Values("count"), ",")+
			":"+strings.Join(c.Row.Values("names"), ","))
	}
	slices.Sort(got)
	return got
}

var (
	distinctNames = rule.Aggregate{Func: "dc", Field: "s", As: "d"}
	nameValues    = rule.Aggregate{Func: "values", Field: "s", As: "names"}
)

// TestWindowHopelessAnswersAsBefore: a window answered at its close stops folding a group once a condition that
// cannot turn true again is false (count < 4), and answers the groups it answered when it folded everything. A
// falling term beside a rising one in an OR (count < 4 OR d >= 10) makes nothing hopeless: 10.0.0.2 answers.
func TestWindowHopelessAnswersAsBefore(t *testing.T) {
	for _, tc := range []struct {
		name string
		cond rule.Expr
		want []string
	}{
		{"count < 4 AND d >= 2", rule.And{cmp("count", rule.OpLt, "4"), cmp("d", rule.OpGe, "2")},
			[]string{"10.0.0.1:3:a,b,c"}},
		{"NOT count >= 4 AND d >= 2", rule.And{rule.Not{X: cmp("count", rule.OpGe, "4")}, cmp("d", rule.OpGe, "2")},
			[]string{"10.0.0.1:3:a,b,c"}},
		{"count < 4 OR d >= 10", rule.Or{cmp("count", rule.OpLt, "4"), cmp("d", rule.OpGe, "10")},
			[]string{"10.0.0.1:3:a,b,c", "10.0.0.2:12:a,b,c,d,e,f,g,h,i,j,k,l", "10.0.0.3:2:a"}},
		{"d <= 2 AND count = 5", rule.And{cmp("d", rule.OpLe, "2"), cmp("count", rule.OpEq, "5")},
			[]string{"10.0.0.4:5:a,b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := closedGroups(t, windowRule(tc.cond, countOnly, distinctNames, nameValues), hopelessEvents())
			if !slices.Equal(got, tc.want) {
				t.Errorf("answered %v, want %v", got, tc.want)
			}
		})
	}
}

// TestWindowHopelessStopsFolding: once 10.0.0.2 has made its fourth request under count < 4, its later events fold
// no value into its aggregates, and its window lets go of what they kept.
func TestWindowHopelessStopsFolding(t *testing.T) {
	r := windowRule(rule.And{cmp("count", rule.OpLt, "4"), cmp("d", rule.OpGe, "2")}, countOnly, distinctNames,
		nameValues)
	e, err := Compile([]*rule.Rule{r}, Options{Window: 10 * time.Minute, AllowedLateness: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	var looks int
	foldSteps = &looks
	defer func() { foldSteps = nil }()
	for i := range 20 {
		before := looks
		play(t, e, [][]byte{ev("10.0.0.2", float64(i)/10, fmt.Sprintf(`"s":"n%d"`, i))})
		switch folded := looks - before; {
		case i < 4 && folded == 0:
			t.Fatalf("event %d folded nothing", i)
		case i >= 4 && folded != 0:
			t.Fatalf("event %d, past count < 4: folded %d values", i, folded)
		}
	}
	w := e.rules[0].window
	g, ok := w.groups.Get("10.0.0.2")
	if !ok || len(g.wins) != 1 {
		t.Fatalf("group %v, %+v", ok, g)
	}
	if ws := g.wins[0]; ws.count != 20 || !ws.fired || slices.ContainsFunc(ws.aggs, func(s aggState) bool { return s.vals != nil }) {
		t.Errorf("window: count %d, fired %v, aggregates %+v", ws.count, ws.fired, ws.aggs)
	}
}

// TestWindowSettledEventsAreNotRemembered: the redelivery memory keeps the events a window counted while it could
// still answer, and not those it counted after (a second delivery of one changes nothing anyone reads). Delivered
// again, a remembered event is still not counted twice: 10.0.0.1 answers with its 3 requests.
func TestWindowSettledEventsAreNotRemembered(t *testing.T) {
	r := windowRule(rule.And{cmp("count", rule.OpLt, "4"), cmp("d", rule.OpGe, "2")}, countOnly, distinctNames,
		nameValues)
	e, err := Compile([]*rule.Rule{r}, Options{Window: 10 * time.Minute, AllowedLateness: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	withID := func(ip string, i int) []byte {
		return ev(ip, float64(i)/10, fmt.Sprintf(`"s":"n%d","auditID":"%s-%d","stage":"ResponseComplete"`, i, ip, i))
	}
	var busy, quiet [][]byte
	for i := range 10 {
		busy = append(busy, withID("10.0.0.2", i))
	}
	for i := range 3 {
		quiet = append(quiet, withID("10.0.0.1", i))
	}
	play(t, e, busy)
	play(t, e, quiet)
	// Redeliveries: all of them, twice.
	play(t, e, append(append([][]byte{}, busy...), quiet...))
	play(t, e, append(append([][]byte{}, busy...), quiet...))
	// 10.0.0.2's first four events were counted while its window could answer; the fourth settled it.
	if n := e.rules[0].replay.seen.Len(); n != 4+3 {
		t.Errorf("the redelivery memory holds %d events, want 7 (4 of the busy source, 3 of the quiet one)", n)
	}
	var got []string
	for _, c := range e.CloseAll() {
		got = append(got, strings.Join(c.Row.Values("sourceIPs{}"), ",")+":"+strings.Join(c.Row.Values("count"), ","))
	}
	if !slices.Equal(got, []string{"10.0.0.1:3"}) {
		t.Errorf("answered %v, want [10.0.0.1:3]", got)
	}
}

// TestWindowForgetsSettledOnlyAfterStatelessStages: a stage before the window that keeps state (new_terms here, a
// sequence) changes it on every run of an event, so a window behind one never reports an event unchanged.
func TestWindowForgetsSettledOnlyAfterStatelessStages(t *testing.T) {
	plain := windowRule(cmp("count", rule.OpLt, "4"), countOnly)
	behindTerms := windowRule(cmp("count", rule.OpLt, "4"), countOnly)
	behindTerms.Pipeline = append([]rule.Stage{rule.NewTerms{Fields: []rule.Field{{Name: "verb"}}, History: time.Hour}},
		behindTerms.Pipeline...)
	for _, tc := range []struct {
		r    *rule.Rule
		want bool
	}{{plain, true}, {behindTerms, false}} {
		e, err := Compile([]*rule.Rule{tc.r}, Options{Window: 10 * time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		if w := e.rules[0].window; w == nil || w.forgetSettled != tc.want {
			t.Errorf("%v: forgetSettled %v, want %v", tc.r.Pipeline, w != nil && w.forgetSettled, tc.want)
		}
	}
}
