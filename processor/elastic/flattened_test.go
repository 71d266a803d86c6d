package elastic

import (
	"testing"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// hostPathEvent is a pod created with a hostPath volume and a volume mount: the integration maps
// requestObject.spec.volumes.hostPath and requestObject.spec.containers.volumeMounts as `flattened`.
const hostPathEvent = `{"kind":"Event","verb":"create","objectRef":{"resource":"pods","namespace":"shop","name":"web"},
"user":{"username":"alice"},"sourceIPs":["10.0.0.1"],
"requestObject":{"kind":"Pod","spec":{"volumes":[{"name":"tmp","emptyDir":{}},
{"name":"sock","hostPath":{"path":"/var/run/docker.sock","type":"Socket"}}],
"containers":[{"name":"web","image":"nginx","volumeMounts":[{"name":"sock","mountPath":"/run/docker.sock","readOnly":true}]}]}}}`

// TestFlattenedRootValueQuery: a value query on the root of a flattened field matches when any leaf value under it
// equals the value, as Elasticsearch's term query on a flattened field's top level does ("querying the top-level
// flattened field searches all leaf values in the object"); a key under the root addresses that key alone.
func TestFlattenedRootValueQuery(t *testing.T) {
	const hostPath = "kubernetes.audit.requestObject.spec.volumes.hostPath"
	const mounts = "kubernetes.audit.requestObject.spec.containers.volumeMounts"
	kql := []struct {
		query string
		want  bool
	}{
		{hostPath + `:"/var/run/docker.sock"`, true},
		{hostPath + `:Socket`, true},
		{hostPath + `:socket`, false}, // each leaf is a keyword: case-sensitive
		{hostPath + `:/var/run/*`, true},
		{hostPath + `:"/var/run"`, false}, // a whole leaf, not a part
		{hostPath + `:(/etc or /var/run/docker.sock)`, true},
		{`not ` + hostPath + `:"/var/run/docker.sock"`, false},
		{hostPath + `.path:"/var/run/docker.sock"`, true},
		{hostPath + `.type:"/var/run/docker.sock"`, false}, // a key addresses that key's values only
		{hostPath + `:*`, true},
		{hostPath + ` > "Socket"`, false}, // ranges compare each leaf as text
		{hostPath + ` >= "/var/run/docker.sock"`, true},
		{mounts + `:true`, true}, // a boolean leaf is the keyword "true"
		{mounts + `:"/run/docker.sock"`, true},
		{mounts + `:sock`, true},
		{`kubernetes.audit.responseObject.spec.volumes.hostPath:"/var/run/docker.sock"`, false},
	}
	fm := defaultMap(t)
	for _, tt := range kql {
		t.Run("KQL "+tt.query, func(t *testing.T) {
			e, err := CompileKQL(tt.query, fm)
			if err != nil {
				t.Fatalf("CompileKQL: %v", err)
			}
			if got := evalExpr(t, e, hostPathEvent); got != tt.want {
				t.Errorf("matched %v, want %v (expression %#v)", got, tt.want, e)
			}
		})
	}
	eql := []struct {
		query string
		want  bool
	}{
		{`any where ` + hostPath + ` == "/var/run/docker.sock"`, true},
		{`any where ` + hostPath + ` in ("/etc", "/var/run/docker.sock")`, true},
		{`any where ` + hostPath + ` : "/VAR/RUN/*"`, true},
		{`any where ` + hostPath + ` != "/var/run/docker.sock"`, false},
		{`any where ` + hostPath + ` == "/etc"`, false},
		{`any where ` + hostPath + ` like "/var/run/*"`, true},
		{`any where ` + hostPath + ` >= "Socket"`, true},
		{`any where ` + hostPath + ` > "Socket"`, false},
	}
	for _, tt := range eql {
		t.Run("EQL "+tt.query, func(t *testing.T) {
			e, err := CompileEQL(tt.query, fm)
			if err != nil {
				t.Fatalf("CompileEQL: %v", err)
			}
			if got := evalExpr(t, e, hostPathEvent); got != tt.want {
				t.Errorf("matched %v, want %v (expression %#v)", got, tt.want, e)
			}
		})
	}
}

// TestFlattenedNotInESQL: ES|QL has no flattened type, so its comparisons do not search a flattened root's leaves.
func TestFlattenedNotInESQL(t *testing.T) {
	filter, pipeline, err := CompileESQL(`FROM logs-kubernetes.audit_logs-* | WHERE kubernetes.audit.requestObject.spec.volumes.hostPath == "/var/run/docker.sock"`, defaultMap(t))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	rule.EachField(filter, func(f rule.Field) { found = found || f.Leaves })
	for _, st := range pipeline {
		if w, ok := st.(rule.Where); ok {
			rule.EachField(w.Cond, func(f rule.Field) { found = found || f.Leaves })
		}
	}
	if found {
		t.Errorf("ES|QL compares with a flattened root's leaves: %#v", filter)
	}
}

// TestFlattenedFieldMapType: `|flattened` marks a field of a custom mapping flattened, `|keyword` unmarks one.
func TestFlattenedFieldMapType(t *testing.T) {
	fm, err := NewFieldMap(map[string]string{
		"kubernetes.audit.requestObject.spec.volumes.hostPath":        "requestObject.spec.volumes.hostPath|keyword",
		"kubernetes.audit.requestObject.spec.containers.volumeMounts": "requestObject.spec.containers.volumeMounts|flattened",
		"kubernetes.audit.requestObject.spec.containers":              "requestObject.spec.containers|flattened",
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		query string
		want  bool
	}{
		{`kubernetes.audit.requestObject.spec.volumes.hostPath:"/var/run/docker.sock"`, false},
		{`kubernetes.audit.requestObject.spec.containers.volumeMounts:"/run/docker.sock"`, true},
		{`kubernetes.audit.requestObject.spec.containers:"/run/docker.sock"`, true},
		{`kubernetes.audit.requestObject.spec.containers:nginx`, true},
	} {
		e, err := CompileKQL(tt.query, fm)
		if err != nil {
			t.Fatalf("%s: %v", tt.query, err)
		}
		if got := evalExpr(t, e, hostPathEvent); got != tt.want {
			t.Errorf("%s: matched %v, want %v", tt.query, got, tt.want)
		}
	}
}
