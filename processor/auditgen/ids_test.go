package auditgen_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/auditdetect/auditdetect/processor/auditgen"
	"github.com/auditdetect/auditdetect/processor/builtin"
	"github.com/auditdetect/auditdetect/processor/engine"
	"github.com/auditdetect/auditdetect/processor/loader"
)

func auditID(t *testing.T, body []byte) string {
	t.Helper()
	var ev struct{ AuditID string }
	if err := json.Unmarshal(body, &ev); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	return ev.AuditID
}

// TestIDsRenewOnlyTheAuditID: a renewal changes the auditID of each event, differently for each run, keeps it
// distinct from the other events' in the run, and leaves every other byte as it was.
func TestIDsRenewOnlyTheAuditID(t *testing.T) {
	var events [][]byte
	for _, ev := range auditgen.Generate(1, 500) {
		events = append(events, ev.Body)
	}
	original := make([][]byte, len(events))
	for i, b := range events {
		original[i] = slices.Clone(b)
	}
	ids := auditgen.NewIDs(events)
	seen := map[string]bool{}
	for _, run := range []uint32{1, 2, 0xfedcba98} {
		ids.RenewAll(events, run)
		inRun := map[string]bool{}
		for i, b := range events {
			id, was := auditID(t, b), auditID(t, original[i])
			if id == was || len(id) != len(was) || seen[id] {
				t.Fatalf("run %x, event %d: auditID %q from %q (seen before: %v)", run, i, id, was, seen[id])
			}
			if id[len(id)-28:] != was[len(was)-28:] { // past the eight digits written
				t.Fatalf("run %x, event %d: %q from %q", run, i, id, was)
			}
			k := bytes.Index(original[i], []byte(was))
			if !bytes.Equal(b[:k], original[i][:k]) || !bytes.Equal(b[k+len(id):], original[i][k+len(was):]) {
				t.Fatalf("run %x, event %d: bytes other than the auditID changed", run, i)
			}
			seen[id], inRun[id] = true, true
		}
		if len(inRun) != len(events) {
			t.Fatalf("run %x: %d distinct auditIDs for %d events", run, len(inRun), len(events))
		}
	}
}

// TestIDsLeaveWhatTheyCannotRenew: an event without an auditID, with an empty one or one that starts with an escape
// is left alone; a short one is renewed within its length.
func TestIDsLeaveWhatTheyCannotRenew(t *testing.T) {
	events := [][]byte{
		[]byte(`{"kind":"Event","verb":"get"}`),
		[]byte(`{"auditID":"","verb":"get"}`),
		[]byte(`{"auditID":"\u0061bc","verb":"get"}`),
		[]byte(`{"auditID" : "ab\"c","verb":"get"}`),
		[]byte(`{"auditID":"x"}`),
	}
	ids := auditgen.NewIDs(events)
	for i := range events {
		ids.Renew(events, i, 0x1234)
	}
	want := []string{
		`{"kind":"Event","verb":"get"}`,
		`{"auditID":"","verb":"get"}`,
		`{"auditID":"\u0061bc","verb":"get"}`,
		`{"auditID" : "34\"c","verb":"get"}`,
		`{"auditID":"4"}`,
	}
	for i := range events {
		if string(events[i]) != want[i] {
			t.Errorf("event %d: %s, want %s", i, events[i], want[i])
		}
	}
}

// scanning is the built-in detection the IDs tests count on: it answers on the sixth request of a source.
const scanning = "Kubernetes API Scanning by Unauthenticated Source"

// scanningEvent returns the built-in pack and the first generated event of the scanning scenario.
func scanningEvent(t *testing.T) (*loader.Result, []byte) {
	t.Helper()
	res, err := loader.Load(loader.Options{Paths: []string{loader.Builtin}, Builtin: builtin.FS})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range auditgen.Generate(1, 20000) {
		if ev.Detection == scanning {
			return res, ev.Body
		}
	}
	t.Fatalf("no %s event in the log", scanning)
	return nil, nil
}

// TestIDsMakeARunNewToStatefulRules is why IDs exist: an event evaluated again unchanged is a redelivery, which a
// windowed rule does not count again; renewed, it counts. API Scanning by Unauthenticated Source answers on the
// sixth event of a source.
func TestIDsMakeARunNewToStatefulRules(t *testing.T) {
	res, body := scanningEvent(t)
	for _, renew := range []bool{false, true} {
		e, err := engine.Compile(res.Rules, engine.Options{GeoIP: noGeo{}})
		if err != nil {
			t.Fatal(err)
		}
		events := [][]byte{slices.Clone(body)}
		ids := auditgen.NewIDs(events)
		ev := e.Evaluator()
		answered := 0
		for run := range uint32(6) {
			if renew {
				ids.Renew(events, 0, run)
			}
			r, err := ev.Evaluate(events[0])
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range r.Matches {
				if m.Rule.Name == scanning {
					answered++
				}
			}
		}
		ev.Close()
		if want := map[bool]int{false: 0, true: 1}[renew]; answered != want {
			t.Errorf("renewed %v: %d answers in six evaluations, want %d", renew, answered, want)
		}
	}
}

// TestIDsRenewAllKeepsShortIDsApart: RenewAll gives each event a number of its own, so that IDs of at most 8
// characters (fixtures, synthetic logs: "req-0001"), written over whole, stay apart: six requests of a scanner
// count as six, not as one and its redeliveries.
func TestIDsRenewAllKeepsShortIDsApart(t *testing.T) {
	res, body := scanningEvent(t)
	id := []byte(auditID(t, body))
	var events [][]byte
	for i := range 6 {
		events = append(events, bytes.Replace(slices.Clone(body), id, fmt.Appendf(nil, "req-%04d", i), 1))
	}
	auditgen.NewIDs(events).RenewAll(events, 1)
	distinct := map[string]bool{}
	for _, b := range events {
		distinct[auditID(t, b)] = true
	}
	if len(distinct) != len(events) {
		t.Errorf("%d distinct auditIDs for %d distinct events after RenewAll", len(distinct), len(events))
	}
	e, err := engine.Compile(res.Rules, engine.Options{GeoIP: noGeo{}})
	if err != nil {
		t.Fatal(err)
	}
	ev := e.Evaluator()
	defer ev.Close()
	answered := 0
	for _, b := range events {
		r, err := ev.Evaluate(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range r.Matches {
			if m.Rule.Name == scanning {
				answered++
			}
		}
	}
	if answered != 1 {
		t.Errorf("six distinct requests after RenewAll: %d answers, want 1", answered)
	}
}

// TestIDsRenewTheTopLevelAuditID: the engine's identity is the top-level auditID; NewIDs takes the first bytes
// "auditID" anywhere: a value spelled so leaves the event unrenewed, a nested key before the top-level one gets
// renewed instead of it.
func TestIDsRenewTheTopLevelAuditID(t *testing.T) {
	events := [][]byte{
		[]byte(`{"kind":"Event","level":"auditID","auditID":"0123456789abcdef"}`),
		[]byte(`{"kind":"Event","annotations":{"auditID":"fedcba9876543210"},"auditID":"0123456789abcdef"}`),
	}
	auditgen.NewIDs(events).RenewAll(events, 1)
	for i, b := range events {
		if got := auditID(t, b); got == "0123456789abcdef" {
			t.Errorf("event %d: top-level auditID not renewed: %s", i, b)
		}
	}
}
