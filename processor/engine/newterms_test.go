package engine

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// termEvent is a secret read by user from the given source addresses at minute min after 2025-03-01T10:00Z (in the past, so the watermark is never held back by the wall clock).
func termEvent(user string, min int, ips ...string) string {
	at := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC).Add(time.Duration(min) * time.Minute)
	quoted := make([]string, len(ips))
	for i, ip := range ips {
		quoted[i] = `"` + ip + `"`
	}
	userJSON := ""
	if user != "" {
		userJSON = fmt.Sprintf(`"user":{"username":%q},`, user)
	}
	return fmt.Sprintf(`{"verb":"get",%s"sourceIPs":[%s],"objectRef":{"resource":"secrets"},"stageTimestamp":%q}`,
		userJSON, strings.Join(quoted, ","), at.Format(time.RFC3339Nano))
}

// Copy with Ends takes the first and the last value: of sourceIPs, the client X-Forwarded-For names and the address
// the API server saw.
func TestCopyEnds(t *testing.T) {
	for _, tc := range []struct {
		ips  []string
		want []string
	}{
		{[]string{"10.0.0.1"}, []string{"10.0.0.1"}},
		{[]string{"10.0.0.1", "10.0.0.1"}, []string{"10.0.0.1"}},
		{[]string{"203.0.113.9", "10.0.0.2", "198.51.100.7"}, []string{"203.0.113.9", "198.51.100.7"}},
	} {
		r := &rule.Rule{ID: "c", Name: "c", Filter: eq("verb", "get"),
			Pipeline: []rule.Stage{rule.Copy{From: "sourceIPs{}", To: "src_ip", Ends: true}}}
		e, err := Compile([]*rule.Rule{r}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		ms, err := e.Match([]byte(termEvent("alice", 0, tc.ips...)))
		if err != nil || len(ms) != 1 {
			t.Fatalf("%v: %d matches, %v", tc.ips, len(ms), err)
		}
		if got := ms[0].Rows[0].Values("src_ip"); !slices.Equal(got, tc.want) {
			t.Errorf("%v: src_ip = %q, want %q", tc.ips, got, tc.want)
		}
	}
}

func newTermsRule(history time.Duration) *rule.Rule {
	return &rule.Rule{
		ID: "nt", Name: "nt",
		Filter: eq("objectRef.resource", "secrets"),
		Pipeline: []rule.Stage{
			rule.NewTerms{Fields: []rule.Field{{Name: "user.username"}, {Name: "sourceIPs", AnyArray: true}}, History: history},
			rule.Copy{From: "sourceIPs{}", To: "src_ip"},
		},
	}
}

// termStep is an event and the new_terms row field it must yield ("" for no match).
type termStep struct {
	event, want string
}

// checkTermSteps sends the steps' events to e in order; a matching row must carry every source address in src_ip.
func checkTermSteps(t *testing.T, e *Engine, steps []termStep) {
	t.Helper()
	for i, s := range steps {
		ms, err := e.Match([]byte(s.event))
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if len(ms) == 1 && len(ms[0].Rows) == 1 {
			got = strings.Join(ms[0].Rows[0].Values(NewTermsField), ",")
			if ip, all := ms[0].Rows[0].Values("src_ip"), ms[0].Rows[0].Values("sourceIPs{}"); len(all) == 0 || !slices.Equal(ip, all) {
				t.Errorf("step %d: src_ip = %q, want every source address %q", i+1, ip, all)
			}
		}
		if got != s.want {
			t.Errorf("step %d: new terms %q, want %q", i+1, got, s.want)
		}
	}
}

func TestNewTerms(t *testing.T) {
	tests := []struct {
		name    string
		history time.Duration
		maxKeys int
		steps   []termStep
	}{
		{"first value is new, a repeat is not", time.Hour, 0, []termStep{
			{termEvent("alice", 0, "10.0.0.1"), "alice,10.0.0.1"},
			{termEvent("alice", 5, "10.0.0.1"), ""},
			{termEvent("bob", 6, "10.0.0.1"), "bob,10.0.0.1"},
			{termEvent("alice", 7, "10.0.0.2"), "alice,10.0.0.2"},
		}},
		{"the combination counts, not each field", time.Hour, 0, []termStep{
			{termEvent("alice", 0, "10.0.0.1"), "alice,10.0.0.1"},
			{termEvent("bob", 1, "10.0.0.2"), "bob,10.0.0.2"},
			{termEvent("alice", 2, "10.0.0.2"), "alice,10.0.0.2"},
		}},
		{"new again once the history has passed", time.Hour, 0, []termStep{
			{termEvent("alice", 0, "10.0.0.1"), "alice,10.0.0.1"},
			{termEvent("alice", 50, "10.0.0.1"), ""},
			// Last seen at minute 50, so minute 109 is within the hour and minute 170 is not.
			{termEvent("alice", 109, "10.0.0.1"), ""},
			{termEvent("alice", 170, "10.0.0.1"), "alice,10.0.0.1"},
		}},
		{"multi-valued field: any new combination passes", time.Hour, 0, []termStep{
			{termEvent("alice", 0, "10.0.0.1"), "alice,10.0.0.1"},
			{termEvent("alice", 1, "10.0.0.1", "10.0.0.9"), "alice,10.0.0.9"},
			{termEvent("alice", 2, "10.0.0.9", "10.0.0.1"), ""},
		}},
		{"missing field: no terms, no match, nothing remembered", time.Hour, 0, []termStep{
			{termEvent("", 0, "10.0.0.1"), ""},
			{termEvent("alice", 1, "10.0.0.1"), "alice,10.0.0.1"},
		}},
		{"late event inside the history is not new", time.Hour, 0, []termStep{
			{termEvent("alice", 30, "10.0.0.1"), "alice,10.0.0.1"},
			{termEvent("alice", 10, "10.0.0.1"), ""},
		}},
		{"bounded: an evicted combination is new again", time.Hour, 2, []termStep{
			{termEvent("a", 0, "10.0.0.1"), "a,10.0.0.1"},
			{termEvent("b", 1, "10.0.0.1"), "b,10.0.0.1"},
			{termEvent("c", 2, "10.0.0.1"), "c,10.0.0.1"}, // evicts a
			{termEvent("b", 3, "10.0.0.1"), ""},
			{termEvent("a", 4, "10.0.0.1"), "a,10.0.0.1"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Compile([]*rule.Rule{newTermsRule(tt.history)}, Options{MaxKeys: tt.maxKeys})
			if err != nil {
				t.Fatal(err)
			}
			checkTermSteps(t, e, tt.steps)
			if tt.maxKeys > 0 {
				if held := e.NewTermsKeys()["nt"]; held[0] > uint64(tt.maxKeys) || held[1] == 0 {
					t.Errorf("held/evicted = %v, want at most %d held and some evicted", held, tt.maxKeys)
				}
			}
		})
	}
}

// TestNewTermsLearning: during the learning period (event time from the first event) combinations are remembered
// and none is reported; after it, what was learnt is not new and what was not is. On sparse traffic an event after the
// period is judged, even when it is only the second.
func TestNewTermsLearning(t *testing.T) {
	for _, tc := range []struct {
		name  string
		steps []termStep
		held  uint64
	}{
		{"from the first event", []termStep{
			{termEvent("alice", 0, "10.0.0.1"), ""},  // starts the period: learnt
			{termEvent("bob", 30, "10.0.0.2"), ""},   // learnt
			{termEvent("alice", 59, "10.0.0.3"), ""}, // the last minute of the period: learnt
			{termEvent("alice", 60, "10.0.0.1"), ""}, // after it: learnt, so not new
			{termEvent("bob", 61, "10.0.0.2"), ""},
			{termEvent("carol", 62, "10.0.0.1"), "carol,10.0.0.1"}, // never seen: new
			{termEvent("alice", 63, "10.0.0.3"), ""},
			{termEvent("dave", 10, "10.0.0.4"), ""}, // a late event from inside the period: learnt, not reported
			{termEvent("dave", 64, "10.0.0.4"), ""},
		}, 5},
		{"sparse traffic", []termStep{
			{termEvent("alice", 0, "10.0.0.1"), ""},
			{termEvent("mallory", 90, "10.0.0.6"), "mallory,10.0.0.6"},
			{termEvent("eve", 100, "10.0.0.7"), "eve,10.0.0.7"},
		}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := Compile([]*rule.Rule{newTermsRule(24 * time.Hour)}, Options{NewTermsLearning: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			checkTermSteps(t, e, tc.steps)
			if held := e.NewTermsKeys()["nt"]; held[0] != tc.held {
				t.Errorf("held %d combinations, want the %d seen", held[0], tc.held)
			}
		})
	}
}

func TestNewTermsSweepFreesExpiredCombinations(t *testing.T) {
	e, err := Compile([]*rule.Rule{newTermsRule(time.Hour)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		if _, err := e.Match([]byte(termEvent(fmt.Sprintf("u%d", i), i, "10.0.0.1"))); err != nil {
			t.Fatal(err)
		}
	}
	// Three hours later every one of the 50 has left the history; the sweep frees them all.
	if _, err := e.Match([]byte(termEvent("late", 240, "10.0.0.1"))); err != nil {
		t.Fatal(err)
	}
	if held := e.NewTermsKeys()["nt"]; held[0] != 1 || held[1] != 0 {
		t.Errorf("held/evicted = %v, want 1 held (the last event's) and none evicted", held)
	}
}

func TestNewTermsRejectsEmptyStage(t *testing.T) {
	for _, st := range []rule.NewTerms{{History: time.Hour}, {Fields: []rule.Field{{Name: "verb"}}}} {
		_, err := Compile([]*rule.Rule{{ID: "x", Name: "x", Pipeline: []rule.Stage{st}}}, Options{})
		if err == nil || !strings.Contains(err.Error(), "new_terms") {
			t.Errorf("%+v: error %v, want one naming new_terms", st, err)
		}
	}
}

func TestNewTermsConcurrent(t *testing.T) {
	e, err := Compile([]*rule.Rule{newTermsRule(time.Hour)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	fired := 0
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				ms, _ := e.Match([]byte(termEvent(fmt.Sprintf("u%d", i), i%60, "10.0.0.1")))
				mu.Lock()
				fired += len(ms)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	// Eight goroutines send the same 100 users: each user is new exactly once.
	if fired != 100 {
		t.Errorf("%d matches, want 100", fired)
	}
}

// TestNewTermsMemoizedFieldsAnswerAsTheRow: new_terms reads its fields through the evaluation's memo while the row
// is the event's own (here user.username, which the filter reads too, with escapes and several values); the answers
// are those of the same rule reading them from a row an earlier stage has touched (a fillnull of a field no event has).
func TestNewTermsMemoizedFieldsAnswerAsTheRow(t *testing.T) {
	mk := func(touch bool) *Engine {
		r := newTermsRule(time.Hour)
		r.Filter = rule.And{eq("objectRef.resource", "secrets"), eq("user.username", "*")}
		if touch {
			r.Pipeline = append([]rule.Stage{rule.FillNull{Value: "x", Fields: []string{"nobody.has"}}}, r.Pipeline...)
		}
		e, err := Compile([]*rule.Rule{r}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	memo, plain := mk(false), mk(true)
	users := []string{"alice", `al\u0069ce`, "bob", `b\"ob`, "alice"}
	for i := 0; i < 40; i++ {
		body := termEvent(users[i%len(users)], i, fmt.Sprintf("10.0.0.%d", i%3), fmt.Sprintf("10.0.1.%d", i%4))
		if i%7 == 0 {
			body = strings.Replace(body, `"username":`, `"username":["carol","dave"],"x":`, 1)
		}
		got, err1 := memo.Match([]byte(body))
		want, err2 := plain.Match([]byte(body))
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		terms := func(ms []Match) string {
			var out []string
			for _, m := range ms {
				for _, r := range m.Rows {
					out = append(out, strings.Join(r.Values(NewTermsField), ","))
				}
			}
			return strings.Join(out, ";")
		}
		if terms(got) != terms(want) {
			t.Errorf("event %d %s: new terms %q, want %q", i, body, terms(got), terms(want))
		}
	}
}
