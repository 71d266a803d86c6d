package elastic

import (
	"errors"
	"strings"
	"testing"

	"github.com/auditdetect/auditdetect/processor/engine"
	"github.com/auditdetect/auditdetect/processor/rule"
)

// forbiddenEvent is a refused request by a client that sent an empty User-Agent, with values of the integration's
// text fields.
const forbiddenEvent = `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","stage":"ResponseComplete",
"verb":"list","requestURI":"/api/v1/namespaces/shop/secrets",
"user":{"username":"","uid":"","groups":["System:Masters","system:authenticated"]},
"impersonatedUser":{"username":"bob","groups":["team-a"]},
"sourceIPs":["10.244.1.7"],"userAgent":"",
"objectRef":{"resource":"secrets","namespace":"shop","apiVersion":"v1"},
"responseStatus":{"code":403,"status":"Failure","reason":"Forbidden",
"message":"secrets is forbidden: User \"bob\" cannot list resource \"secrets\" in API group \"\" in the namespace \"shop\""},
"requestObject":{"spec":{"containers":[{"image":"docker.elastic.co/beats/elastic-agent:8.4.0"}],
"volumes":[{"name":"sock","hostPath":{"path":"/var/run/docker.sock"}}]}},
"annotations":{"authorization.k8s.io/decision":"forbid","authorization.k8s.io/reason":"RBAC: no binding for User bob"}}`

// Elasticsearch analyses the integration's text fields (fields.yml: user.groups, impersonatedUser.groups,
// sourceIPs, responseStatus.message, annotations.authorization_k8s_io/reason, requestObject.spec.containers.image)
// and the query's values alike; every other field is compared whole.
func TestKQLTextFields(t *testing.T) {
	tests := []struct {
		query string
		want  bool
	}{
		{`kubernetes.audit.responseStatus.message:forbidden`, true}, // a word of the message
		{`kubernetes.audit.responseStatus.message:FORBIDDEN`, true},
		{`kubernetes.audit.responseStatus.message:"is forbidden"`, true}, // a phrase: words in a row
		{`kubernetes.audit.responseStatus.message:"forbidden is"`, false},
		{`kubernetes.audit.responseStatus.message:"User \"bob\" cannot list"`, true},
		{`kubernetes.audit.responseStatus.message:nothing forbidden`, true}, // unquoted: any one word (match)
		{`kubernetes.audit.responseStatus.message:(nothing or nowhere)`, false},
		{`kubernetes.audit.responseStatus.message:forbid*`, true}, // a wildcard matches one word
		{`kubernetes.audit.responseStatus.message:*forbidden\:*`, false},
		{`kubernetes.audit.responseStatus.message:secrets*is*`, false},
		{`kubernetes.audit.responseStatus.message:nothing forb*`, true}, // query_string: each part on its own
		{`kubernetes.audit.responseStatus.message:"secrets is forbidden: User \"bob\" cannot list resource \"secrets\" in API group \"\" in the namespace \"shop\""`, true},
		{`kubernetes.audit.responseStatus.message:""`, false}, // no words: nothing matches
		{`kubernetes.audit.responseStatus.message:*`, true},
		{`kubernetes.audit.responseStatus.message:nothing *`, true}, // a lone * part: the field exists
		{`kubernetes.audit.user.groups:"system:masters"`, true},     // case-insensitive
		{`kubernetes.audit.user.groups:system\:Masters`, true},
		{`kubernetes.audit.user.groups:system`, false}, // system:masters is one word
		{`not kubernetes.audit.user.groups:"system:masters"`, false},
		{`kubernetes.audit.impersonatedUser.groups:team`, true},
		{`kubernetes.audit.sourceIPs:10.244.1.7`, true},
		{`kubernetes.audit.sourceIPs:10.244.*`, true},
		{`kubernetes.audit.annotations.authorization_k8s_io/reason:"no binding"`, true},
		{`kubernetes.audit.annotations.authorization_k8s_io/decision:FORBID`, false}, // a keyword
		{`kubernetes.audit.requestObject.spec.containers.image:"docker.elastic.co/beats/elastic-agent:8.4.0"`, true},
		{`kubernetes.audit.requestObject.spec.containers.image:"elastic agent"`, true},
		{`kubernetes.audit.requestObject.spec.containers.image:docker.elastic.co/beats/elastic-agent*`, false},
		{`kubernetes.audit.requestObject.spec.containers.image:*elastic-agent*`, false},
		{`kubernetes.audit.requestObject.spec.containers.image:(beats or nothing)`, true},
		{`kubernetes.audit.requestObject.spec.containers.image:""`, false},
		// Flattened in the integration (volumes.hostPath): each leaf is a keyword, compared whole.
		{`kubernetes.audit.requestObject.spec.volumes.hostPath.path:"/var/run/docker.sock"`, true},
		{`kubernetes.audit.requestObject.spec.volumes.hostPath.path:"/var/run"`, false},
		{`kubernetes.audit.requestObject.spec.volumes.hostPath.path:"/"`, false},
		// ECS fields are keywords, whatever the audit field they come from.
		{`kubernetes.audit.responseStatus.reason:forbidden`, false},
		{`source.ip:10.244.1.7`, true},
	}
	fm := defaultMap(t)
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			e, err := CompileKQL(tt.query, fm)
			if err != nil {
				t.Fatalf("CompileKQL: %v", err)
			}
			if got := evalExpr(t, e, forbiddenEvent); got != tt.want {
				t.Errorf("matched %v, want %v (expression %s)", got, tt.want, exprString(e))
			}
		})
	}
}

