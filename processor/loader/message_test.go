package loader

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	"gopkg.in/yaml.v3"
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

// TestUnfilledTokensOfTablesAndTime: a field a table (or fields) names that no row holds has no value in the risk
// row, as Splunk's table shows an empty column for it, so its token stays as written: said at load, with why. After a
// stats, no row holds a named field no stage sets; when the rows are the event, a named field is the event's, and the
// event must have it. $_time$ is filled when a command reads _time or a table names it; otherwise the warning says so
// (not that an audit event has no member _time, which is true but not the reason).
func TestUnfilledTokensOfTablesAndTime(t *testing.T) {
	event := "the event's fields"
	for _, tc := range []struct{ search, message, want string }{
		{"verb=create | stats count by user.username | table user.username b count", "$b$ by $user.username$",
			"r $b$ [user.username count] a table or fields names it, but no result row holds it (Splunk's table shows an empty column)"},
		{"verb=create | table user.username usr", "$usr$ by $user.username$",
			`r $usr$ [user.username usr] a table or fields names it, but an audit event has no member "usr"`},
		{"verb=create | fields user.username user", "$user$ by $user.username$",
			"r $user$ [" + event + " matching user.username user _*] user is an object"},
		{"verb=create | table user.username b | eval b=verb", "$b$ by $user.username$", ""},
		{"verb=create | table user.username b | rename verb as b", "$b$ by $user.username$", ""},
		{"verb=create | table user.username objectRef.name", "$objectRef.name$ by $user.username$", ""},
		{"verb=create", "$_time$ by $user.username$",
			"r $_time$ [" + event + "] _time (the event's time) is in a row only when a command reads it or a table or " +
				"fields names it, and no command of this search leaves it in the rows"},
		{"verb=create | eval t=_time | rename _time as at", "$_time$ by $user.username$", "r $_time$ [at t " + event + "] _time (the event's time)"},
		{"verb=create | where _time > 0", "$_time$ by $user.username$", ""},
		{"verb=create | table _time user.username", "$_time$ by $user.username$", ""},
		{"verb=create | stats count by user.username | table _time user.username count", "$_time$ by $user.username$",
			"r $_time$ [user.username count] a table or fields names it, but no result row holds it"},
	} {
		t.Run(tc.search, func(t *testing.T) {
			got := unfilledTokens(t, map[string]string{"r.yml": tokenDetection("r", tc.search, "user.username", tc.message)}, nil)
			if tc.want == "" {
				assert.Empty(t, got)
				return
			}
			require.Len(t, got, 1)
			assert.Contains(t, got[0], tc.want)
		})
	}
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

// TestOverrideMessageText: an override's message is refused, naming the rule's key, when the risk records could not
// show it as written: a control character but tab (a line break would make one risk message two lines), a line
// separator, invalid UTF-8, or more bytes than the RBA writer writes (rule.MaxMessageBytes, where it cuts every
// message). A tab, any other text, a message of exactly the bound and one ending in line breaks load.
func TestOverrideMessageText(t *testing.T) {
	dir := layout(t, map[string]string{
		"a.yml": tokenDetection("stats", "verb=create | stats count by user_name", "user_name", "$user$ created"),
	})
	load := func(msg string) error {
		_, err := Load(Options{Paths: []string{dir}, Overrides: map[string]Override{"stats": {Message: msg}}})
		return err
	}
	for msg, want := range map[string]string{
		"by $user_name$\nsecond line": "message holds U+000A, a control character or line break, at byte 15",
		"by $user_name$\r second":     "message holds U+000D",
		"\x1b[31mred\x1b[0m":          "message holds U+001B, a control character or line break, at byte 1",
		"by\x7f":                      "message holds U+007F",
		"by \u0085 $user_name$":       "message holds U+0085", // C1 next line
		"by \u2028 $user_name$":       "message holds U+2028",
		"by \xff":                     "message is not valid UTF-8 (byte 4)",
		strings.Repeat("x", 4097):     "message is 4097 bytes, over the 4096 a risk record holds",
		strings.Repeat("é", 2049):     "message is 4098 bytes, over the 4096",
	} {
		err := load(msg)
		require.Error(t, err, "%q", msg)
		assert.Contains(t, err.Error(), `rule_overrides "stats": `+want)
	}
	for _, msg := range []string{"by\t$user_name$", "créé par $user_name$ — 😀 \u200b", strings.Repeat("x", 4096),
		"by $user_name$\r\n"} { // line breaks at the end are YAML's, not the message's (TestOverrideMessageFromABlockScalar)
		assert.NoError(t, load(msg), "%q", msg)
	}
}

// TestOverrideMessageFromABlockScalar: a long message is naturally written as a YAML folded or literal block scalar
// (`message: >`), whose default chomping leaves a line break at its end: that break is no part of the message, which
// loads without it. A line break inside the message is refused.
func TestOverrideMessageFromABlockScalar(t *testing.T) {
	dir := layout(t, map[string]string{
		"a.yml": tokenDetection("stats", "verb=create | stats count by user_name", "user_name", "$user$ created"),
	})
	var cfg struct{ Message string }
	require.NoError(t, yaml.Unmarshal([]byte("message: >\n  created by\n  $user_name$\n"), &cfg))
	require.Equal(t, "created by $user_name$\n", cfg.Message)
	rules, err := Load(Options{Paths: []string{dir}, Overrides: map[string]Override{"stats": {Message: cfg.Message}}})
	require.NoError(t, err)
	require.Len(t, rules.Rules, 1)
	assert.Equal(t, "created by $user_name$", rules.Rules[0].Risk.Message)
	_, err = Load(Options{Paths: []string{dir}, Overrides: map[string]Override{"stats": {Message: "created\nby $user_name$"}}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `rule_overrides "stats": message holds U+000A, a control character or line break, at byte 8`)
}
