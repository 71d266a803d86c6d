package engine

import (
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/auditdetect/auditdetect/processor/window"
)

// windowedStats evaluates `stats ... by ... | where <aggregate condition>` over tumbling event-time windows aligned
// to the window size (10:00–11:00, 11:00–12:00 for 1h), the streaming form of a search that Splunk schedules every
// hour over the last hour. Each by-tuple is a group; a group emits its aggregated row the first time the rest of the
// pipeline keeps it within a window, and then stays quiet until the next window.
//
// Time is the events' own: a window stays open for late events until the rule's watermark (the newest event time
// it has seen) passes the window's end by the allowed lateness; an event for a closed window is dropped and counted.
// Groups live in a window.Store bounded to maxKeys (least recently updated evicted first), and groups whose windows
// have all closed are freed by a sweep each time a window closes.
type windowedStats struct {
	stats    statsStage
	size     time.Duration
	lateness time.Duration
	// atClose: the window answers each group once, when it closes, with its final row (a condition that can stop
	// holding as the window fills); update then only counts, and closing collects the rows in closing.
	atClose bool
	closing []closedWindow
	// gate tells from a group's state that the conditions after the stats cannot hold yet (stateGate), so that no
	// row is built for them.
	gate *stateGate
	// hopeless tells, for a window answered at its close, that its conditions can no longer hold (planHopeless).
	hopeless *stateGate
	// feedsAfterFire: a stage after the window keeps state from every row it sees (new_terms), so a window that has
	// answered still builds its rows.
	feedsAfterFire bool
	// forgetSettled: no stage before the window keeps state, so update may report an event counted only in settled
	// windows as unchanged, while groups has room for replayKeys more (maxKeys, the bound of groups and lost).
	forgetSettled       bool
	maxKeys, replayKeys int
	// lost remembers, for a window answered at its close, the windows of groups evicted to respect max_keys: a group
	// that comes back in such a window would answer with the counts of its return only (a "fewer than 3" rule
	// would report a group that had 6), so that window answers nothing for it. Bounded like the groups.
	lost *window.Store[[]time.Time]

	mu        sync.Mutex
	groups    *window.Store[group]
	wm        window.Watermark
	nextSweep time.Time
	late      uint64
	reader    valueReader
	keyBuf    []byte // update's group key, reused
}

// maxValuesPerAggregate bounds the distinct values a values() keeps per group and window, and a dc() unless its rule
// compares it with a larger number (aggExec.keep); Splunk's values() is unbounded, but state here must be bounded.
// min/max/earliest/latest/count see every value regardless.
const maxValuesPerAggregate = 100

type group struct {
	by []string
	// wins are the group's open windows, oldest first: one, or two while a late event may still reach the previous.
	wins []*windowState
}

type windowState struct {
	start time.Time
	count int64
	aggs  []aggState
	fired bool
	// origin is that of the last event counted (Evaluator.SetOrigin), for an answer at the window's close.
	origin uint64
}

// aggState is one aggregate's state in one window of one group, kept small: a group holds one per aggregate, and a
// flood of one-off keys multiplies it by max_keys (BenchmarkPathStatefulBytesPerKey).
type aggState struct {
	// vals holds, for values, the distinct values in arrival order (at most maxValuesPerAggregate, found by a
	// linear scan: cheaper in memory than a set); for dc, the distinct values in arrival order (up to its keep); for
	// earliest and latest, {first, last}; for min and max,
	// {least, greatest of the values that are text, least, greatest of the numbers}.
	vals []string
	// seen indexes a dc's vals once they are more than a linear scan should search (dcIndexFrom): a rule comparing
	// dc() with thousands keeps thousands, and one event may bring as many. Rebuilt from vals after a restore.
	seen    map[string]struct{}
	present int64 // events in which the field had a value (count(f)); its values, for a count of each value
	// x and y hold what one function needs besides vals (an aggState serves one aggregate, and add switches on its
	// function), shared so that a group of many aggregates costs 64 bytes an aggregate instead of 88:
	//   - earliest, latest: the event times of vals[0] and vals[1], in Unix nanoseconds (firstAt, lastAt);
	//   - min, max: the numeric extremes, float64 bits (minNum, maxNum), meaningful when numeric is set (some value
	//     was a number); text says some value was not a number (vals[0] and vals[1] hold such values);
	//   - sum: the total of the values that are numbers, float64 bits in x (sum; numeric: there was one).
	x, y          uint64
	numeric, text bool
}

