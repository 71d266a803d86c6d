package elastic

import (
	"errors"
	"strings"
	"testing"

	"github.com/auditdetect/auditdetect/processor/engine"
	"github.com/auditdetect/auditdetect/processor/rule"
)

// auditEvent is a raw audit event as the processor sees it; the queries below name its ECS fields.
const auditEvent = `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","stage":"ResponseComplete",
"verb":"create","requestURI":"/api/v1/namespaces/shop/pods",
"user":{"username":"system:serviceaccount:shop:web","uid":"u-1","groups":["system:serviceaccounts","system:authenticated"],
"extra":{"authentication.kubernetes.io/pod-name":["web-7d9f"]}},
"sourceIPs":["10.244.1.7","10.0.0.2"],"userAgent":"python-requests/2.31.0",
"objectRef":{"resource":"pods","namespace":"shop","name":"web-7d9f","apiVersion":"v1"},
"responseStatus":{"code":201},
"requestObject":{"metadata":{"name":"web-7d9f"},"spec":{"hostNetwork":true,"containers":[
{"image":"nginx:1.27","securityContext":{"privileged":false}},{"image":"evil.io/miner","securityContext":{"privileged":true}}]}},
"annotations":{"authorization.k8s.io/decision":"allow","mutation.webhook.admission.k8s.io/round_0_index_0":"{\"configuration\":\"x\"}"}}`

func defaultMap(t *testing.T) *FieldMap {
	t.Helper()
	fm, err := NewFieldMap(nil)
	if err != nil {
		t.Fatal(err)
	}
	return fm
}

func evalExpr(t *testing.T, e rule.Expr, event string) bool {
	t.Helper()
	eng, err := engine.Compile([]*rule.Rule{{ID: "q", Name: "q", Filter: e}}, engine.Options{})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	ms, err := eng.Match([]byte(event))
	if err != nil {
		t.Fatal(err)
	}
	return len(ms) == 1
}

