package engine

import (
	"container/list"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// windowedStats evaluates `stats ... by ... | where <aggregate condition>` over tumbling event-time windows, the
// streaming form of a search that Splunk runs every hour over the last hour. Each by-tuple is a group; a group emits
// its aggregated row the first time the rest of the pipeline keeps it within a window, and then stays quiet until
// the next window.
type windowedStats struct {
	stats   statsStage
	size    time.Duration
	maxKeys int

	mu      sync.Mutex
	groups  map[string]*group
	lru     *list.List // of *group, least recently updated first
	evicted uint64
}

// maxValuesPerAggregate bounds values()/dc() state per group; Splunk's values() is unbounded, but state here must be.
const maxValuesPerAggregate = 100

type group struct {
	key   string
	start time.Time // the window the group's state belongs to
	by    []string
	count int64
	aggs  []aggState
	fired bool
	elem  *list.Element
}

type aggState struct {
	seen            map[string]bool
	values          []string
	present         int64 // events in which the aggregated field had a value
	first, last     string
	firstAt, lastAt time.Time
}

func newWindowedStats(st rule.Stats, rs refs, size time.Duration, maxKeys int) *windowedStats {
	return &windowedStats{
		stats:   compileStats(st, rs),
		size:    size,
		maxKeys: maxKeys,
		groups:  map[string]*group{},
		lru:     list.New(),
	}
}

// update folds one event's rows into their groups and returns, per group touched, the aggregated row and the group.
func (w *windowedStats) update(rows []*row, at time.Time) []windowHit {
	start := at.Truncate(w.size)
	var hits []windowHit
	w.mu.Lock()
	defer w.mu.Unlock()
	seen := map[string]bool{}
	for _, r := range rows {
		for _, tuple := range w.stats.tuples(r) {
			key := strings.Join(tuple, "\x00")
			if seen[key] {
				continue
			}
			seen[key] = true
			g := w.groups[key]
			switch {
			case g == nil:
				g = w.newGroup(key, tuple, start)
			case start.After(g.start):
				// A new window: the old one's state is done with.
				g.reset(start, len(w.stats.aggs))
			case start.Before(g.start):
				// An event older than the group's window; it would change an answer already given.
				continue
			}
			w.lru.MoveToBack(g.elem)
			g.count++
			for i, a := range w.stats.aggs {
				g.aggs[i].add(a, r, at)
			}
			hits = append(hits, windowHit{row: w.snapshot(g), group: g})
		}
	}
	return hits
}

type windowHit struct {
	row   *row
	group *group
}

// fire marks the group as having emitted in its current window, and reports whether it had not yet.
func (w *windowedStats) fire(g *group) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if g.fired {
		return false
	}
	g.fired = true
	return true
}

func (w *windowedStats) newGroup(key string, tuple []string, start time.Time) *group {
	for len(w.groups) >= w.maxKeys {
		// Evict the least recently updated group: under a flood of distinct keys the active ones survive.
		oldest := w.lru.Front()
		w.lru.Remove(oldest)
		delete(w.groups, oldest.Value.(*group).key)
		w.evicted++
	}
	g := &group{key: key, by: tuple}
	g.reset(start, len(w.stats.aggs))
	g.elem = w.lru.PushBack(g)
	w.groups[key] = g
	return g
}

func (g *group) reset(start time.Time, naggs int) {
	g.start, g.count, g.fired = start, 0, false
	g.aggs = make([]aggState, naggs)
}

func (s *aggState) add(a aggExec, r *row, at time.Time) {
	if a.field == nil {
		return
	}
	vals := r.values(a.field)
	if len(vals) == 0 {
		return
	}
	s.present++
	if s.firstAt.IsZero() || at.Before(s.firstAt) {
		s.first, s.firstAt = vals[0], at
	}
	if !at.Before(s.lastAt) {
		s.last, s.lastAt = vals[0], at
	}
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	for _, v := range vals {
		if !s.seen[v] && len(s.values) < maxValuesPerAggregate {
			s.seen[v] = true
			s.values = append(s.values, v)
		}
	}
}

// snapshot is the group's aggregated row as Splunk's stats would print it now.
func (w *windowedStats) snapshot(g *group) *row {
	r := &row{}
	for i, f := range w.stats.by {
		r.set(f.name, []string{g.by[i]}, false)
	}
	for i, a := range w.stats.aggs {
		s := &g.aggs[i]
		switch a.fn {
		case "count":
			n := g.count
			if a.field != nil {
				n = s.present
			}
			r.set(a.out, []string{strconv.FormatInt(n, 10)}, true)
		case "values":
			vals := append([]string(nil), s.values...)
			sort.Strings(vals)
			r.set(a.out, vals, false)
		case "dc":
			r.set(a.out, []string{strconv.Itoa(len(s.values))}, true)
		case "min", "max":
			if len(s.values) > 0 {
				r.set(a.out, []string{extreme(s.values, a.fn == "max")}, false)
			}
		case "earliest":
			if s.present > 0 {
				r.set(a.out, []string{s.first}, false)
			}
		case "latest":
			if s.present > 0 {
				r.set(a.out, []string{s.last}, false)
			}
		}
	}
	return r
}

// Keys returns the number of groups held, and the number evicted since start.
func (w *windowedStats) keys() (held int, evicted uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.groups), w.evicted
}