func (s *aggState) firstAt() int64  { return int64(s.x) }
func (s *aggState) lastAt() int64   { return int64(s.y) }
func (s *aggState) minNum() float64 { return math.Float64frombits(s.x) }
func (s *aggState) maxNum() float64 { return math.Float64frombits(s.y) }
func (s *aggState) sum() float64    { return math.Float64frombits(s.x) }

func (s *aggState) setFirstAt(t int64)  { s.x = uint64(t) }
func (s *aggState) setLastAt(t int64)   { s.y = uint64(t) }
func (s *aggState) setMinNum(n float64) { s.x = math.Float64bits(n) }
func (s *aggState) setMaxNum(n float64) { s.y = math.Float64bits(n) }
func (s *aggState) setSum(n float64)    { s.x = math.Float64bits(n) }

// closedWindow is a group's final row in a window that closed, for a window answered at its close.
type closedWindow struct {
	row    *row
	end    time.Time
	origin uint64
}

func newWindowedStats(plan windowPlan, rs refs, size, lateness time.Duration, maxKeys int, cut *atomic.Uint64) *windowedStats {
	stats := compileStats(plan.stats, rs, cut)
	for i := range stats.aggs {
		stats.aggs[i].keep = plan.keep[i]
	}
	return &windowedStats{
		stats:    stats,
		size:     size,
		lateness: max(lateness, 0),
		groups:   window.NewStore[group](maxKeys),
		atClose:  plan.atClose,
		gate:     plan.gate,
		hopeless: plan.hopeless,
		lost:     window.NewStore[[]time.Time](maxKeys),
	}
}

// evicted records the open windows of a group evicted from a window answered at its close (see lost).
func (w *windowedStats) evicted(key string, g *group) {
	if !w.atClose {
		return
	}
	starts := make([]time.Time, len(g.wins))
	for i, ws := range g.wins {
		starts[i] = ws.start
	}
	if old, ok := w.lost.Get(key); ok {
		*old = starts
	} else {
		w.lost.Add(key, starts, nil)
	}
}

// group returns the group of tuple, added when new, with its key in w.keyBuf; nil when seen (the groups the event
// touched, kept when it makes several tuples) already has it. The key is built in a buffer, and copied into a string
// only for a group (or a second tuple) it names for the first time: the events of a known group allocate none.
func (w *windowedStats) group(tuple []string, several bool, seen *map[string]bool) *group {
	w.keyBuf = w.keyBuf[:0]
	for i, v := range tuple {
		if i > 0 {
			w.keyBuf = append(w.keyBuf, 0)
		}
		w.keyBuf = append(w.keyBuf, v...)
	}
	if several {
		if (*seen)[string(w.keyBuf)] {
			return nil
		}
		if *seen == nil {
			*seen = map[string]bool{}
		}
		(*seen)[string(w.keyBuf)] = true
	}
	g, ok := w.groups.GetBytes(w.keyBuf)
	if !ok {
		g = w.groups.Add(string(w.keyBuf), group{by: tuple}, w.evicted)
	}
	return g
}

