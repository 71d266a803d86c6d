package auditgen_test

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"slices"
	"testing"

	"github.com/auditdetect/auditdetect/processor/auditgen"
	"github.com/auditdetect/auditdetect/processor/builtin"
	"github.com/auditdetect/auditdetect/processor/engine"
	"github.com/auditdetect/auditdetect/processor/loader"
)

func TestDeterministic(t *testing.T) {
	a, b, c := auditgen.Generate(1, 300), auditgen.Generate(1, 300), auditgen.Generate(2, 300)
	same := 0
	for i := range a {
		if !bytes.Equal(a[i].Body, b[i].Body) || a[i].Scenario != b[i].Scenario {
			t.Fatalf("event %d differs between two runs with one seed", i)
		}
		if bytes.Equal(a[i].Body, c[i].Body) {
			same++
		}
	}
	if same > 0 {
		t.Errorf("%d events are the same under another seed", same)
	}
	var out bytes.Buffer
	n, err := auditgen.WriteLog(&out, 1, 300)
	if err != nil || n != int64(out.Len()) {
		t.Fatalf("WriteLog: %d bytes reported, %d written, %v", n, out.Len(), err)
	}
	for i, line := range bytes.Split(bytes.TrimSuffix(out.Bytes(), []byte("\n")), []byte("\n")) {
		if !bytes.Equal(line, a[i].Body) {
			t.Fatalf("line %d of the log is not event %d", i+1, i)
		}
	}
}

// apiServerOrder is the key order of the audit.k8s.io/v1 Event struct.
var apiServerOrder = []string{"kind", "apiVersion", "level", "auditID", "stage", "requestURI", "verb", "user",
	"impersonatedUser", "sourceIPs", "userAgent", "objectRef", "responseStatus", "requestObject", "responseObject",
	"requestReceivedTimestamp", "stageTimestamp", "annotations"}

// TestEventsAreWhatTheAPIServerWrites: compact JSON, the Event's keys in the struct's order, Go's escaping.
func TestEventsAreWhatTheAPIServerWrites(t *testing.T) {
	for i, ev := range auditgen.Generate(3, 2000) {
		var compact bytes.Buffer
		if err := json.Compact(&compact, ev.Body); err != nil {
			t.Fatalf("event %d (%s) is not JSON: %v", i, ev.Scenario, err)
		}
		if !bytes.Equal(compact.Bytes(), ev.Body) {
			t.Fatalf("event %d (%s) is not compact", i, ev.Scenario)
		}
		keys := topKeys(t, ev.Body)
		last := -1
		for _, k := range keys {
			pos := slices.Index(apiServerOrder, k)
			if pos <= last {
				t.Fatalf("event %d (%s): key %q out of the API server's order: %v", i, ev.Scenario, k, keys)
			}
			last = pos
		}
		if bytes.ContainsAny(ev.Body, "<>&") {
			t.Fatalf("event %d (%s): <, > or & unescaped (Go's encoder writes \\u003c, \\u003e, \\u0026)", i, ev.Scenario)
		}
	}
}

func topKeys(t *testing.T, body []byte) []string {
	d := json.NewDecoder(bytes.NewReader(body))
	if _, err := d.Token(); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for d.More() {
		k, err := d.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.(string))
		var skip json.RawMessage
		if err := d.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// TestMixShares: the shape the package documentation promises, on 10,000 events.
func TestMixShares(t *testing.T) {
	const n = 10000
	var reads, big, small, forbidden, anonymous, attacks int
	var total int64
	for _, ev := range auditgen.Generate(1, n) {
		var e struct {
			Verb string `json:"verb"`
			User struct {
				Username string `json:"username"`
			} `json:"user"`
			ResponseStatus struct {
				Code int `json:"code"`
			} `json:"responseStatus"`
		}
		if err := json.Unmarshal(ev.Body, &e); err != nil {
			t.Fatal(err)
		}
		switch e.Verb {
		case "get", "list", "watch":
			reads++
		}
		if e.ResponseStatus.Code == 403 {
			forbidden++
		}
		if e.User.Username == "system:anonymous" {
			anonymous++
		}
		if ev.Detection != "" {
			attacks++
		}
		switch size := len(ev.Body); {
		case size < 1024:
			small++
		case size > 100<<10:
			big++
		}
		total += int64(len(ev.Body))
	}
	share := func(k int) float64 { return float64(k) / n }
	for _, c := range []struct {
		what     string
		got      float64
		min, max float64
	}{
		{"reads (get, list, watch)", share(reads), 0.45, 0.65},
		{"refused (403)", share(forbidden), 0.003, 0.02},
		{"anonymous", share(anonymous), 0.003, 0.02},
		{"attack scenarios", share(attacks), 0.004, 0.012},
		{"bodies under 1 KiB", share(small), 0.25, 0.6},
	} {
		if c.got < c.min || c.got > c.max {
			t.Errorf("%s: %.2f%% of events, want %.1f%%–%.1f%%", c.what, 100*c.got, 100*c.min, 100*c.max)
		}
	}
	if big == 0 {
		t.Error("no body over 100 KiB")
	}
	t.Logf("%d events, %.0f bytes on average, %d over 100 KiB", n, float64(total)/n, big)
}

type noGeo struct{}

func (noGeo) Lookup(netip.Addr) (engine.Location, bool) { return engine.Location{}, false }

// TestAttacksTriggerTheirDetection runs the built-in pack over the log in order: every attack scenario triggers
// the detection it names, and ordinary traffic triggers none.
func TestAttacksTriggerTheirDetection(t *testing.T) {
	res, err := loader.Load(loader.Options{Paths: []string{loader.Builtin}, Builtin: builtin.FS})
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.Compile(res.Rules, engine.Options{GeoIP: noGeo{}})
	if err != nil {
		t.Fatal(err)
	}
	// An occurrence is a run of consecutive events of one scenario (a burst is one; windowed detections fire once
	// per burst, on its sixth event), keyed by its first event's index.
	fired := map[int]bool{}
	scenario := map[int]string{}
	occurrence, prev := -1, ""
	seen := map[string]int{}
	for i, ev := range auditgen.Generate(4, 30000) {
		if ev.Scenario != prev {
			occurrence = i
		}
		prev = ev.Scenario
		ms, err := e.Match(ev.Body)
		if err != nil {
			t.Fatalf("event %d (%s): %v", i, ev.Scenario, err)
		}
		var names []string
		for _, m := range ms {
			names = append(names, m.Rule.Name)
		}
		if ev.Detection == "" {
			if len(names) > 0 {
				t.Errorf("ordinary event %d (%s) triggered %v", i, ev.Scenario, names)
			}
			continue
		}
		if _, ok := fired[occurrence]; !ok {
			seen[ev.Scenario]++
			fired[occurrence], scenario[occurrence] = false, ev.Scenario
		}
		if slices.Contains(names, ev.Detection) {
			fired[occurrence] = true
		}
	}
	for at, ok := range fired {
		if !ok {
			t.Errorf("scenario %s at event %d did not trigger its detection", scenario[at], at)
		}
	}
	for _, s := range auditgen.Mix() {
		if s.Detection != "" && seen[s.Name] == 0 {
			t.Errorf("attack scenario %s never occurred in 30,000 events", s.Name)
		}
	}
}
