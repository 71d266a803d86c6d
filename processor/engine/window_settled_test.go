package engine

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// idEv is ev with an identity (auditID, stage).
func idEv(ip string, min float64, id string, extra string) []byte {
	x := fmt.Sprintf(`"auditID":%q,"stage":"ResponseComplete"`, id)
	if extra != "" {
		x += "," + extra
	}
	return ev(ip, min, x)
}

// TestSettledRedeliveryAfterEvictionFiresTwice: a group answered on first true (count >= 3) that is evicted under
// max_keys and comes back starts a fresh window, which must not count again an event its old window had settled
// when a batch is delivered again: with groups this close to max_keys, settled events are remembered (update's
// room check), and the group does not answer a second time for 2 events of its own.
func TestSettledRedeliveryAfterEvictionFiresTwice(t *testing.T) {
	e, err := Compile([]*rule.Rule{windowRule(cmp("count", rule.OpGe, "3"), countOnly)},
		Options{Window: time.Hour, MaxKeys: 1})
	if err != nil {
		t.Fatal(err)
	}
	batch := [][]byte{
		idEv("10.0.0.1", 0, "a1", ""), idEv("10.0.0.1", 1, "a2", ""), idEv("10.0.0.1", 2, "a3", ""), // fires
		idEv("10.0.0.1", 3, "a4", ""), // settled
		idEv("10.0.0.2", 4, "b1", ""), // evicts 10.0.0.1
		idEv("10.0.0.1", 5, "a5", ""), // 10.0.0.1 back: count 1
	}
	first := play(t, e, batch)
	again := play(t, e, batch) // the retry of a refused batch
	if !reflect.DeepEqual(again, first) {
		t.Errorf("the retried batch answered %v, its first delivery %v", again, first)
	}
	// 10.0.0.1's second life has seen a5 and now a6: two events, not three.
	if got := play(t, e, [][]byte{idEv("10.0.0.1", 6, "a6", "")}); got != nil {
		t.Errorf("a6 answered %v: the redelivered a4 was counted in the group's new window", got)
	}
}

// TestSettledRedeliveryAfterLostForgotten: a window answered at its close, hopeless for 10.0.0.1 (count < 4). The
// group is evicted, and its lost record is evicted too (lost is bounded like the groups); the group comes back with
// one event, which cannot answer (d >= 2). A redelivery of an event its hopeless window settled must not be counted
// into the new window, which would then answer at the close.
func TestSettledRedeliveryAfterLostForgotten(t *testing.T) {
	r := windowRule(rule.And{cmp("count", rule.OpLt, "4"), cmp("d", rule.OpGe, "2")}, countOnly, distinctNames,
		nameValues)
	e, err := Compile([]*rule.Rule{r}, Options{Window: 10 * time.Minute, AllowedLateness: time.Minute, MaxKeys: 1})
	if err != nil {
		t.Fatal(err)
	}
	var events [][]byte
	for i := range 5 { // the fourth makes it hopeless, the fifth is settled
		events = append(events, idEv("10.0.0.1", float64(i)/10, fmt.Sprintf("a%d", i), fmt.Sprintf(`"s":"n%d"`, i)))
	}
	events = append(events,
		idEv("10.0.0.2", 0.6, "b", `"s":"x"`),   // evicts 10.0.0.1 (lost: 10.0.0.1)
		idEv("10.0.0.3", 0.7, "c", `"s":"x"`),   // evicts 10.0.0.2 (lost: 10.0.0.2, forgets 10.0.0.1)
		idEv("10.0.0.1", 0.8, "a9", `"s":"n9"`), // 10.0.0.1 back: count 1, d 1
		idEv("10.0.0.1", 0.4, "a4", `"s":"n4"`)) // the redelivery of a settled event
	play(t, e, events)
	var got []string
	for _, c := range e.CloseAll() {
		got = append(got, strings.Join(c.Row.Values("sourceIPs{}"), ",")+":"+strings.Join(c.Row.Values("count"), ","))
	}
	slices.Sort(got)
	if slices.Contains(got, "10.0.0.1:2") {
		t.Errorf("answered %v: the redelivered a4 was counted twice", got)
	}
}

// TestSettledRedeliveryWithoutTimestamp: an event with an auditID and no readable timestamp takes the wall clock's
// time, so a redelivery of one its window settled could come in a later window: such an event is always
// remembered, and not counted there.
func TestSettledRedeliveryWithoutTimestamp(t *testing.T) {
	const size = 20 * time.Millisecond
	e, err := Compile([]*rule.Rule{windowRule(cmp("count", rule.OpGe, "2"), countOnly)}, Options{Window: size})
	if err != nil {
		t.Fatal(err)
	}
	noTime := func(id string) []byte {
		return []byte(fmt.Sprintf(`{"verb":"get","sourceIPs":["10.0.0.1"],"responseStatus":{"code":403},"auditID":%q,"stage":"ResponseComplete"}`, id))
	}
	for attempt := 0; ; attempt++ {
		start := time.Now().Truncate(size)
		play(t, e, [][]byte{noTime(fmt.Sprintf("x%d-1", attempt)), noTime(fmt.Sprintf("x%d-2", attempt))})
		settled := noTime(fmt.Sprintf("x%d-3", attempt))
		play(t, e, [][]byte{settled})
		if time.Now().Truncate(size).Equal(start) {
			// All three in one window: wait for the next one (the condition, not a duration).
			for time.Now().Truncate(size).Equal(start) {
			}
			got := play(t, e, [][]byte{settled, noTime(fmt.Sprintf("x%d-4", attempt))})
			if time.Now().Truncate(size).Equal(start.Add(size)) {
				if got != nil {
					t.Errorf("in the next window, a redelivery and one new event answered %v", got)
				}
				return
			}
		}
		if attempt == 20 {
			t.Skip("could not place the events in windows")
		}
	}
}
