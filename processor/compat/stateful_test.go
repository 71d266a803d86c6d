package compat

import (
	"bytes"
	"fmt"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/auditdetect/auditdetect/processor/auditgen"
	"github.com/auditdetect/auditdetect/processor/builtin"
	"github.com/auditdetect/auditdetect/processor/engine"
	"github.com/auditdetect/auditdetect/processor/loader"
	"github.com/auditdetect/auditdetect/processor/rba"
	"github.com/auditdetect/auditdetect/processor/rule"
)

// The ESCU v4 detections that only mean something with state or GeoIP: the four secret-abuse detections (allow-list
// macros from the corpus, iplocation against a generated City database) and the two scanning detections (stats over
// a window, where count > 5). Each case says what the scheduled search would return in Splunk over the same events.

const (
	unusualLocation  = "Kubernetes Abuse of Secret by Unusual Location"
	unusualUserAgent = "Kubernetes Abuse of Secret by Unusual User Agent"
	unusualUserGroup = "Kubernetes Abuse of Secret by Unusual User Group"
	unusualUserName  = "Kubernetes Abuse of Secret by Unusual User Name"
	accessScanning   = "Kubernetes Access Scanning"
	unauthScanning   = "Kubernetes Scanning by Unauthenticated IP Address"
)

// secretRead is a secret read that every allow-list macro of the corpus allows (user admin in group admin, Helm's
// user agent, an address in the United States), with one field changed by edit.
func secretRead(edit func(*secretEvent)) []byte {
	e := secretEvent{verb: "get", user: "admin", groups: []string{"admin"}, agent: "Helm/3.13.2", ip: "198.51.100.7"}
	if edit != nil {
		edit(&e)
	}
	groups := `"` + strings.Join(e.groups, `","`) + `"`
	return []byte(fmt.Sprintf(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"s-1","stage":"ResponseComplete",`+
		`"requestURI":"/api/v1/namespaces/shop/secrets/db-password","verb":%q,"user":{"username":%q,"uid":"u-1","groups":[%s]},`+
		`"sourceIPs":[%q],"userAgent":%q,"objectRef":{"resource":"secrets","namespace":"shop","name":"db-password","apiVersion":"v1"},`+
		`"responseStatus":{"metadata":{},"code":200},"requestReceivedTimestamp":"2026-10-01T08:00:00.000000Z","stageTimestamp":"2026-10-01T08:00:00.004000Z"}`,
		e.verb, e.user, groups, e.ip, e.agent))
}

type secretEvent struct {
	verb, user, agent, ip string
	groups                []string
}

// fired lists the rows per detection name among the six, as "name: field=value ..." for the fields asked.
func fired(ms []engine.Match, fields ...string) []string {
	var out []string
	for _, m := range ms {
		switch m.Rule.Name {
		case unusualLocation, unusualUserAgent, unusualUserGroup, unusualUserName, accessScanning, unauthScanning:
		default:
			continue
		}
		for _, row := range m.Rows {
			s := m.Rule.Name
			for _, f := range fields {
				if vals := row.Values(f); vals != nil {
					s += " " + f + "=" + strings.Join(vals, ",")
				}
			}
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

func TestSecretAbuseDetections(t *testing.T) {
	dir := corpusDir(t)
	e, err := engine.Compile(loadESCU(t, dir), engine.Options{GeoIP: cityDB(t)})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		edit func(*secretEvent)
		want []string
	}{
		{"everything allowed: nothing", nil, nil},
		{"a list is not a get: nothing", func(e *secretEvent) { e.verb = "list"; e.user = "mallory" }, nil},
		{"an unlisted user name", func(e *secretEvent) { e.user = "mallory" },
			[]string{unusualUserName + " user=mallory"}},
		{"an unlisted user agent", func(e *secretEvent) { e.agent = "curl/8.4.0" },
			[]string{unusualUserAgent + " user=admin userAgent=curl/8.4.0"}},
		{"an unlisted group: one row per group, as stats by a multi-valued field", func(e *secretEvent) {
			e.groups = []string{"system:authenticated", "system:serviceaccounts"}
		}, []string{
			unusualUserGroup + " user=admin user.groups{}=system:authenticated",
			unusualUserGroup + " user=admin user.groups{}=system:serviceaccounts",
		}},
		{"one allowed group among several allows the read (NOT ... IN matches any value)", func(e *secretEvent) {
			e.groups = []string{"admin", "system:authenticated"}
		}, nil},
		{"an address located outside the allowed country", func(e *secretEvent) { e.ip = "203.0.113.9" },
			[]string{unusualLocation + " user=admin Country=France City=Paris src_ip=203.0.113.9"}},
		{"an address without a location gets no iplocation fields; fillnull makes Country 0, which is not allowed", func(e *secretEvent) { e.ip = "10.1.2.3" },
			[]string{unusualLocation + " user=admin Country=0 City=0 src_ip=10.1.2.3"}},
		{"everything unusual: all four", func(e *secretEvent) {
			e.user, e.agent, e.ip, e.groups = "mallory", "python-requests/2.31", "203.0.113.9", []string{"system:authenticated"}
		}, []string{
			unusualLocation + " user=mallory Country=France City=Paris src_ip=203.0.113.9",
			unusualUserAgent + " user=mallory userAgent=python-requests/2.31",
			unusualUserGroup + " user=mallory user.groups{}=system:authenticated",
			unusualUserName + " user=mallory",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms, err := e.Match(secretRead(tt.edit))
			if err != nil {
				t.Fatal(err)
			}
			// Each detection shows only the fields that tell it apart.
			got := trimFields(fired(ms, "user", "userAgent", "user.groups{}", "Country", "City", "src_ip"))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

// trimFields keeps, per detection, the fields that identify its row: the risk object (user) and what it judged.
func trimFields(rows []string) []string {
	keep := map[string][]string{
		unusualLocation:  {"user=", "Country=", "City=", "src_ip="},
		unusualUserAgent: {"user=", "userAgent="},
		unusualUserGroup: {"user=", "user.groups{}="},
		unusualUserName:  {"user="},
	}
	var out []string
	for _, r := range rows {
		for name, prefixes := range keep {
			if !strings.HasPrefix(r, name+" ") {
				continue
			}
			parts := []string{name}
			for _, p := range prefixes {
				for _, f := range strings.Fields(strings.TrimPrefix(r, name+" ")) {
					if strings.HasPrefix(f, p) {
						parts = append(parts, f)
					}
				}
			}
			out = append(out, strings.Join(parts, " "))
		}
	}
	return out
}

func TestSecretAbuseRiskEvent(t *testing.T) {
	dir := corpusDir(t)
	e, err := engine.Compile(loadESCU(t, dir), engine.Options{GeoIP: cityDB(t)})
	if err != nil {
		t.Fatal(err)
	}
	ms, _ := e.Match(secretRead(func(e *secretEvent) { e.ip = "203.0.113.9" }))
	var m *engine.Match
	for i := range ms {
		if ms[i].Rule.Name == unusualLocation {
			m = &ms[i]
		}
	}
	if m == nil || len(m.Rows) != 1 {
		t.Fatalf("matches = %+v", ms)
	}
	// v4 observables: the Victim user is the risk object, the Attacker src_ip the threat object.
	r := m.Rule.Risk
	if len(r.Objects) != 1 || r.Objects[0] != (rule.RiskObject{Field: "user", Type: "user", Score: 49}) ||
		len(r.Threats) != 1 || r.Threats[0].Field != "src_ip" {
		t.Errorf("risk = %+v", r)
	}
	if got := rba.Message(r.Message, m.Rows[0]); got != "Access of Kubernetes secret db-password from unusual location France by admin" {
		t.Errorf("message = %q", got)
	}
}

func TestScanningDetectionsOverAWindow(t *testing.T) {
	dir := corpusDir(t)
	refused := func(ip string, min int) []byte {
		at := time.Date(2026, 10, 1, 8, 0, 0, 0, time.UTC).Add(time.Duration(min) * time.Minute).Format(time.RFC3339Nano)
		return []byte(fmt.Sprintf(`{"verb":"list","requestURI":"/api/v1/x%d","user":{"username":"system:anonymous","groups":["system:unauthenticated"]},`+
			`"sourceIPs":[%q],"userAgent":"zgrab/0.x","responseStatus":{"status":"Failure","reason":"Forbidden","code":403},"stageTimestamp":%q}`, min, ip, at))
	}
	tests := []struct {
		name   string
		ip     string
		events int
		want   []string
	}{
		{"six refusals from a located address: both detections, count 6", "203.0.113.50", 6, []string{
			accessScanning + " src_ip=203.0.113.50 Country=France City=Paris count=6",
			unauthScanning + " src_ip=203.0.113.50 Country=France City=Paris count=6",
		}},
		{"five are not more than five", "203.0.113.50", 5, nil},
		{"an address without a location has no Country: stats by Country drops it, as in Splunk", "10.9.9.9", 8, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := engine.Compile(loadESCU(t, dir), engine.Options{GeoIP: cityDB(t)})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for i := 0; i < tt.events; i++ {
				ms, err := e.Match(refused(tt.ip, i))
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, fired(ms, "src_ip", "Country", "City", "count")...)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestReloadKeepsEveryUnchangedRule: reading the built-in pack and every corpus rule that loads a second time, as a
// rule reload does, gives every rule the same definition key, so an unchanged rule keeps its state whatever front
// end it came from (a pointer, a map or a random order in a compiled rule would make it start afresh).
func TestReloadKeepsEveryUnchangedRule(t *testing.T) {
	dir := corpusDir(t)
	paths := []string{loader.Builtin, filepath.Join(dir, "escu", "macros"), filepath.Join(dir, "escu", "v4"),
		filepath.Join(dir, "sigma"), filepath.Join(dir, "elastic")}
	compileOnce := func() *engine.Engine {
		res, err := loader.Load(loader.Options{Paths: paths, Builtin: builtin.FS, SkipErrors: true})
		if err != nil {
			t.Fatal(err)
		}
		rules, _ := engine.Runnable(res.Rules, engine.Options{GeoIP: cityDB(t)})
		e, err := engine.Compile(rules, engine.Options{GeoIP: cityDB(t)})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	first := compileOnce()
	second := compileOnce()
	var want []string
	for _, r := range second.Rules() {
		want = append(want, r.ID)
	}
	if len(want) < 50 {
		t.Fatalf("only %d rules loaded", len(want))
	}
	if got := second.AdoptState(first); !reflect.DeepEqual(got, want) {
		t.Errorf("%d of %d rules kept their state; the others: %v", len(got), len(want), missing(want, got))
	}
}

func missing(want, got []string) []string {
	have := map[string]bool{}
	for _, id := range got {
		have[id] = true
	}
	var out []string
	for _, id := range want {
		if !have[id] {
			out = append(out, id)
		}
	}
	return out
}

// TestRestartIsInvisible: the built-in pack and every corpus rule that loads, over 12,000 generated events, give the
// same matches when the engine is restarted every 97 events (its state saved, a new engine compiled, the state
// restored) as when it runs through. Without restoring, the answers differ: the test
// sees the state, not only the code that carries it.
func TestRestartIsInvisible(t *testing.T) {
	dir := corpusDir(t)
	paths := []string{loader.Builtin, filepath.Join(dir, "escu", "macros"), filepath.Join(dir, "escu", "v4"),
		filepath.Join(dir, "escu", "v5"), filepath.Join(dir, "sigma"), filepath.Join(dir, "elastic")}
	geo := cityDB(t)
	// The rule files are read once: that a second reading gives the same definition keys is
	// TestReloadKeepsEveryUnchangedRule's to show.
	res, err := loader.Load(loader.Options{Paths: paths, Builtin: builtin.FS, SkipErrors: true})
	if err != nil {
		t.Fatal(err)
	}
	res.Rules, _ = engine.Runnable(res.Rules, engine.Options{GeoIP: geo})
	compileOnce := func() *engine.Engine {
		e, err := engine.Compile(res.Rules, engine.Options{GeoIP: geo})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	// The stateful rules are those whose state an engine saves.
	statefulRule := map[string]bool{}
	var empty bytes.Buffer
	if err := compileOnce().SaveState(&empty); err != nil {
		t.Fatal(err)
	}
	ids, _, err := compileOnce().RestoreState(&empty)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		statefulRule[id] = true
	}
	events := auditgen.Generate(3, 12000)
	run := func(restart func(old *engine.Engine) *engine.Engine) (out []string, stateful int) {
		e := compileOnce()
		for i, ev := range events {
			if restart != nil && i > 0 && i%97 == 0 {
				e = restart(e)
			}
			ms, err := e.Match(ev.Body)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range ms {
				if statefulRule[m.Rule.ID] {
					stateful++
				}
				out = append(out, fmt.Sprintf("%d %s %v", i, m.Rule.ID, m.Rows))
			}
		}
		return out, stateful
	}
	through, stateful := run(nil)
	if stateful < 20 {
		t.Fatalf("only %d matches of stateful rules: the events do not exercise state", stateful)
	}
	t.Logf("%d stateful rules, %d matches, %d of them by stateful rules", len(statefulRule), len(through), stateful)
	restarted, _ := run(func(old *engine.Engine) *engine.Engine {
		var saved bytes.Buffer
		if err := old.SaveState(&saved); err != nil {
			t.Fatal(err)
		}
		e := compileOnce()
		if _, dropped, err := e.RestoreState(&saved); err != nil || dropped != 0 {
			t.Fatalf("restore: %d rules dropped, err %v", dropped, err)
		}
		return e
	})
	if diff := firstDifference(through, restarted); diff != "" {
		t.Errorf("restarting every 97 events changed the matches: %s", diff)
	}
	forgetful, _ := run(func(*engine.Engine) *engine.Engine { return compileOnce() })
	if firstDifference(through, forgetful) == "" {
		t.Error("restarting without the saved state gives the same matches: the events do not exercise state")
	}
}

func firstDifference(a, b []string) string {
	for i := 0; i < min(len(a), len(b)); i++ {
		if a[i] != b[i] {
			return fmt.Sprintf("match %d: %q, then %q", i, a[i], b[i])
		}
	}
	if len(a) != len(b) {
		return fmt.Sprintf("%d matches, then %d", len(a), len(b))
	}
	return ""
}
