package lint_test

import (
	"testing"

	"github.com/auditdetect/auditdetect/processor/engine"
	"github.com/auditdetect/auditdetect/processor/lint"
	"github.com/auditdetect/auditdetect/processor/rule"
)

// full are events with every member the schema knows set (audit.k8s.io/v1, and v1beta1 for metadata and timestamp).
var full = [][]byte{
	[]byte(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"a-1","stage":"ResponseComplete",` +
		`"requestURI":"/api/v1/namespaces/x/pods","verb":"create",` +
		`"user":{"username":"alice","uid":"u-1","groups":["dev","system:authenticated"],"extra":{"scopes":["s"]}},` +
		`"impersonatedUser":{"username":"bob","uid":"u-2","groups":["ops"],"extra":{"k":["v"]}},` +
		`"sourceIPs":["10.0.0.1","10.0.0.2"],"userAgent":"kubectl",` +
		`"objectRef":{"resource":"pods","namespace":"x","name":"p","uid":"o-1","apiGroup":"apps","apiVersion":"v1","resourceVersion":"7","subresource":"exec"},` +
		`"responseStatus":{"kind":"Status","apiVersion":"v1","metadata":{"continue":"c"},"status":"Failure","message":"m","reason":"Forbidden","details":{"name":"p"},"code":403},` +
		`"requestObject":{"spec":{"type":"NodePort","containers":[{"image":"nginx"}]}},"responseObject":{"kind":"Pod"},` +
		`"requestReceivedTimestamp":"2024-01-01T00:00:00Z","stageTimestamp":"2024-01-01T00:00:01Z",` +
		`"annotations":{"authorization.k8s.io/decision":"allow"}}`),
	[]byte(`{"kind":"Event","apiVersion":"audit.k8s.io/v1beta1","metadata":{"creationTimestamp":"2018-10-01T00:00:00Z"},` +
		`"timestamp":"2018-10-01T00:00:00Z","verb":"get"}`),
}

// TestNoValueAgreesWithTheEngine: a field NoValue says no event gives a value has none on events that set every
// member; every other one has one there. The engine reads a row's fields as Splunk paths: objects have no value of
// their own, a list's values are named with {}.
func TestNoValueAgreesWithTheEngine(t *testing.T) {
	for _, tt := range []struct {
		name string
		why  string // "" when some event gives it a value
	}{
		{"verb", ""},
		{"user.username", ""},
		{"user.groups{}", ""},
		{"user.extra.scopes{}", ""},
		{"impersonatedUser.groups{}", ""},
		{"sourceIPs{}", ""},
		{"objectRef.subresource", ""},
		{"responseStatus.code", ""},
		{"responseStatus.details.name", ""},
		{"requestObject.spec.type", ""},
		{"requestObject.spec.containers{}.image", ""},
		{"annotations.authorization.k8s.io/decision", ""},
		{"metadata.creationTimestamp", ""},
		{"timestamp", ""},
		{"user", "user is an object: its members have values, it has none (its members: username, uid, groups, extra)"},
		{"objectRef", "objectRef is an object: its members have values, it has none (its members: resource, namespace, name, uid, apiGroup, apiVersion, resourceVersion, subresource)"},
		{"objectRef{}", "objectRef is an object, not a list: name a member (objectRef.<member>) without {}"},
		{"requestObject", "requestObject is an object: its members have values, it has none (name one: requestObject.<key>)"},
		{"annotations", "annotations is an object: its members have values, it has none (name one: annotations.<key>)"},
		{"user.extra", "user.extra is an object: its members have values, it has none (name one: user.extra.<key>)"},
		{"sourceIPs", "sourceIPs is a list: Splunk names its values sourceIPs{}"},
		{"user.groups", "user.groups is a list: Splunk names its values user.groups{}"},
		{"sourceIPs{}.x", "sourceIPs{} are strings: nothing is below them"},
		{"user.username{}", "user.username is a string or number, not a list: name it without {}"},
		{"objectRef.name.x", "objectRef.name is a string or number: nothing is below it"},
		{"user.name", `user has no member "name" (its members: username, uid, groups, extra)`},
		{"src_ip", `an audit event has no member "src_ip" (its members: kind, apiVersion, level, auditID, stage, requestURI, verb, user, impersonatedUser, sourceIPs, userAgent, objectRef, responseStatus, requestObject, responseObject, requestReceivedTimestamp, stageTimestamp, annotations, metadata, timestamp)`},
		{"Verb", `an audit event has no member "Verb" (its members: kind, apiVersion, level, auditID, stage, requestURI, verb, user, impersonatedUser, sourceIPs, userAgent, objectRef, responseStatus, requestObject, responseObject, requestReceivedTimestamp, stageTimestamp, annotations, metadata, timestamp)`},
	} {
		why, no := lint.NoValue(tt.name)
		if why != tt.why || no != (tt.why != "") {
			t.Errorf("NoValue(%q) = %q, %v; want %q", tt.name, why, no, tt.why)
		}
		if has := engineFills(t, tt.name); has == no {
			t.Errorf("%s: NoValue says no value: %v, the engine filled it: %v", tt.name, no, has)
		}
	}
}

// engineFills reports whether a rule whose rows are the event has a value for name on one of the full events.
func engineFills(t *testing.T, name string) bool {
	t.Helper()
	r := &rule.Rule{ID: "r", Name: "r", Filter: rule.True{}, Risk: rule.Risk{Message: "$" + name + "$"}}
	e, err := engine.Compile([]*rule.Rule{r}, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range full {
		res, err := e.Evaluate(ev)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range res.Matches {
			for _, row := range m.Rows {
				if len(row.Values(name)) > 0 {
					return true
				}
			}
		}
	}
	return false
}
