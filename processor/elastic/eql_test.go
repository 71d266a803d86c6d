package elastic

import (
	"errors"
	"strings"
	"testing"
)

func TestEQLSemantics(t *testing.T) {
	tests := []struct {
		query string
		want  bool
	}{
		{`any where kubernetes.audit.verb == "create"`, true},
		{`any where kubernetes.audit.verb == "Create"`, false}, // == is case-sensitive
		{`any where kubernetes.audit.verb : "CREATE"`, true},   // : is not
		{`any where kubernetes.audit.verb != "get"`, true},
		// A missing field matches != (Elasticsearch: must_not of a term query), as it matches not in.
		{`any where kubernetes.audit.objectRef.subresource != "exec"`, true},
		{`any where kubernetes.audit.objectRef.subresource not in ("exec")`, true},
		{`any where kubernetes.audit.responseStatus.code == 201.0`, true},
		{`any where kubernetes.audit.responseStatus.code in (200, 201)`, true},
		{`any where kubernetes.audit.objectRef.subresource == null`, true},
		{`any where kubernetes.audit.objectRef.resource != null`, true},
		{`any where kubernetes.audit.verb in ("get", "create")`, true},
		{`any where kubernetes.audit.verb in ("GET", "CREATE")`, false},
		{`any where kubernetes.audit.verb in~ ("GET", "CREATE")`, true},
		{`any where kubernetes.audit.verb not in ("get", "list")`, true},
		{`any where kubernetes.audit.requestURI like "/api/v1/namespaces/*/pods"`, true},
		{`any where kubernetes.audit.requestURI like ("/apis/*", "/api/v?/namespaces/shop/*")`, true},
		{`any where kubernetes.audit.requestURI like "/API/*"`, false},
		{`any where kubernetes.audit.requestURI like~ "/API/*"`, true},
		{`any where kubernetes.audit.user.username regex "system:serviceaccount:[a-z]+:web"`, true},
		{`any where kubernetes.audit.user.username regex "serviceaccount"`, false}, // regex matches the whole value
		// Lucene's syntax: @ is any string, "..." a literal, ^ an ordinary character.
		{`any where kubernetes.audit.user.username regex "system@"`, true},
		{`any where kubernetes.audit.user.username regex "\"system:serviceaccount:\"@"`, true},
		{`any where kubernetes.audit.user.username regex "^system.*"`, false},
		{`any where kubernetes.audit.user.username regex~ "SYSTEM:.*"`, true},
		{`any where startsWith(user_agent.original, "python")`, true},
		{`any where startsWith(user_agent.original, "PYTHON")`, false},
		{`any where startsWith~(user_agent.original, "PYTHON")`, true},
		{`any where endsWith(kubernetes.audit.requestURI, "/pods")`, true},
		{`any where stringContains(user_agent.original, "requests")`, true},
		{`any where cidrMatch(source.ip, "10.244.0.0/16", "192.168.0.0/16")`, true},
		{`any where kubernetes.audit.responseStatus.code >= 200 and kubernetes.audit.responseStatus.code < 300`, true},
		{`any where 300 > kubernetes.audit.responseStatus.code`, true},
		{`any where source.ip > "9.0.0.0"`, true}, // as addresses, not as text
		{`any where source.ip <= "9.0.0.0"`, false},
		{`any where "9.0.0.0" < source.ip`, true},
		{`any where source.ip == "::ffff:10.244.1.7"`, true}, // equal as addresses, on an ip field
		{`any where source.ip != "::ffff:10.244.1.7"`, false},
		{`any where source.ip == "10.244.0.0/16"`, true}, // an ip field's term query takes a range
		{`any where source.ip in ("192.168.0.0/16", "10.0.0.0/8")`, true},
		{`any where source.ip == "192.168.0.0/16"`, false},
		{`any where source.ip in ("1.2.3.4", "::FFFF:10.244.1.7")`, true},
		{`any where kubernetes.audit.requestObject.spec.hostNetwork == true`, true},
		{`any where kubernetes.audit.requestObject.spec.hostNetwork`, true},
		{"any where `kubernetes.audit.annotations.authorization_k8s_io/decision` == \"allow\"", true},
		{`any where not (kubernetes.audit.verb == "get" or kubernetes.audit.verb == "list")`, true},
		{`any where kubernetes.audit.user.username == user.name`, true},
		{`any where kubernetes.audit.objectRef.name == kubernetes.audit.objectRef.namespace`, false},
		{"any where /* a comment */ kubernetes.audit.verb == \"create\" // and another\n", true},
		{`any where data_stream.dataset == "kubernetes.audit_logs"`, true},
		{`any where kubernetes.audit.verb == """create"""`, true},
		{`process where kubernetes.audit.verb == "create"`, false}, // event.category is absent in audit events
		{`any where kubernetes.audit.verb == "\u{63}reate"`, true}, // Elasticsearch's \u{XXXX} escapes, 2 to 8 digits
		{`any where kubernetes.audit.verb == "\u{00000063}r\u{65}ate"`, true},
		{`any where kubernetes.audit.verb == "\u{1F600}"`, false},
		{`any where ?kubernetes.audit.verb == "create"`, true}, // an optional field is the field
		{"any where ?`kubernetes.audit.annotations.authorization_k8s_io/decision` == \"allow\"", true},
		{`any where ?kubernetes.audit.objectRef.subresource == null`, true},
		{`any where ?host.name == null`, true}, // unmapped: null, as a field the index lacks
		{`any where ?host.name == "web"`, false},
		{`any where ?host.name != "web"`, true},
		{`any where true`, true},
		{`any where false`, false},
		{`any where kubernetes.audit.verb == "create" and TRUE`, true},
		{`any where kubernetes.audit.verb == "create" and not true`, false},
		{`any where false or kubernetes.audit.verb == "create"`, true},
	}
	fm := defaultMap(t)
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			e, err := CompileEQL(tt.query, fm)
			if err != nil {
				t.Fatalf("CompileEQL: %v", err)
			}
			if got := evalExpr(t, e, auditEvent); got != tt.want {
				t.Errorf("matched %v, want %v (expression %s)", got, tt.want, exprString(e))
			}
		})
	}
}

