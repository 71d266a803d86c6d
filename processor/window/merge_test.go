package window

import (
	"testing"
	"time"
)

// TestRequeueMergesAndBounds: reports of one key given back are merged (counts added, the latest match kept), and
// at most maxKeys wait, the newest.
func TestRequeueMergesAndBounds(t *testing.T) {
	th := NewThrottle[string](time.Minute, 2)
	at := func(m int) time.Time { return time.Unix(int64(60*m), 0) }
	if n := th.Requeue([]Pending[string]{{Key: "a", Held: 2, First: at(1), LastAt: at(2), Last: "a2"}}); n != 0 {
		t.Fatalf("dropped %d", n)
	}
	th.Requeue([]Pending[string]{{Key: "b", Held: 1, First: at(3), LastAt: at(3), Last: "b3"}})
	th.Requeue([]Pending[string]{{Key: "a", Held: 3, First: at(4), LastAt: at(5), Last: "a5"}})
	if n := th.Requeue([]Pending[string]{{Key: "c", Held: 1, First: at(6), LastAt: at(6), Last: "c6"}}); n != 1 {
		t.Fatalf("dropped %d, want 1 (b, the oldest)", n)
	}
	got := th.Flush()
	if len(got) != 2 || got[0].Key != "a" || got[0].Held != 5 || got[0].Last != "a5" || !got[0].First.Equal(at(1)) || got[1].Key != "c" {
		t.Fatalf("got %+v", got)
	}
}

// TestRequeueKeepsWindowsApartWithinBound: two reports of one key from two throttle windows, given back while the
// bound is not reached, stay two reports: merged, they would be one risk record (one risk score) where a consumer
// that had not refused got two, its suppressed_count put on the later window's match.
func TestRequeueKeepsWindowsApartWithinBound(t *testing.T) {
	th := NewThrottle[string](time.Minute, 10)
	at := func(m int) time.Time { return time.Unix(int64(60*m), 0) }
	th.Requeue([]Pending[string]{{Key: "a", Held: 1, First: at(1), LastAt: at(1), Last: "a1"}})
	th.Requeue([]Pending[string]{{Key: "a", Held: 1, First: at(4), LastAt: at(4), Last: "a4"}})
	if got := th.Flush(); len(got) != 2 {
		t.Fatalf("got %+v, want the two windows' reports", got)
	}
}

// TestRequeueDropsTheOldestReports: a refused batch's reports come back after reports that came due later; past the
// bound, the oldest matches are the ones dropped, not the last given back.
func TestRequeueDropsTheOldestReports(t *testing.T) {
	th := NewThrottle[string](time.Minute, 2)
	at := func(m int) time.Time { return time.Unix(int64(60*m), 0) }
	th.Requeue([]Pending[string]{{Key: "b", Held: 1, First: at(5), LastAt: at(5), Last: "b5"},
		{Key: "c", Held: 1, First: at(6), LastAt: at(6), Last: "c6"}})
	if n := th.Requeue([]Pending[string]{{Key: "a", Held: 1, First: at(1), LastAt: at(1), Last: "a1"}}); n != 1 {
		t.Fatalf("dropped %d, want 1", n)
	}
	got := th.Flush()
	if len(got) != 2 || got[0].Key != "b" || got[1].Key != "c" {
		t.Fatalf("kept %+v, want b and c (a, the oldest, dropped)", got)
	}
}