// update folds one event's rows into their groups and returns, per group touched, the aggregated row and the window
// it belongs to. An event whose window has closed changes nothing. unchanged reports that every group the event
// touched was in a window that will not answer again (settled): delivered a second time, it would change nothing
// anyone reads.
func (w *windowedStats) update(rows []*row, at time.Time, origin uint64) (hits []windowHit, unchanged bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	wm := w.wm.Observe(at)
	if !wm.Before(w.nextSweep) {
		w.sweep(wm)
	}
	start := at.Truncate(w.size)
	if w.closed(start, wm) {
		w.late++ // counted once per delivery: not unchanged
		return nil, false
	}
	// An event counted only in settled windows may go unremembered while evicting its group (and with it what says
	// the window is settled) would take more new groups, each an event the redelivery memory keeps, than that memory
	// holds: by then it would have forgotten the event anyway.
	unchanged = w.forgetSettled && w.groups.Len()+w.replayKeys <= w.maxKeys
	var seen map[string]bool // the groups this event touched, when it makes more than one
	for _, r := range rows {
		var tuples [][]string
		var known *group // the group singleKey's key found; w.keyBuf holds that key
		if len(rows) == 1 {
			// A known group's key is all the event needs: the tuple, a copy of its values, is made for a new one.
			key, single, grouped := w.stats.singleKey(r, w.keyBuf[:0])
			w.keyBuf = key
			if single && !grouped {
				continue
			}
			if single {
				// Only a whole key: a partial one (a field of several values) could name, and touch, another group.
				if g, ok := w.groups.GetBytes(key); ok {
					tuples, known = [][]string{g.by}, g
				}
			}
		}
		if tuples == nil {
			tuples = w.stats.tuples(r)
		}
		if len(tuples) == 0 {
			continue
		}
		var evs []eventValues // read when a group first needs them
		for _, tuple := range tuples {
			g := known
			if g == nil {
				g = w.group(tuple, len(rows) > 1 || len(tuples) > 1, &seen)
				if g == nil {
					continue // a group this event touched already
				}
			}
			ws := g.window(start, len(w.stats.aggs), func(s time.Time) bool { return w.closed(s, wm) })
			if ws.count == 0 && w.atClose {
				if starts, lost := w.lost.GetBytes(w.keyBuf); lost && slices.ContainsFunc(*starts, start.Equal) {
					ws.fired = true // its group was evicted in this window: what it counts now is not the window's
				}
			}
			ws.count++
			if origin != 0 {
				ws.origin = origin
			}
			if ws.fired && (w.atClose || !w.feedsAfterFire) {
				// The window will not answer again, and nothing reads its aggregates: a busy group past a rule's
				// "fewer than" costs its lookup and count from then on, not the reading and folding of its values.
				continue
			}
			unchanged = false
			if evs == nil {
				evs = w.reader.read(w.stats.aggs, r)
			}
			for i, a := range w.stats.aggs {
				ws.aggs[i].add(a, &evs[i], at)
			}
			if w.atClose && !w.hopeless.holds(ws) {
				ws.fired = true // as a window whose group was evicted: it answers nothing at its close
				clear(ws.aggs)  // and what they kept is garbage
				continue
			}
			if !w.atClose && (!ws.fired || w.feedsAfterFire) && w.gate.holds(ws) {
				// A window that has answered stays quiet (fire), and one whose conditions cannot hold yet would
				// drop its row: neither builds one.
				hits = append(hits, windowHit{row: w.snapshot(g.by, ws), win: ws})
			}
		}
	}
	w.reader.release()
	if cap(w.keyBuf) > maxKeptKey {
		w.keyBuf = nil // a by-field of a huge value must not stay held
	}
	return hits, unchanged
}

// maxKeptKey bounds the group key buffer a windowed stats keeps between events.
const maxKeptKey = 4 << 10

type windowHit struct {
	row *row
	win *windowState
}

// closed reports whether the window starting at start can take no more events at watermark wm.
func (w *windowedStats) closed(start, wm time.Time) bool {
	return !wm.Before(start.Add(w.size + w.lateness))
}