// An elastic_field_map entry may give a field the type its index really has.
func TestFieldTypeOverride(t *testing.T) {
	const query = `kubernetes.audit.requestObject.spec.containers.image:docker.elastic.co/beats/elastic-agent*`
	for _, tt := range []struct {
		overrides map[string]string
		want      bool
	}{
		{nil, false},
		{map[string]string{"kubernetes.audit.requestObject.spec.containers.image": "requestObject.spec.containers.image|keyword"}, true},
		{map[string]string{"kubernetes.audit.requestObject.*": "requestObject.*|keyword"}, true},
	} {
		fm, err := NewFieldMap(tt.overrides)
		if err != nil {
			t.Fatal(err)
		}
		e, err := CompileKQL(query, fm)
		if err != nil {
			t.Fatal(err)
		}
		if got := evalExpr(t, e, forbiddenEvent); got != tt.want {
			t.Errorf("%v: matched %v, want %v", tt.overrides, got, tt.want)
		}
	}
	fm, err := NewFieldMap(map[string]string{"kubernetes.audit.verb": "verb|text"})
	if err != nil {
		t.Fatal(err)
	}
	if e, err := CompileKQL(`kubernetes.audit.verb:LIST`, fm); err != nil || !evalExpr(t, e, forbiddenEvent) {
		t.Errorf("verb|text: %v, or no match", err)
	}
	if _, err := NewFieldMap(map[string]string{"user.name": "user.username|txt"}); err == nil {
		t.Error("a part that is no translation nor type was accepted")
	}
}

func TestTextFieldErrors(t *testing.T) {
	fm := defaultMap(t)
	for _, tt := range []struct {
		query, reason string
		eql           bool
	}{
		{`kubernetes.audit.sourceIPs > 10`, "a range on kubernetes.audit.sourceIPs is not supported", false},
		{`any where kubernetes.audit.user.groups == "system:masters"`, "text field", true},
		{`any where kubernetes.audit.user.groups != "system:masters"`, "text field", true},
		{`any where kubernetes.audit.user.groups : "system:*"`, "text field", true},
		{`any where kubernetes.audit.responseStatus.message like~ "*forbidden*"`, "text field", true},
		{`any where stringContains(kubernetes.audit.responseStatus.message, "forbidden")`, "text field", true},
		{`any where kubernetes.audit.sourceIPs in ("10.0.0.1")`, "text field", true},
		{`any where kubernetes.audit.user.groups == kubernetes.audit.impersonatedUser.groups`, "text field", true},
		{`any where kubernetes.audit.sourceIPs`, "text field", true},
	} {
		var err error
		if tt.eql {
			_, err = CompileEQL(tt.query, fm)
		} else {
			_, err = CompileKQL(tt.query, fm)
		}
		var e *Error
		if !errors.As(err, &e) || !strings.Contains(e.Reason, tt.reason) {
			t.Errorf("%s: error %v, want it to say %q", tt.query, err, tt.reason)
		}
	}
	// A null test reads no value: it runs.
	for query, want := range map[string]bool{
		`any where kubernetes.audit.user.groups != null`:            true,
		`any where kubernetes.audit.responseStatus.message == null`: false,
	} {
		e, err := CompileEQL(query, fm)
		if err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		if got := evalExpr(t, e, forbiddenEvent); got != want {
			t.Errorf("%s: matched %v, want %v", query, got, want)
		}
	}
}

