package loader

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// tokenDetection is an ESCU detection with the given search and message, whose risk object is the field user.
func tokenDetection(id, search, user, message string) string {
	return fmt.Sprintf("name: %s\nid: %s\nsearch: |-\n  %s\nrba:\n  message: '%s'\n  risk_objects:\n  - field: %s\n"+
		"    type: user\n    score: 10\n", id, id, search, message, user)
}

// unfilledTokens loads the detections and returns the loader's warnings about message tokens, one line each: rule,
// token, results and reason.
func unfilledTokens(t *testing.T, files map[string]string, overrides map[string]Override) []string {
	t.Helper()
	core, logs := observer.New(zapcore.WarnLevel)
	_, err := Load(Options{Paths: []string{layout(t, files)}, Logger: zap.New(core), Overrides: overrides})
	require.NoError(t, err)
	var out []string
	for _, e := range logs.FilterMessageSnippet("risk message names a field its results never hold").All() {
		ctx := e.ContextMap()
		out = append(out, fmt.Sprintf("%s %s %v %v", ctx["rule"], ctx["token"], ctx["results"], ctx["reason"]))
	}
	return out
}

// TestUnfilledTokensAreSaid: a message token no result row can fill is said at load, with the rule, the token and the
// fields the results have. Known results (a stats, a table) fill only their fields; the event fills the fields an
// audit event can have a value for (not the object user, not sourceIPs without {}), besides those the search's stages
// set (eval, rex, rename, fillnull, iplocation), less those it renamed or a projection left out. `$$` and names with
// a space are text, not tokens. The rule loads all the same.
func TestUnfilledTokensAreSaid(t *testing.T) {
	event := "the event's fields"
	got := unfilledTokens(t, map[string]string{
		"a.yml": tokenDetection("stats", "verb=create | stats count by user_name objectRef.name", "user_name",
			"$user$ created $objectRef.name$ $count$ times"),
		"b.yml": tokenDetection("renamed", "verb=create | stats count by user.username | rename user.username as user", "user",
			"$user$ ($user.username$)"),
		"c.yml": tokenDetection("event", "verb=create", "user.username",
			"$user$ $user.username$ $user.groups{}$ from $sourceIPs$ $sourceIPs{}$ in $requestObject.spec.type$ $usr$ $user$"),
		"d.yml": tokenDetection("stages", `verb=create | eval who='user.username' | rex field=userAgent "(?<client>[^/]+)" `+
			`| iplocation sourceIPs{} | fillnull value=none team | rename objectRef.name as object`, "who",
			"$who$ $client$ $Country$ $team$ $object$ $objectRef.name$ $zone$"),
		"e.yml": tokenDetection("table", "verb=create | table verb user.username", "user.username", "$verb$ by $user.username$ on $objectRef.name$"),
		"f.yml": tokenDetection("fields", "verb=create | fields - userAgent", "user.username", "$verb$ by $user.username$ with $userAgent$"),
		"g.yml": tokenDetection("text", "verb=create", "user.username", "costs $5 or $6, $$ and $first name$ by $user.username$"),
	}, nil)
	assert.Equal(t, []string{
		"stats $user$ [user_name objectRef.name count] <nil>",
		"renamed $user.username$ [user count] <nil>",
		"event $user$ [" + event + "] user is an object: its members have values, it has none (its members: username, uid, groups, extra)",
		"event $sourceIPs$ [" + event + "] sourceIPs is a list: Splunk names its values sourceIPs{}",
		`event $usr$ [` + event + `] an audit event has no member "usr" (its members: kind, apiVersion, level, auditID, stage, ` +
			`requestURI, verb, user, impersonatedUser, sourceIPs, userAgent, objectRef, responseStatus, requestObject, ` +
			`responseObject, requestReceivedTimestamp, stageTimestamp, annotations, metadata, timestamp)`,
		"stages $objectRef.name$ [who client City Country Region lat lon team object " + event + "] the search renames it",
		`stages $zone$ [who client City Country Region lat lon team object ` + event + `] an audit event has no member "zone" (its ` +
			`members: kind, apiVersion, level, auditID, stage, requestURI, verb, user, impersonatedUser, sourceIPs, userAgent, ` +
			`objectRef, responseStatus, requestObject, responseObject, requestReceivedTimestamp, stageTimestamp, annotations, ` +
			`metadata, timestamp)`,
		"table $objectRef.name$ [verb user.username] <nil>",
		"fields $userAgent$ [" + event + " but userAgent] a table or fields leaves it out",
	}, got)
}

// TestOverrideMessage: rule_overrides message replaces a rule's risk message, of any format; its tokens are checked
// as a detection's own are, and the message it replaces is not (a broken upstream message is mended this way). A
// blank one is refused.
func TestOverrideMessage(t *testing.T) {
	files := map[string]string{
		"a.yml": tokenDetection("stats", "verb=create | stats count by user_name", "user_name", "$user$ created"),
	}
	got := unfilledTokens(t, files, map[string]Override{"stats": {Message: "$user_name$ created $count$ in $namespace$"}})
	assert.Equal(t, []string{"stats $namespace$ [user_name count] <nil>"}, got)

	res, err := Load(Options{Paths: []string{layout(t, files)}, Overrides: map[string]Override{"stats": {Message: "by $user_name$"}}})
	require.NoError(t, err)
	assert.Equal(t, "by $user_name$", res.Rules[0].Risk.Message)

	// Any format's rule takes one, checked against the fields its own stages set: a Sigma rule's src_ip, an Elastic
	// new_terms rule's new_terms.
	got = unfilledTokens(t, map[string]string{
		"s.yml": sigmaDoc("Sigma Rule", "kubernetes", "{verb: delete}"),
		"n.toml": elasticDoc("New Terms", "new_terms", "kubernetes.audit.verb:get") + "[rule.new_terms]\nfield = " +
			"\"new_terms_fields\"\nvalue = [\"user.name\"]\n[[rule.new_terms.history_window_start]]\nfield = " +
			"\"history_window_start\"\nvalue = \"now-7d\"\n",
	}, map[string]Override{
		"Sigma Rule": {Message: "$user.username$ from $src_ip$ as $user.name$"},
		"New Terms":  {Message: "$user.username$: $new_terms$"},
	})
	assert.Equal(t, []string{`Sigma Rule $user.name$ [src_ip severity the event's fields] user has no member "name" (its members: username, uid, groups, extra)`}, got)

	_, err = Load(Options{Paths: []string{layout(t, files)}, Overrides: map[string]Override{"stats": {Message: "  "}}})
	require.EqualError(t, err, `rule_overrides "stats": message is blank: its risk records would say nothing (leave it out to keep the rule's own)`)
}