// window returns the group's window that starts at start, opening it if needed, and drops the closed ones.
func (g *group) window(start time.Time, naggs int, closed func(time.Time) bool) *windowState {
	open := g.wins[:0]
	var found *windowState
	for _, ws := range g.wins {
		if ws.start.Equal(start) {
			found = ws
		} else if closed(ws.start) {
			continue
		}
		open = append(open, ws)
	}
	clear(g.wins[len(open):])
	g.wins = open
	if found != nil {
		return found
	}
	found = &windowState{start: start, aggs: make([]aggState, naggs)}
	i := sort.Search(len(g.wins), func(i int) bool { return g.wins[i].start.After(start) })
	g.wins = append(g.wins, nil)
	copy(g.wins[i+1:], g.wins[i:])
	g.wins[i] = found
	return found
}

// sweep frees the groups whose windows have all closed, and schedules the next sweep for when the window open at
// wm closes: with aligned windows every group's window closes at the same instant, so one pass per window suffices.
// A window answered at its close gives its final row to closing here, once: it is then dropped from its group.
func (w *windowedStats) sweep(wm time.Time) {
	if w.atClose {
		w.groups.Each(func(_ string, g *group) bool {
			open := g.wins[:0]
			for _, ws := range g.wins {
				if !w.closed(ws.start, wm) {
					open = append(open, ws)
					continue
				}
				if !ws.fired {
					// Bounded by the groups (max_keys) and the windows each keeps open; the caller takes them
					// (TakeClosed) after every batch.
					w.closing = append(w.closing, closedWindow{row: w.snapshot(g.by, ws), end: ws.start.Add(w.size),
						origin: ws.origin})
				}
			}
			clear(g.wins[len(open):])
			g.wins = open
			return true
		})
	}
	w.groups.Sweep(func(_ string, g *group) bool {
		for _, ws := range g.wins {
			if !w.closed(ws.start, wm) {
				return false
			}
		}
		return true
	})
	w.lost.Sweep(func(_ string, starts *[]time.Time) bool {
		return !slices.ContainsFunc(*starts, func(s time.Time) bool { return !w.closed(s, wm) })
	})
	w.nextSweep = wm.Add(-w.lateness).Truncate(w.size).Add(w.size + w.lateness)
}

// advance moves the watermark to at (an event of another rule: windows answered at their close must close when the
// stream's time passes them, not only when their own rule's next event comes) and sweeps when a window closed.
func (w *windowedStats) advance(at time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if wm := w.wm.Observe(at); !wm.Before(w.nextSweep) {
		w.sweep(wm)
	}
}

// closeAll closes every open window, as the end of the input closes them (the tools' end of an event file).
func (w *windowedStats) closeAll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.sweep(time.Unix(1<<62, 0))
	w.nextSweep = time.Time{}
}

// takeClosing returns the final rows collected since the last call.
func (w *windowedStats) takeClosing() []closedWindow {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.closing
	w.closing = nil
	return out
}

// fire marks the window as having emitted, and reports whether it had not yet.
func (w *windowedStats) fire(ws *windowState) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if ws.fired {
		return false
	}
	ws.fired = true
	return true
}

// eventValues is one aggregate's values in one event, read once for all the groups the event makes (one per source
// address, say) and reduced to what can change a group, so that folding it into a group costs what the group keeps,
// not what the event holds: 1000 groups of an event padded with 100,000 values read each value once, not 1000 times.
// Its strings are views of the reader's arena, valid until the next read: add copies what it keeps.
type eventValues struct {
	n int64 // the values read
	// distinct are the distinct values in order of first occurrence (values, dc, earliest, latest), firstAt and
	// lastAt the index of each one's first and last occurrence among the event's values.
	distinct        []string
	firstAt, lastAt []int
	// byLast lists distinct's indexes by last occurrence, latest first; built by the first group that needs it (a
	// full values()).
	byLast []int
	// folded holds the event's extremes (min, max) or its sum, folded as a group folds them.
	folded aggState
}

