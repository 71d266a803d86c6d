package engine

import (
	"strings"
	"testing"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// hostPathPod is a pod whose first volume mounts the host's root, with keys of every kind of value.
const hostPathPod = `{"kind":"Event","verb":"create","user":{"username":"alice"},"objectRef":{"resource":"pods"},
"requestObject":{"kind":"Pod","spec":{"volumes":[{"name":"root","hostPath":{"path":"/"}},{"name":"tmp","emptyDir":{}}],
"containers":[{"image":"nginx","securityContext":null,"args":[]}],"tolerations":[]}},"stageTimestamp":"2026-01-02T03:04:05Z"}`

func sigmaField(name string) rule.Field { return rule.Field{Name: name, AnyArray: true} }

func present(name string) rule.Exists { return rule.Exists{Field: sigmaField(name), AnyValue: true} }

func nonNull(name string) rule.Exists {
	return rule.Exists{Field: sigmaField(name), AnyValue: true, NotNull: true}
}

// TestExistsAnyValue: rule.Exists with AnyValue asks whether the key is present, whatever its value; without it
// (SPL, Elastic) only strings, numbers and booleans count, as before.
func TestExistsAnyValue(t *testing.T) {
	tests := []struct {
		name   string
		filter rule.Expr
		want   bool
	}{
		{"object value", present("requestObject.spec.volumes.hostPath"), true},
		{"object value, values only", rule.Exists{Field: sigmaField("requestObject.spec.volumes.hostPath")}, false},
		{"empty object", present("requestObject.spec.volumes.emptyDir"), true},
		{"empty array", present("requestObject.spec.tolerations"), true},
		{"empty array, values only", rule.Exists{Field: sigmaField("requestObject.spec.tolerations")}, false},
		{"null", present("requestObject.spec.containers.securityContext"), true},
		{"null, values only", rule.Exists{Field: sigmaField("requestObject.spec.containers.securityContext")}, false},
		{"null is not a non-null member", nonNull("requestObject.spec.containers.securityContext"), false},
		{"object is a non-null member", nonNull("requestObject.spec.volumes.hostPath"), true},
		{"scalar", present("verb"), true},
		{"absent", present("requestObject.spec.hostPID"), false},
		{"absent, not", rule.Not{X: present("requestObject.spec.hostPID")}, true},
		{"behind a cheap term and the prefilter", rule.And{eq("verb", "create"), present("requestObject.spec.volumes.hostPath")}, true},
		{"prefilter still refuses a missing key", rule.And{eq("verb", "create"), present("requestObject.spec.volumes.nfs")}, false},
		{"NotNull without AnyValue changes nothing", rule.Exists{Field: sigmaField("verb"), NotNull: true}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := matches(t, tt.filter, hostPathPod); got != tt.want {
				t.Errorf("match = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestExistsAnyValueEscapedKey: the prefilter looks for the key in the bytes; a key the event writes with escapes is
// still found.
func TestExistsAnyValueEscapedKey(t *testing.T) {
	body := strings.Replace(hostPathPod, `"hostPath"`, `"host\u0050ath"`, 1)
	if !matches(t, rule.And{eq("verb", "create"), present("requestObject.spec.volumes.hostPath")}, body) {
		t.Error("a present key written with an escape was missed")
	}
}

// TestExistsAnyValueStaysConservative: the operation index and the prefilter read an AnyValue Exists as they read
// any Exists (no operation, the key's name).
func TestExistsAnyValueStaysConservative(t *testing.T) {
	for _, f := range []rule.Expr{present("verb"), nonNull("verb"), rule.Not{X: nonNull("objectRef.resource")}} {
		if ops := requiredOps(f); len(ops) != 1 || ops[0] != (Operation{Any, Any}) {
			t.Errorf("%#v: ops %v, want any-any", f, ops)
		}
	}
	if cs := needles(present("requestObject.spec.volumes.hostPath")); len(cs) != 1 || string(cs[0][0].lit) != `hostPath"` {
		t.Errorf("needles %v, want the key", cs)
	}
}

// TestExistsAnyValueOnRows: in a pipeline stage the key is looked for in the event, unless a stage set the field
// (which then holds values) or renamed it away.
func TestExistsAnyValueOnRows(t *testing.T) {
	for _, tc := range []struct {
		name     string
		pipeline []rule.Stage
		want     bool
	}{
		{"read from the event", []rule.Stage{rule.Search{Cond: present("requestObject.spec.volumes.hostPath")}}, true},
		{"absent from the event", []rule.Stage{rule.Search{Cond: present("requestObject.spec.hostPID")}}, false},
		{"set by a stage", []rule.Stage{rule.Copy{From: "verb", To: "v"}, rule.Search{Cond: present("v")}}, true},
		{"renamed away", []rule.Stage{
			rule.Rename{Pairs: []rule.RenamePair{{From: "verb", To: "action"}}},
			rule.Search{Cond: present("verb")},
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := Compile([]*rule.Rule{{ID: "r", Name: "r", Filter: eq("verb", "create"), Pipeline: tc.pipeline}}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			ms, err := e.Match([]byte(hostPathPod))
			if err != nil {
				t.Fatal(err)
			}
			if got := len(ms) == 1; got != tc.want {
				t.Errorf("match = %v, want %v", got, tc.want)
			}
		})
	}
}
