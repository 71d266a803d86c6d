package window

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// keysOf lists the keys from least to most recently updated.
func keysOf[V any](s *Store[V]) string {
	var ks []string
	for e := s.head; e != nil; e = e.next {
		ks = append(ks, e.key)
	}
	return strings.Join(ks, ",")
}

func TestStore(t *testing.T) {
	tests := []struct {
		name        string
		max         int
		ops         []string // "+k" adds k, "?k" gets k, "-k" sweeps k away
		wantKeys    string
		wantEvicted uint64
		wantGone    string // keys handed to onEvict, in order
	}{
		{name: "under the bound nothing is evicted", max: 3, ops: []string{"+a", "+b", "+c"}, wantKeys: "a,b,c"},
		{name: "the least recently added goes first", max: 2, ops: []string{"+a", "+b", "+c"}, wantKeys: "b,c", wantEvicted: 1, wantGone: "a"},
		{name: "an update saves a key", max: 2, ops: []string{"+a", "+b", "?a", "+c"}, wantKeys: "a,c", wantEvicted: 1, wantGone: "b"},
		{name: "a bound of zero still holds one key", max: 0, ops: []string{"+a", "+b"}, wantKeys: "b", wantEvicted: 1, wantGone: "a"},
		{name: "sweep frees without counting an eviction", max: 3, ops: []string{"+a", "+b", "+c", "-b"}, wantKeys: "a,c"},
		{name: "sweep of head and tail", max: 3, ops: []string{"+a", "+b", "+c", "-a", "-c", "+d"}, wantKeys: "b,d"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewStore[int](tt.max)
			var gone []string
			for i, op := range tt.ops {
				key := op[1:]
				switch op[0] {
				case '+':
					*s.Add(key, i, func(k string, _ *int) { gone = append(gone, k) }) += 0
				case '?':
					if _, ok := s.Get(key); !ok {
						t.Fatalf("Get(%s) found nothing", key)
					}
				case '-':
					s.Sweep(func(k string, _ *int) bool { return k == key })
				}
			}
			if got := keysOf(s); got != tt.wantKeys {
				t.Errorf("keys = %s, want %s", got, tt.wantKeys)
			}
			if s.Len() != len(strings.Split(tt.wantKeys, ",")) {
				t.Errorf("Len = %d for keys %s", s.Len(), tt.wantKeys)
			}
			if s.Evicted() != tt.wantEvicted {
				t.Errorf("Evicted = %d, want %d", s.Evicted(), tt.wantEvicted)
			}
			if got := strings.Join(gone, ","); got != tt.wantGone {
				t.Errorf("evicted keys = %s, want %s", got, tt.wantGone)
			}
		})
	}
}

func TestStoreValuesStayAddressable(t *testing.T) {
	s := NewStore[int](1000)
	for i := 0; i < 1000; i++ {
		*s.Add(fmt.Sprint(i), 0, nil) = i
	}
	for i := 0; i < 1000; i++ {
		if v, ok := s.Get(fmt.Sprint(i)); !ok || *v != i {
			t.Fatalf("key %d holds %v, %v", i, v, ok)
		}
	}
}

func TestWatermark(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		at   []time.Time
		want time.Time
	}{
		{"follows the latest event", []time.Time{now.Add(-time.Hour), now.Add(-2 * time.Hour)}, now.Add(-time.Hour)},
		{"never goes back", []time.Time{now.Add(-time.Minute), now.Add(-time.Hour)}, now.Add(-time.Minute)},
		{"a future event moves it to the skew limit only", []time.Time{now.Add(24 * time.Hour)}, now.Add(MaxFutureSkew)},
		{"within the skew limit is taken as is", []time.Time{now.Add(time.Minute)}, now.Add(time.Minute)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := Watermark{Now: func() time.Time { return now }}
			for _, at := range tt.at {
				w.Observe(at)
			}
			if !w.Time().Equal(tt.want) {
				t.Errorf("watermark = %v, want %v", w.Time(), tt.want)
			}
		})
	}
}

// TestWatermarkReadsTheClockOnlyNearTheLimit: a stream of events at the wall clock reads the clock once, not once an
// event, and the cap still follows the clock: an event past the limit of the last read makes it read again, and is
// capped at the clock it reads then.
func TestWatermarkReadsTheClockOnlyNearTheLimit(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	reads := 0
	w := Watermark{Now: func() time.Time { reads++; return now }}
	for i := range 1000 {
		w.Observe(now.Add(time.Duration(i) * time.Millisecond))
	}
	if reads != 1 {
		t.Errorf("1000 events within the limit read the clock %d times, want 1", reads)
	}
	if want := now.Add(999 * time.Millisecond); !w.Time().Equal(want) {
		t.Errorf("watermark = %v, want %v", w.Time(), want)
	}
	// An older event moves nothing, and reads nothing.
	w.Observe(now.Add(-time.Hour))
	if reads != 1 {
		t.Errorf("an older event read the clock")
	}
	// The clock moves on by an hour; an event 30 minutes ahead of the first read's limit is within the new one.
	now = now.Add(time.Hour)
	if got, want := w.Observe(now.Add(-30*time.Minute)), now.Add(-30*time.Minute); !got.Equal(want) || reads != 2 {
		t.Errorf("past the last limit: watermark %v after %d reads, want %v after 2", got, reads, want)
	}
	// One far in the future is capped at the clock read for it.
	if got, want := w.Observe(now.Add(24*time.Hour)), now.Add(MaxFutureSkew); !got.Equal(want) || reads != 3 {
		t.Errorf("a future event: watermark %v after %d reads, want %v after 3", got, reads, want)
	}
}

// TestStoreFullReusesWhatItEvicts: a full Store without onEvict reuses the entry it evicts for the key it adds. The
// keys and values it holds stay those of the last adds, in order, and an add allocates only the key's string.
func TestStoreFullReusesWhatItEvicts(t *testing.T) {
	s := NewStore[int](4)
	keys := make([]string, 100)
	for i := range keys {
		keys[i] = fmt.Sprint(i)
	}
	for i := range 4 {
		s.Add(keys[i], i, nil)
	}
	n := 4
	if allocs := testing.AllocsPerRun(50, func() {
		s.Add(keys[n%len(keys)], n, nil)
		n++
	}); allocs != 0 {
		t.Errorf("an add to a full store allocates %v times, besides its key", allocs)
	}
	want := []string{}
	for i := n - 4; i < n; i++ {
		want = append(want, keys[i%len(keys)])
		if v, ok := s.Get(keys[i%len(keys)]); !ok || *v != i {
			t.Fatalf("key %s holds %v, %v; want %d", keys[i%len(keys)], v, ok, i)
		}
	}
	if got := keysOf(s); got != strings.Join(want, ",") {
		t.Errorf("keys %s, want %s", got, strings.Join(want, ","))
	}
}