// valueReader reads the aggregates' values of one row at a time (eventValues), reusing its buffers.
type valueReader struct {
	evs   []eventValues
	arena []byte
	index map[string]int // distinct's positions, once there are more than a scan should search
}

// read reads each aggregate's values in r.
func (vr *valueReader) read(aggs []aggExec, r *row) []eventValues {
	vr.arena = vr.arena[:0]
	if len(vr.evs) != len(aggs) {
		vr.evs = make([]eventValues, len(aggs))
	}
	for i, a := range aggs {
		// Field by field: one write of the whole struct costs the common event of one value more than reading it.
		e := &vr.evs[i]
		e.n = 0
		e.distinct = e.distinct[:0]
		e.firstAt = e.firstAt[:0]
		e.lastAt = e.lastAt[:0]
		e.byLast = e.byLast[:0]
		if e.folded.vals != nil || e.folded.numeric { // min, max or sum folded
			e.folded = aggState{}
		}
		if a.field != nil {
			vr.readOne(a, r, e)
		}
	}
	return vr.evs
}

// maxKeptArena and maxKeptDistinct bound what a reader keeps between events (release), so that a large event's
// values are not held until the rule's next event, by each windowed rule it reached.
const maxKeptArena, maxKeptDistinct = 64 << 10, 256

// release drops the event's values once its groups have folded them when they are more than a small event's: the
// arena, and every view of it (distinct, folded, the index's keys), or the lists and index grown past the bound.
func (vr *valueReader) release() {
	large := cap(vr.arena) > maxKeptArena
	if large {
		vr.arena = nil
	}
	for i := range vr.evs {
		if e := &vr.evs[i]; large || cap(e.distinct) > maxKeptDistinct {
			*e = eventValues{}
		}
	}
	if large || len(vr.index) > maxKeptDistinct {
		vr.index = nil // clear would keep its buckets
	}
}

// scanDistinct is the number of distinct values found by a scan rather than through the index.
const scanDistinct = 8

func (vr *valueReader) readOne(a aggExec, r *row, e *eventValues) {
	if len(vr.index) > 4096 {
		vr.index = nil
	}
	clear(vr.index)
	r.eachString(a.field, func(v string) bool {
		i := int(e.n)
		e.n++
		switch a.fn {
		case "values", "dc", "earliest", "latest":
			if k := vr.position(e, v); k >= 0 {
				e.lastAt[k] = i
				return true
			}
			v = vr.keep(v)
			if len(e.distinct) == scanDistinct && vr.index == nil {
				vr.index = make(map[string]int)
			}
			if len(e.distinct) >= scanDistinct {
				if len(e.distinct) == scanDistinct {
					for k, d := range e.distinct {
						vr.index[d] = k
					}
				}
				vr.index[v] = len(e.distinct)
			}
			e.distinct, e.firstAt, e.lastAt = append(e.distinct, v), append(e.firstAt, i), append(e.lastAt, i)
			// earliest and latest take the event's first value (one event, one time).
			return a.fn != "earliest" && a.fn != "latest"
		case "min", "max":
			e.folded.extremes(v, vr.keep)
		case "sum":
			e.folded.addNumber(v)
		}
		return true
	})
}

// position is v's index among e's distinct values, or -1.
func (vr *valueReader) position(e *eventValues, v string) int {
	if len(e.distinct) <= scanDistinct {
		return slices.Index(e.distinct, v)
	}
	if k, ok := vr.index[v]; ok {
		return k
	}
	return -1
}

// keep copies v, a view valid only while it is read, into the arena.
func (vr *valueReader) keep(v string) string {
	start := len(vr.arena)
	vr.arena = append(vr.arena, v...)
	return b2s(vr.arena[start:])
}

