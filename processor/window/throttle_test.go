package window

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// step is one call on a Throttle: a match of key at minute min, or an Advance (key ""), or a Flush (key "flush").
type step struct {
	key string
	min float64
}

func at(min float64) time.Time { return t0.Add(time.Duration(min * float64(time.Minute))) }

// run plays the steps and describes what came out: "m3" a match let through, "m3+2" one carrying 2 held back,
// "p:k=2@m5" a report of 2 held-back matches of k, the latest at minute 5.
func run(th *Throttle[float64], steps []step) string {
	var out []string
	report := func(ps []Pending[float64]) {
		for _, p := range ps {
			out = append(out, fmt.Sprintf("p:%s=%d@m%g", p.Key, p.Held, p.Last))
		}
	}
	for _, s := range steps {
		switch s.key {
		case "":
			report(th.Advance(at(s.min)))
		case "flush":
			report(th.Flush())
		default:
			emit, held, due := th.Admit(s.key, at(s.min), s.min)
			report(due)
			if emit {
				if held > 0 {
					out = append(out, fmt.Sprintf("%s%g+%d", s.key, s.min, held))
				} else {
					out = append(out, fmt.Sprintf("%s%g", s.key, s.min))
				}
			}
		}
	}
	return strings.Join(out, " ")
}

func TestThrottle(t *testing.T) {
	tests := []struct {
		name    string
		maxKeys int
		steps   []step
		want    string
	}{
		{
			name:  "one per window, count carried by the next match after it",
			steps: []step{{"a", 0}, {"a", 1}, {"a", 9.9}, {"a", 10}, {"a", 11}},
			want:  "a0 a10+2",
		},
		{
			name:  "keys are independent",
			steps: []step{{"a", 0}, {"b", 1}, {"a", 2}, {"b", 3}, {"b", 4}},
			want:  "a0 b1",
		},
		{
			name:  "a quiet key is reported once its window has expired",
			steps: []step{{"a", 0}, {"a", 5}, {"a", 6}, {"", 9}, {"", 10}, {"", 30}},
			want:  "a0 p:a=2@m6",
		},
		{
			name:  "an expired key without held matches is freed silently, then starts afresh",
			steps: []step{{"a", 0}, {"", 20}, {"a", 21}, {"a", 22}},
			want:  "a0 a21",
		},
		{
			name:  "flush reports held matches and forgets every key",
			steps: []step{{"a", 0}, {"a", 1}, {"b", 2}, {"flush", 0}, {"a", 3}},
			want:  "a0 b2 p:a=1@m1 a3",
		},
		{
			name:    "eviction reports the evicted key's held matches",
			maxKeys: 1,
			steps:   []step{{"a", 0}, {"a", 1}, {"a", 2}, {"b", 3}},
			want:    "a0 p:a=2@m2 b3",
		},
		{
			name:  "a late match inside an open window is a repeat",
			steps: []step{{"a", 5}, {"a", 1}, {"a", 16}},
			want:  "a5 a16+1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.maxKeys == 0 {
				tt.maxKeys = 100
			}
			th := NewThrottle[float64](10*time.Minute, tt.maxKeys)
			th.wm.Now = func() time.Time { return t0.Add(24 * time.Hour) }
			if got := run(th, tt.steps); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

// TestThrottleLosesNothing checks the invariant the docs promise: every match goes out, or is counted in exactly one
// later report.
func TestThrottleLosesNothing(t *testing.T) {
	th := NewThrottle[int](10*time.Minute, 7)
	rnd := rand.New(rand.NewPCG(1, 2))
	th.wm.Now = func() time.Time { return t0.Add(48 * time.Hour) }
	var matches, accounted int64
	for i := 0; i < 5000; i++ {
		key := fmt.Sprint(rnd.IntN(9))
		emit, held, due := th.Admit(key, t0.Add(time.Duration(i)*17*time.Second), i)
		matches++
		if emit {
			accounted += 1 + held
		}
		for _, p := range due {
			accounted += p.Held
		}
	}
	for _, p := range th.Flush() {
		accounted += p.Held
	}
	if accounted != matches {
		t.Errorf("%d matches, %d accounted for", matches, accounted)
	}
	if keys, evicted, suppressed := th.Stats(); keys != 0 || evicted == 0 || suppressed == 0 {
		t.Errorf("stats after flush: keys %d evicted %d suppressed %d", keys, evicted, suppressed)
	}
}
