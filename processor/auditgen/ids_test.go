package auditgen_test

import (
	"bytes"
	"encoding/json"
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
	ids.RenewAll(events, 0x1234)
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

// TestIDsMakeARunNewToStatefulRules is why IDs exist: an event evaluated again unchanged is a redelivery, which a
// windowed rule does not count again; renewed, it counts. API Scanning by Unauthenticated Source answers on the
// sixth event of a source.
func TestIDsMakeARunNewToStatefulRules(t *testing.T) {
	res, err := loader.Load(loader.Options{Paths: []string{loader.Builtin}, Builtin: builtin.FS})
	if err != nil {
		t.Fatal(err)
	}
	const name = "Kubernetes API Scanning by Unauthenticated Source"
	var body []byte
	for _, ev := range auditgen.Generate(1, 20000) {
		if ev.Detection == name {
			body = ev.Body
			break
		}
	}
	if body == nil {
		t.Fatalf("no %s event in the log", name)
	}
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
				if m.Rule.Name == name {
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