// latestFirst is byLast, built on first use.
func (e *eventValues) latestFirst() []int {
	if len(e.byLast) == 0 {
		for k := range e.distinct {
			e.byLast = append(e.byLast, k)
		}
		slices.SortFunc(e.byLast, func(x, y int) int { return e.lastAt[y] - e.lastAt[x] })
	}
	return e.byLast
}

// add folds one event's values of the aggregate into the group's state, as folding them one by one in the event's
// order would (the sum aside: the event's total is added, which can differ from adding its values in turn by
// rounding, or by overflowing where the running sum would not: -1.7e308 then 1.7e308 twice).
func (s *aggState) add(a aggExec, e *eventValues, at time.Time) {
	if a.field == nil || e.n == 0 {
		return
	}
	if a.eachValue {
		s.present += e.n
	} else {
		s.present++
	}
	switch a.fn {
	case "dc":
		// Exact up to the number its rule compares it with, then it stops counting: dc > 100 needs 101 values. The
		// loop ends within that many: each value already kept is met once, and each other one is kept.
		for _, v := range e.distinct {
			if len(s.vals) >= max(a.keep, maxValuesPerAggregate) {
				break
			}
			countFoldStep()
			if s.distinct(v) {
				v = strings.Clone(v)
				s.vals = append(s.vals, v)
				if s.seen != nil {
					s.seen[v] = struct{}{}
				}
			}
		}
	case "values":
		// Until full, the values new to the group are kept in order of first occurrence; p is the index of the one
		// that filled it.
		p := -1
		for k, v := range e.distinct {
			if len(s.vals) >= maxValuesPerAggregate { // more when restored from damaged state: full all the same
				break
			}
			countFoldStep()
			if !slices.Contains(s.vals, v) {
				s.vals = append(s.vals, strings.Clone(v))
				p = e.firstAt[k]
			}
		}
		if len(s.vals) < maxValuesPerAggregate {
			return
		}
		// Full: the last slot holds the newest distinct value, so that values padded in front (forged
		// X-Forwarded-For entries before the real address) cannot keep the latest one out of the report. That is the
		// value occurring latest after p that is not among the other kept ones: found within as many as are kept.
		for _, k := range e.latestFirst() {
			if e.lastAt[k] <= p {
				break
			}
			countFoldStep()
			if v := e.distinct[k]; !slices.Contains(s.vals[:len(s.vals)-1], v) {
				if s.vals[len(s.vals)-1] != v {
					s.vals[len(s.vals)-1] = strings.Clone(v)
				}
				break
			}
		}
	case "min", "max":
		// The event's least and greatest text and numbers change the group as all its values would.
		if e.folded.text {
			s.extremes(e.folded.vals[0], strings.Clone)
			s.extremes(e.folded.vals[1], strings.Clone)
		}
		if e.folded.numeric {
			s.extremes(e.folded.vals[2], strings.Clone)
			s.extremes(e.folded.vals[3], strings.Clone)
		}
	case "sum":
		if e.folded.numeric {
			s.setSum(s.sum() + e.folded.sum())
			s.numeric = true
		}
	case "earliest", "latest":
		v, t := e.distinct[0], at.UnixNano()
		switch {
		case s.vals == nil:
			v = strings.Clone(v)
			s.vals = []string{v, v}
			s.setFirstAt(t)
			s.setLastAt(t)
		default:
			if t < s.firstAt() {
				s.vals[0] = strings.Clone(v)
				s.setFirstAt(t)
			}
			if t >= s.lastAt() {
				s.vals[1] = strings.Clone(v)
				s.setLastAt(t)
			}
		}
	}
}

// foldSteps, when set (by tests), counts the values add looks at.
var foldSteps *int

func countFoldStep() {
	if foldSteps != nil {
		*foldSteps++
	}
}

// extremes folds one value into min and max, keeping the numbers' extremes and the text values' apart: Splunk's min
// and max compare numbers as numbers and text lexicographically, and put every number before any text (min of 10, 9
// and abc is 9, max is abc).
// dcIndexFrom is the number of a dc's values from which they are found through a map rather than a linear scan.
const dcIndexFrom = 64