func TestKQLSemantics(t *testing.T) {
	tests := []struct {
		query string
		want  bool
	}{
		{`kubernetes.audit.verb:create`, true},
		{`kubernetes.audit.verb:"create"`, true},
		{`kubernetes.audit.verb:Create`, false}, // keywords are case-sensitive
		{`kubernetes.audit.verb:(get or create)`, true},
		{`kubernetes.audit.verb:(get or list)`, false},
		{`kubernetes.audit.verb:create and kubernetes.audit.objectRef.resource:pods`, true},
		{`kubernetes.audit.verb:get or kubernetes.audit.objectRef.resource:pods`, true},
		{`not kubernetes.audit.verb:get`, true},
		{`NOT kubernetes.audit.verb:create`, false},
		{`kubernetes.audit.verb:get or (kubernetes.audit.verb:create and not kubernetes.audit.objectRef.namespace:shop)`, false},
		{`kubernetes.audit.objectRef.subresource:*`, false},
		{`not kubernetes.audit.objectRef.subresource:*`, true},
		// Exists on an object field: some field under it has a value (Elasticsearch's exists on objects).
		{`kubernetes.audit.objectRef:*`, true},
		{`kubernetes.audit.user.extra:*`, true},
		{`kubernetes.audit.requestObject.spec.containers:*`, true},
		{`kubernetes.audit.responseObject:*`, false},
		// A number field compares as a number, as Elasticsearch's term query on an integer does.
		{`kubernetes.audit.responseStatus.code:201.0`, true},
		{`kubernetes.audit.responseStatus.code:"201"`, true},
		{`kubernetes.audit.responseStatus.code:2010`, false},
		{`user_agent.original:python*`, true},
		{`user_agent.original:*requests/2.*`, true},
		{`user_agent.original:"python*"`, false}, // a quoted * is a literal
		{`user_agent.original:(* and not python*)`, false},
		{`user.name:system\:serviceaccount\:*`, true},
		{`user.name:"system:serviceaccount:shop:web"`, true},
		{`kubernetes.audit.user.groups:system\:authenticated`, true}, // any value of an array
		{`kubernetes.audit.user.extra.authentication.kubernetes.io/pod-name :web-*`, true},
		{`kubernetes.audit.requestObject.spec.containers.securityContext.privileged:true`, true}, // arrays are transparent
		// image is a text field: a wildcard must match one of its words (nginx, 1.27; evil.io, miner)
		{`kubernetes.audit.requestObject.spec.containers.image:(docker.io/* or nginx\:*)`, false},
		{`kubernetes.audit.requestObject.spec.containers.image:(docker.io/* or evil.io or ngi*)`, true},
		{`kubernetes.audit.requestObject.spec.hostNetwork:true`, true},
		{`kubernetes.audit.requestObject.metadata.name:*`, false}, // the ingest pipeline removes it
		{`kubernetes.audit.annotations.authorization_k8s_io/decision:allow`, true},
		{`kubernetes.audit.annotations.mutation_webhook_admission_k8s_io/round_0_index_0:*`, true},
		{`event.outcome:success`, true},
		{`event.outcome:failure`, false},
		{`event.outcome:*`, true},
		{`event.action:create`, true},
		{`data_stream.dataset:kubernetes.audit_logs and event.kind:event`, true},
		{`data_stream.dataset:"kubernetes.audit_logs_other"`, false},
		{`not event.dataset:kubernetes.audit_logs`, false},
		{`source.ip:10.244.0.0/16`, true}, // CIDR on an ip field
		{`source.ip:192.168.0.0/16`, false},
		{`source.ip:(* and not "127.0.0.1")`, true},
		{`source.ip >= 9.0.0.0`, true}, // ip fields order addresses: 10.244.1.7 is above 9.0.0.0, though not as text
		{`source.ip < 9.0.0.0`, false},
		{`source.ip < "2001:db8::"`, true}, // every IPv4 address sorts below IPv6 ones
		{`source.ip > 10.244.1.7`, false},
		{`source.ip >= 10.244.1.7`, true},
		{`source.ip:"::ffff:10.244.1.7"`, true}, // an address equals its IPv4-mapped spelling on an ip field
		{`source.ip:10.244.1.70`, false},
		{`container.image.name:evil.io/miner`, true},
		{`kubernetes.audit.responseStatus.code >= 200 and kubernetes.audit.responseStatus.code < 300`, true},
		{`kubernetes.audit.responseStatus.code > 201`, false},
		{`kubernetes.audit.requestURI:/api/v1/namespaces/shop/pods`, true},
		{"user_agent.original:(\n  curl* or\n  python-requests/2.31.0\n)", true},
		{`user_agent.original:python\-requests/2.31.0`, false}, // \- is no escape in KQL: an error, tested below
		{``, true},
	}
	fm := defaultMap(t)
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			e, err := CompileKQL(tt.query, fm)
			if tt.query == `user_agent.original:python\-requests/2.31.0` {
				if err == nil {
					t.Fatal("want an invalid-escape error")
				}
				return
			}
			if err != nil {
				t.Fatalf("CompileKQL: %v", err)
			}
			if got := evalExpr(t, e, auditEvent); got != tt.want {
				t.Errorf("matched %v, want %v (expression %#v)", got, tt.want, e)
			}
		})
	}
}

func TestKQLUnquotedValuesWithSpaces(t *testing.T) {
	fm := defaultMap(t)
	// As in Kibana, an unquoted value runs to a keyword or a special character, and is trimmed.
	e, err := CompileKQL(`user_agent.original:python requests  or kubernetes.audit.verb:get`, fm)
	if err != nil {
		t.Fatal(err)
	}
	want := rule.Or{
		rule.Compare{Field: rule.Field{Name: "userAgent", AnyArray: true}, Value: rule.Pattern{Text: "python requests", CaseSensitive: true}},
		rule.Compare{Field: rule.Field{Name: "verb", AnyArray: true}, Value: rule.Pattern{Text: "get", CaseSensitive: true}},
	}
	if got, w := exprString(e), exprString(want); got != w {
		t.Errorf("got %s\nwant %s", got, w)
	}
}