// The pipeline copies user.name, user.id, user_agent.original and event.action with ignore_empty_value: an empty
// source leaves them unset.
func TestEmptyValuesAreAbsent(t *testing.T) {
	fm := defaultMap(t)
	tests := []struct {
		query string
		eql   bool
		want  bool
	}{
		{`user_agent.original:*`, false, false},
		{`not user_agent.original:*`, false, true},
		{`user_agent.original:""`, false, false},
		{`user_agent.original:(* and not (*kubernetes/$Format))`, false, false},
		{`user.name:*`, false, false},
		{`user.id:*`, false, false},
		{`kubernetes.audit.userAgent:*`, false, true}, // the raw field keeps its empty value
		{`kubernetes.audit.user.username:""`, false, true},
		{`user_agent.original < "a"`, false, false},
		{`any where user_agent.original == null`, true, true},
		{`any where user_agent.original == ""`, true, false},
		{`any where user_agent.original != "curl"`, true, true}, // absent, and != matches a missing field
		{`any where user_agent.original like "*"`, true, false},
		{`any where user.name == user_agent.original`, true, false},
		{`any where user.name == kubernetes.audit.userAgent`, true, false},
		{`any where kubernetes.audit.user.username == kubernetes.audit.userAgent`, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			var e rule.Expr
			var err error
			if tt.eql {
				e, err = CompileEQL(tt.query, fm)
			} else {
				e, err = CompileKQL(tt.query, fm)
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := evalExpr(t, e, forbiddenEvent); got != tt.want {
				t.Errorf("matched %v, want %v (expression %s)", got, tt.want, exprString(e))
			}
		})
	}
	// A constant mapped to "" is no value either.
	fm, err := NewFieldMap(map[string]string{"user.name": "="})
	if err != nil {
		t.Fatal(err)
	}
	if e, _ := CompileKQL(`user.name:*`, fm); !isFalse(e) {
		t.Errorf("user.name mapped to the constant \"\": %s", exprString(e))
	}
}

// A new_terms field the pipeline leaves unset makes no combination: the event neither passes nor enters the history.
func TestNewTermsEmptyValue(t *testing.T) {
	toml := ruleTOML("new_terms", "", "kubernetes.audit.verb:list") + `[rule.new_terms]
field = "new_terms_fields"
value = ["user.name"]
[[rule.new_terms.history_window_start]]
field = "history_window_start"
value = "now-7d"
`
	r, err := Parse("x.toml", []byte(toml), nil)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.Compile([]*rule.Rule{r}, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i, tt := range []struct {
		event string
		want  int
	}{
		{forbiddenEvent, 0}, // user.username "": no user.name
		{strings.Replace(forbiddenEvent, `"username":""`, `"username":"alice"`, 1), 1},
	} {
		ms, err := eng.Match([]byte(tt.event))
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) != tt.want {
			t.Errorf("event %d: %d results, want %d", i, len(ms), tt.want)
		}
	}
	// new_terms aggregates: Elastic cannot use a text field.
	_, err = Parse("x.toml", []byte(strings.Replace(toml, `["user.name"]`, `["kubernetes.audit.user.groups"]`, 1)), nil)
	if err == nil || !strings.Contains(err.Error(), "text field") {
		t.Errorf("new_terms on a text field: %v", err)
	}
}

// A rule whose index patterns cannot name the integration's data streams is for other data, and is reported.
func TestRuleIndex(t *testing.T) {
	toml := ruleTOML("query", "INDEX", "source.ip:*")
	for _, tt := range []struct {
		index string
		ok    bool
	}{
		{``, true},
		{`index = []`, true},
		{`index = ["logs-kubernetes.audit_logs-*"]`, true},
		{`index = ["logs-kubernetes.audit_logs-default"]`, true},
		{`index = ["logs-kubernetes.*"]`, true},
		{`index = ["logs-*"]`, true},
		{`index = ["*"]`, true},
		{`index = ["logs-*-default"]`, true},
		{`index = ["filebeat-*", "logs-*"]`, true},
		{`index = ["remote:logs-kubernetes.audit_logs-*"]`, true},
		{`index = [".ds-logs-kubernetes.audit_logs-*"]`, true},
		{`index = ["<logs-kubernetes.audit_logs-{now/d}>"]`, true},
		{`index = ["<logs-kubernetes.audit_logs-{now/d{yyyy.MM.dd|+12:00}}>"]`, true}, // a : in the time zone
		{`index = ["logs-aws*,logs-kubernetes*"]`, true},                              // two patterns in one element
		{`index = ["logs-aws*,logs-gcp*"]`, false},
		{`index = ["logs-aws.cloudtrail-*"]`, false},
		{`index = ["filebeat-*", "logs-endpoint.events.*", "winlogbeat-*"]`, false},
		{`index = ["logs-kubernetes.audit-*"]`, false},
		{`index = ["logs-kubernetes.audit_logs-"]`, false},
		{`index = ["-logs-kubernetes.audit_logs-*", "metrics-*"]`, false},
	} {
		_, err := Parse("x.toml", []byte(strings.Replace(toml, "INDEX", tt.index, 1)), nil)
		if ok := err == nil; ok != tt.ok {
			t.Errorf("%s: error %v, want ok %v", tt.index, err, tt.ok)
		}
		var re *rule.Error
		if err != nil && (!errors.As(err, &re) || re.Rule != "x" || !strings.Contains(re.Reason, "cannot hold Kubernetes audit logs")) {
			t.Errorf("%s: %v", tt.index, err)
		}
	}
}

// ruleTOML is a rule file of the given type with a KQL query, lines before the query, and no sub-tables.
func ruleTOML(typ, lines, query string) string {
	return "[rule]\nname = \"x\"\nrule_id = \"x\"\ntype = \"" + typ + "\"\nlanguage = \"kuery\"\nseverity = \"low\"\n" +
		lines + "\nquery = '" + query + "'\n"
}