// distinct reports whether v is not yet among a dc's values.
func (s *aggState) distinct(v string) bool {
	if s.seen == nil && len(s.vals) >= dcIndexFrom {
		s.seen = make(map[string]struct{}, 2*len(s.vals))
		for _, x := range s.vals {
			s.seen[x] = struct{}{}
		}
	}
	if s.seen != nil {
		_, ok := s.seen[v]
		return !ok
	}
	return !slices.Contains(s.vals, v)
}

func (s *aggState) extremes(v string, keep func(string) string) {
	if s.vals == nil {
		s.vals = make([]string, 4)
	}
	// v may be a view (of the event, of a reader's arena): keep copies it when it is kept.
	n, isNum := numberOf([]byte(v))
	switch {
	case !isNum && !s.text:
		v = keep(v)
		s.vals[0], s.vals[1], s.text = v, v, true
	case !isNum:
		if v < s.vals[0] {
			s.vals[0] = keep(v)
		}
		if v > s.vals[1] {
			s.vals[1] = keep(v)
		}
	case !s.numeric:
		v = keep(v)
		s.vals[2], s.vals[3], s.numeric = v, v, true
		s.setMinNum(n)
		s.setMaxNum(n)
	case n < s.minNum():
		s.vals[2] = keep(v)
		s.setMinNum(n)
	case n > s.maxNum():
		s.vals[3] = keep(v)
		s.setMaxNum(n)
	}
}

// snapshot is the group's aggregated row as Splunk's stats would print it now.
func (w *windowedStats) snapshot(by []string, ws *windowState) *row {
	r := &row{}
	setGroup(r, w.stats.by, by)
	for i, a := range w.stats.aggs {
		s := &ws.aggs[i]
		switch a.fn {
		case "count":
			n := ws.count
			if a.field != nil {
				n = s.present
			}
			r.set(a.out, []string{strconv.FormatInt(n, 10)}, true)
		case "values":
			vals := append([]string(nil), s.vals...)
			sort.Strings(vals)
			r.set(a.out, vals, false)
		case "dc":
			r.set(a.out, []string{strconv.Itoa(len(s.vals))}, true)
		case "min", "max":
			if s.vals != nil {
				r.set(a.out, []string{s.extreme(a.fn == "max")}, false)
			}
		case "sum":
			if vals, ok := s.sumValue(); vals != nil {
				r.set(a.out, vals, ok)
			}
		case "earliest":
			if s.vals != nil {
				r.set(a.out, []string{s.vals[0]}, false)
			}
		case "latest":
			if s.vals != nil {
				r.set(a.out, []string{s.vals[1]}, false)
			}
		}
	}
	return r
}

// addNumber adds v to a sum when it is a number (Splunk's and ES|QL's sum skip other values).
func (s *aggState) addNumber(v string) {
	if n, ok := numberOf([]byte(v)); ok {
		s.setSum(s.sum() + n)
		s.numeric = true
	}
}

// sumValue is the sum as a row value, or none when no value was a number.
func (s *aggState) sumValue() ([]string, bool) {
	if !s.numeric {
		return nil, false
	}
	return []string{strconv.FormatFloat(s.sum(), 'f', -1, 64)}, true
}

// extreme is the min (or max) in Splunk's order: the least number when there is one, else the least text; the
// greatest text when there is one, else the greatest number.
func (s *aggState) extreme(max bool) string {
	switch {
	case max && s.text:
		return s.vals[1]
	case max:
		return s.vals[3]
	case s.numeric:
		return s.vals[2]
	}
	return s.vals[0]
}

// stat returns the groups held, the groups evicted and the events dropped as late since start.
func (w *windowedStats) stat() (held int, evicted, late uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.groups.Len(), w.groups.Evicted(), w.late
}