func exprString(e rule.Expr) string {
	var b strings.Builder
	var walk func(rule.Expr)
	walk = func(e rule.Expr) {
		switch e := e.(type) {
		case rule.And:
			b.WriteString("and(")
			for _, x := range e {
				walk(x)
				b.WriteString(" ")
			}
			b.WriteString(")")
		case rule.Or:
			b.WriteString("or(")
			for _, x := range e {
				walk(x)
				b.WriteString(" ")
			}
			b.WriteString(")")
		case rule.Not:
			b.WriteString("not(")
			walk(e.X)
			b.WriteString(")")
		case rule.Compare:
			b.WriteString(e.Field.Name + e.Op.String() + e.Value.Text)
		case rule.Exists:
			b.WriteString(e.Field.Name + "=*")
		case rule.True:
			b.WriteString("true")
		}
	}
	walk(e)
	return b.String()
}

func TestKQLErrors(t *testing.T) {
	tests := []struct {
		query     string
		line, col int
		reason    string
	}{
		{`evil`, 1, 1, "free-text search"},
		{`kubernetes.audit.verb:get and `, 1, 31, "expected a field name"},
		{`kubernetes.audit.verb:(get or list`, 1, 23, "missing `)` for this `(`"},
		{"kubernetes.audit.verb:get and\n  (kubernetes.audit.verb:list", 2, 3, "missing `)` for this `(`"},
		{`kubernetes.audit.verb:"get`, 1, 23, "unterminated quoted string"},
		{`kubernetes.audit.*:get`, 1, 1, "wildcard field names"},
		{`host.name:web`, 1, 1, `field "host.name" is not in the Kubernetes audit event`},
		{`kubernetes.audit.objectRef:{resource:pods}`, 1, 28, "nested field queries"},
		{`kubernetes.audit.responseStatus.code > ab*`, 1, 40, "a range needs a plain value"},
		{`source.ip:10.0.0.0/33`, 1, 11, "invalid CIDR"},
		{`source.ip >= 10.0.0.0/8`, 1, 14, "a range on it needs an IP address"},
		{`kubernetes.audit.verb:get)`, 1, 26, "unexpected"},
		{`user_agent.original:a\`, 1, 22, "escapes nothing"},
		{strings.Repeat("(", maxDepth+5) + "kubernetes.audit.verb:get" + strings.Repeat(")", maxDepth+5), 1, 102, "nested too deeply"},
	}
	fm := defaultMap(t)
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			_, err := CompileKQL(tt.query, fm)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T %v, want *Error", err, err)
			}
			if e.Line != tt.line || e.Column != tt.col || !strings.Contains(e.Reason, tt.reason) {
				t.Errorf("got %d:%d %q, want %d:%d containing %q", e.Line, e.Column, e.Reason, tt.line, tt.col, tt.reason)
			}
		})
	}
}

// A range on an ip field mapped to a constant is decided at load as the engine decides it on a value: as addresses.
func TestKQLIPRangeOnConstant(t *testing.T) {
	fm, err := NewFieldMap(map[string]string{"source.ip": "=10.1.2.3"})
	if err != nil {
		t.Fatal(err)
	}
	for query, want := range map[string]bool{`source.ip >= 9.0.0.0`: true, `source.ip < 9.0.0.0`: false} {
		e, err := CompileKQL(query, fm)
		if err != nil {
			t.Fatal(err)
		}
		if got := isTrue(e); got != want {
			t.Errorf("%s: %s, want true=%v", query, exprString(e), want)
		}
	}
}