func TestEQLCategory(t *testing.T) {
	fm, err := NewFieldMap(map[string]string{"event.category": "=configuration"})
	if err != nil {
		t.Fatal(err)
	}
	for query, want := range map[string]bool{
		`configuration where kubernetes.audit.verb == "create"`: true,
		`process where kubernetes.audit.verb == "create"`:       false,
	} {
		e, err := CompileEQL(query, fm)
		if err != nil {
			t.Fatal(err)
		}
		if got := evalExpr(t, e, auditEvent); got != want {
			t.Errorf("%s: matched %v, want %v", query, got, want)
		}
	}
}

func TestEQLErrors(t *testing.T) {
	tests := []struct {
		query     string
		line, col int
		reason    string
	}{
		{"sequence by user.name with maxspan=5m\n  [any where true]\n  [any where true]", 1, 1, "EQL sequence queries cannot run per event"},
		{"/* lead */ sample by host.name [any where true]", 1, 12, "EQL sample queries cannot run per event"},
		{`any where kubernetes.audit.verb == "get" | head 5`, 1, 42, "EQL pipes"},
		{`any kubernetes.audit.verb == "get"`, 1, 5, "expected `where`"},
		{`any where kubernetes.audit.verb = "get"`, 1, 33, "use `==`"},
		{`any where kubernetes.audit.verb == 'get'`, 1, 36, "double quotes"},
		{`any where kubernetes.audit.verb == "get`, 1, 36, "unterminated string"},
		{`any where kubernetes.audit.verb in "get"`, 1, 36, "parenthesised list"},
		{`any where length(kubernetes.audit.verb) > 3`, 1, 11, "function length is not supported"},
		{`any where kubernetes.audit.verb regex "(("`, 1, 39, "invalid regular expression"},
		{`any where host.name == "x"`, 1, 11, `field "host.name" is not in the Kubernetes audit event`},
		{`any where "a" == "b"`, 1, 11, "field on one side"},
		{`any where "true"`, 1, 11, `"true" is not a condition`},
		{`any where ? kubernetes.audit.verb == "get"`, 1, 11, "`?` must be followed by a field name"},
		{`any where startsWith(user_agent.original, "python", "curl")`, 1, 11, "startsWith takes two arguments"},
		{`any where endsWith~(user_agent.original)`, 1, 11, "endsWith~ takes two arguments"},
		{`any where stringContains("python", user_agent.original)`, 1, 11, "stringContains takes two arguments"},
		{`any where cidrMatch(source.ip)`, 1, 11, "cidrMatch needs a field and at least one network"},
		{"any where ?`kubernetes.audit.verb == \"get\"", 1, 12, "unterminated backquoted field name"},
		{`any where kubernetes.audit.verb == "x\u{6}"`, 1, 38, "2 to 8 hex digits"},
		{`any where kubernetes.audit.verb == "\u{D800}"`, 1, 37, "a surrogate"},
		{`any where kubernetes.audit.verb == "\u{110000}"`, 1, 37, "invalid character code"},
		{`any where kubernetes.audit.verb == "\u0063"`, 1, 37, `\u{XXXX}`},
		{`any where kubernetes.audit.verb == "\u{63"`, 1, 37, `\u{XXXX}`},
		{`any where kubernetes.audit.verb == "\q"`, 1, 37, `unknown escape \q`},
		{`any where 1`, 1, 11, `"1" is not a condition`},
		{"any where\n  (kubernetes.audit.verb == \"get\"", 2, 3, "missing `)` for this `(`"},
		{`any where kubernetes.audit.verb < null`, 1, 35, "null can only be compared"},
		{`any where source.ip > "abc"`, 1, 23, "a range on it needs an IP address"},
	}
	fm := defaultMap(t)
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			_, err := CompileEQL(tt.query, fm)
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

// EQL's regex is Lucene's, whose `.` matches any character, a newline too; the whole value must match.
func TestEQLRegexDotMatchesNewline(t *testing.T) {
	const event = `{"kind":"Event","verb":"create","userAgent":"line one\nline two"}`
	for query, want := range map[string]bool{
		`any where user_agent.original regex "line.*two"`:  true,
		`any where user_agent.original regex~ "LINE.*TWO"`: true,
		`any where user_agent.original regex "line one"`:   false,
	} {
		e, err := CompileEQL(query, defaultMap(t))
		if err != nil {
			t.Fatal(err)
		}
		if got := evalExpr(t, e, event); got != want {
			t.Errorf("%s: matched %v, want %v", query, got, want)
		}
	}
}
