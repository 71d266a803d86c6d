package engine

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// table makes a lookup table from CSV-like lines (the first the header, cells split at commas).
func table(t *testing.T, settings rule.LookupTable, lines ...string) *rule.LookupTable {
	t.Helper()
	settings.Name = "t"
	settings.Columns = strings.Split(lines[0], ",")
	for _, l := range lines[1:] {
		settings.Rows = append(settings.Rows, strings.Split(l, ","))
	}
	tab, err := rule.NewLookupTable(settings)
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

// lookedUp runs a rule of the stages on body and returns the named fields of its one row, as name=[values] ("name
// absent" for a field the row does not have).
func lookedUp(t *testing.T, body string, stages []rule.Stage, names ...string) string {
	t.Helper()
	r := &rule.Rule{ID: "l", Name: "l", Filter: rule.True{}, Pipeline: append(stages, rule.Project{Fields: names})}
	e, err := Compile([]*rule.Rule{r}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ms, err := e.Match([]byte(body))
	if err != nil || len(ms) != 1 || len(ms[0].Rows) != 1 {
		t.Fatalf("matches %+v, %v", ms, err)
	}
	var out []string
	for _, n := range names {
		if vals := ms[0].Rows[0].Values(n); vals != nil {
			out = append(out, fmt.Sprintf("%s=%v", n, vals))
		} else {
			out = append(out, n+" absent")
		}
	}
	return strings.Join(out, " ")
}

func in(column, field string) []rule.LookupField {
	return []rule.LookupField{{Column: column, Field: field}}
}
func out(column, field string) []rule.LookupField {
	return []rule.LookupField{{Column: column, Field: field}}
}

// TestLookupMatchTypes: exact cells (case-sensitive by default, or folded as bytes.EqualFold does), WILDCARD cells (`*`
// only; `?` is itself), CIDR cells (networks and single addresses, IPv4 and IPv6, an IPv4-mapped value as its IPv4
// address), and rows needing every input, in file order.
func TestLookupMatchTypes(t *testing.T) {
	users := func(caseSensitive bool) *rule.LookupTable {
		return table(t, rule.LookupTable{CaseSensitive: caseSensitive}, "user,team", "alice,dev", "KELVIN,ops")
	}
	wild := table(t, rule.LookupTable{Match: []rule.LookupMatch{rule.MatchWildcard}}, "ua,tool",
		"kubectl/*,kubectl", "curl/7.?,old curl", "*Go-http-client*,go")
	nets := table(t, rule.LookupTable{Match: []rule.LookupMatch{rule.MatchCIDR}}, "net,zone",
		"10.0.0.0/8,internal", "192.168.1.7,bastion", "fd00::/8,internal6", "2001:db8::1,v6host", "::ffff:172.16.0.0/108,mapped")
	pairs := table(t, rule.LookupTable{Match: []rule.LookupMatch{rule.MatchExact, rule.MatchWildcard}}, "user,ns,ok",
		"alice,dev-*,yes", "bob,prod,yes")
	ev := func(user, ua, ip, ns string) string {
		return fmt.Sprintf(`{"verb":"get","user":{"username":%q},"userAgent":%q,"sourceIPs":[%q],"objectRef":{"namespace":%q}}`, user, ua, ip, ns)
	}
	tests := []struct {
		name  string
		body  string
		stage rule.Lookup
		want  string
	}{
		{"exact", ev("alice", "", "", ""), rule.Lookup{Table: users(true), Inputs: in("user", "user.username"), Outputs: out("team", "team")}, "team=[dev]"},
		{"exact is case-sensitive by default", ev("Alice", "", "", ""), rule.Lookup{Table: users(true), Inputs: in("user", "user.username"), Outputs: out("team", "team")}, "team absent"},
		{"case-insensitive", ev("Alice", "", "", ""), rule.Lookup{Table: users(false), Inputs: in("user", "user.username"), Outputs: out("team", "team")}, "team=[dev]"},
		{"case-insensitive folds the Kelvin sign", ev("\u212aelvin", "", "", ""), rule.Lookup{Table: users(false), Inputs: in("user", "user.username"), Outputs: out("team", "team")}, "team=[ops]"},
		{"wildcard prefix", ev("", "kubectl/v1.30 (linux)", "", ""), rule.Lookup{Table: wild, Inputs: in("ua", "userAgent"), Outputs: out("tool", "tool")}, "tool=[kubectl]"},
		{"wildcard contains", ev("", "x Go-http-client/2.0", "", ""), rule.Lookup{Table: wild, Inputs: in("ua", "userAgent"), Outputs: out("tool", "tool")}, "tool=[go]"},
		{"question mark is itself", ev("", "curl/7.8", "", ""), rule.Lookup{Table: wild, Inputs: in("ua", "userAgent"), Outputs: out("tool", "tool")}, "tool absent"},
		{"question mark literal", ev("", "curl/7.?", "", ""), rule.Lookup{Table: wild, Inputs: in("ua", "userAgent"), Outputs: out("tool", "tool")}, "tool=[old curl]"},
		{"cidr network", ev("", "", "10.2.3.4", ""), rule.Lookup{Table: nets, Inputs: in("net", "sourceIPs{}"), Outputs: out("zone", "zone")}, "zone=[internal]"},
		{"cidr single address", ev("", "", "192.168.1.7", ""), rule.Lookup{Table: nets, Inputs: in("net", "sourceIPs{}"), Outputs: out("zone", "zone")}, "zone=[bastion]"},
		{"cidr other address", ev("", "", "192.168.1.8", ""), rule.Lookup{Table: nets, Inputs: in("net", "sourceIPs{}"), Outputs: out("zone", "zone")}, "zone absent"},
		{"cidr IPv4-mapped value", ev("", "", "::ffff:10.9.9.9", ""), rule.Lookup{Table: nets, Inputs: in("net", "sourceIPs{}"), Outputs: out("zone", "zone")}, "zone=[internal]"},
		{"cidr IPv4-mapped network", ev("", "", "172.20.1.1", ""), rule.Lookup{Table: nets, Inputs: in("net", "sourceIPs{}"), Outputs: out("zone", "zone")}, "zone=[mapped]"},
		{"cidr IPv6", ev("", "", "fd12::1", ""), rule.Lookup{Table: nets, Inputs: in("net", "sourceIPs{}"), Outputs: out("zone", "zone")}, "zone=[internal6]"},
		{"cidr IPv6 address, another spelling", ev("", "", "2001:DB8:0::1", ""), rule.Lookup{Table: nets, Inputs: in("net", "sourceIPs{}"), Outputs: out("zone", "zone")}, "zone=[v6host]"},
		{"cidr not an address", ev("", "", "somehost", ""), rule.Lookup{Table: nets, Inputs: in("net", "sourceIPs{}"), Outputs: out("zone", "zone")}, "zone absent"},
		{"every input matches", ev("alice", "", "", "dev-3"), rule.Lookup{Table: pairs,
			Inputs: []rule.LookupField{{Column: "user", Field: "user.username"}, {Column: "ns", Field: "objectRef.namespace"}}, Outputs: out("ok", "ok")}, "ok=[yes]"},
		{"one input does not", ev("bob", "", "", "dev-3"), rule.Lookup{Table: pairs,
			Inputs: []rule.LookupField{{Column: "user", Field: "user.username"}, {Column: "ns", Field: "objectRef.namespace"}}, Outputs: out("ok", "ok")}, "ok absent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := lookedUp(t, tt.body, []rule.Stage{tt.stage}, tt.stage.Outputs[0].Field); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

// TestLookupOutputs: OUTPUT replaces a field the row has, and clears it when nothing matches; OUTPUTNEW sets only the
// fields the row lacks, and does not look up a row that has them all; a row without the input is not looked up.
func TestLookupOutputs(t *testing.T) {
	tab := table(t, rule.LookupTable{}, "user,team,level", "alice,dev,2")
	body := func(user string) string {
		return fmt.Sprintf(`{"verb":"get","user":{"username":%q},"team":"from-event"}`, user)
	}
	both := []rule.LookupField{{Column: "team", Field: "team"}, {Column: "level", Field: "level"}}
	tests := []struct {
		name   string
		body   string
		stages []rule.Stage
		want   string
	}{
		{"output overwrites", body("alice"), []rule.Stage{rule.Lookup{Table: tab, Inputs: in("user", "user.username"), Outputs: both}}, "team=[dev] level=[2]"},
		{"output clears when nothing matches", body("bob"), []rule.Stage{rule.Lookup{Table: tab, Inputs: in("user", "user.username"), Outputs: both}}, "team absent level absent"},
		{"outputnew keeps what the row has", body("alice"), []rule.Stage{rule.Lookup{Table: tab, Inputs: in("user", "user.username"), Outputs: both, New: true}}, "team=[from-event] level=[2]"},
		{"outputnew on no match keeps it too", body("bob"), []rule.Stage{rule.Lookup{Table: tab, Inputs: in("user", "user.username"), Outputs: both, New: true}}, "team=[from-event] level absent"},
		{"outputnew with every output there is not looked up", body("alice"), []rule.Stage{
			rule.Eval{To: "level", Value: rule.Constant{Text: "9"}},
			rule.Lookup{Table: tab, Inputs: in("user", "user.username"), Outputs: both, New: true}}, "team=[from-event] level=[9]"},
		// An empty value is a value (not null), which OUTPUTNEW keeps (LANGUAGE.md: Splunk does not document it).
		{"outputnew keeps an empty value", `{"verb":"get","user":{"username":"alice"},"team":""}`, []rule.Stage{
			rule.Lookup{Table: tab, Inputs: in("user", "user.username"), Outputs: both, New: true}}, "team=[] level=[2]"},
		// A cell is matched as written, spaces included.
		{"spaces around a cell are part of it", body("alice"), []rule.Stage{rule.Lookup{
			Table: table(t, rule.LookupTable{}, "user,team,level", " alice,dev,2", "alice ,dev,3"), Inputs: in("user", "user.username"),
			Outputs: both}}, "team absent level absent"},
		{"no input value: row as it was", `{"verb":"get","team":"from-event"}`, []rule.Stage{rule.Lookup{Table: tab, Inputs: in("user", "user.username"), Outputs: both}}, "team=[from-event] level absent"},
		{"AS on the output", body("alice"), []rule.Stage{rule.Lookup{Table: tab, Inputs: in("user", "user.username"), Outputs: out("team", "user_team")}}, "user_team=[dev] team=[from-event]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			names := []string{"team", "level"}
			if strings.Contains(tt.want, "user_team") {
				names = []string{"user_team", "team"}
			}
			if got := lookedUp(t, tt.body, tt.stages, names...); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

// TestLookupMultipleMatches: each value of a multi-valued input is looked up, and the outputs hold every match of
// every value, in order; up to max_matches rows per value, in file order (hashed exact rows and wildcard rows
// merged); min_matches fills a value's missing matches with default_match; an empty cell or default is no value.
func TestLookupMultipleMatches(t *testing.T) {
	ips := `{"verb":"get","sourceIPs":["10.0.0.1","203.0.113.9","10.0.0.2"]}`
	tests := []struct {
		name string
		tab  *rule.LookupTable
		body string
		want string
	}{
		{"each value", table(t, rule.LookupTable{}, "ip,zone", "10.0.0.2,b", "10.0.0.1,a"), ips, "zone=[a b]"},
		{"default for the value that matches nothing", table(t, rule.LookupTable{MinMatches: 1, DefaultMatch: "unknown"},
			"ip,zone", "10.0.0.2,b", "10.0.0.1,a"), ips, "zone=[a unknown b]"},
		{"empty default is no value", table(t, rule.LookupTable{MinMatches: 1}, "ip,zone", "10.0.0.1,a"), ips, "zone=[a]"},
		{"file order across exact and wildcard rows, up to max_matches", table(t, rule.LookupTable{MaxMatches: 3,
			Match: []rule.LookupMatch{rule.MatchWildcard}}, "ip,zone", "10.*,w1", "10.0.0.1,e1", "*,w2", "10.0.0.1,e2", "10.0.0.1,e3"),
			`{"verb":"get","sourceIPs":["10.0.0.1"]}`, "zone=[w1 e1 w2]"},
		{"empty cell is no value", table(t, rule.LookupTable{}, "ip,zone", "10.0.0.1,", "10.0.0.2,b"), ips, "zone=[b]"},
		{"empty key cell matches nothing", table(t, rule.LookupTable{}, "ip,zone", ",x"), `{"verb":"get","sourceIPs":[""]}`, "zone absent"},
		{"default up to min_matches", table(t, rule.LookupTable{MinMatches: 2, DefaultMatch: "d"}, "ip,zone", "10.0.0.1,a"),
			`{"verb":"get","sourceIPs":["10.0.0.1"]}`, "zone=[a d]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := rule.Lookup{Table: tt.tab, Inputs: in("ip", "sourceIPs{}"), Outputs: out("zone", "zone")}
			if got := lookedUp(t, tt.body, []rule.Stage{st}, "zone"); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

// TestLookupBoundsValues: a field of thousands of values looks up the first maxLookupValues-1 and its last, the address
// the API server saw, which padding X-Forwarded-For cannot push out.
func TestLookupBoundsValues(t *testing.T) {
	var ips []string
	for i := range 5000 {
		ips = append(ips, fmt.Sprintf("%q", fmt.Sprintf("198.51.%d.%d", i/256, i%256)))
	}
	ips = append(ips, `"10.0.0.1"`)
	body := `{"verb":"get","sourceIPs":[` + strings.Join(ips, ",") + `]}`
	tab := table(t, rule.LookupTable{}, "ip,bad", "198.51.0.5,early", "198.51.10.0,middle", "10.0.0.1,last")
	st := rule.Lookup{Table: tab, Inputs: in("ip", "sourceIPs{}"), Outputs: out("bad", "bad")}
	if got := lookedUp(t, body, []rule.Stage{st}, "bad"); got != "bad=[early last]" {
		t.Errorf("got %s", got)
	}
}

// TestLookupAfterStats: a lookup on the rows of a windowed stats reads their by-fields, and a where on its output is
// no condition on an aggregate.
func TestLookupAfterStats(t *testing.T) {
	tab := table(t, rule.LookupTable{}, "user,allowed", "alice,true")
	r := &rule.Rule{ID: "s", Name: "s", Filter: rule.True{}, Pipeline: []rule.Stage{
		rule.Stats{Aggs: []rule.Aggregate{{Func: "count"}}, By: []string{"user.username"}},
		rule.Where{Cond: rule.Compare{Field: rule.Field{Name: "count"}, Op: rule.OpGt, Value: rule.Literal("1", true)}},
		rule.Lookup{Table: tab, Inputs: in("user", "user.username"), Outputs: out("allowed", "allowed")},
		rule.Search{Cond: rule.Not{X: rule.Compare{Field: rule.Field{Name: "allowed"}, Value: rule.Literal("true", false)}}},
	}}
	e, err := Compile([]*rule.Rule{r}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	fired := map[string]int{}
	for i, u := range []string{"alice", "alice", "bob", "bob"} {
		ms, err := e.Match([]byte(fmt.Sprintf(`{"verb":"get","auditID":"a%d","user":{"username":%q},"stageTimestamp":"2026-01-01T00:00:0%dZ"}`, i, u, i)))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			for _, row := range m.Rows {
				fired[row.Values("user.username")[0]]++
			}
		}
	}
	if len(fired) != 1 || fired["bob"] != 1 {
		t.Errorf("fired %v, want bob once", fired)
	}
}

// TestLookupOverAggregates: a lookup after a windowed stats is judged as an eval is: a field it writes over an
// aggregate (OUTPUT) is no aggregate any more, OUTPUTNEW leaves the aggregate, and a field looked up from an
// aggregate is derived from it, which a window filtered as it fills cannot answer.
func TestLookupOverAggregates(t *testing.T) {
	tab := table(t, rule.LookupTable{}, "user,count,n,level", "alice,9,1,high")
	stats := rule.Stats{Aggs: []rule.Aggregate{{Func: "count"}}, By: []string{"user"}}
	countOver := rule.Where{Cond: rule.Compare{Field: rule.Field{Name: "count"}, Op: rule.OpGt, Value: rule.Literal("5", true)}}
	over := rule.Lookup{Table: tab, Inputs: in("user", "user"), Outputs: out("count", "count")}
	if at := windowedStatsIndex([]rule.Stage{stats, over, countOver}); at != -1 {
		t.Errorf("OUTPUT over count: windowed at %d", at)
	}
	over.New = true
	if at := windowedStatsIndex([]rule.Stage{stats, over, countOver}); at != 0 {
		t.Errorf("OUTPUTNEW count: windowed at %d", at)
	}
	fromCount := []rule.Stage{stats, rule.Lookup{Table: tab, Inputs: in("n", "count"), Outputs: out("level", "level")},
		rule.Where{Cond: rule.Compare{Field: rule.Field{Name: "level"}, Value: rule.Literal("high", true)}}}
	if at := windowedStatsIndex(fromCount); at != 0 {
		t.Errorf("looked up from count: windowed at %d", at)
	}
	if _, err := planWindow(fromCount, 0, true); err == nil || !strings.Contains(err.Error(), "where on level: it is computed from an aggregate") {
		t.Errorf("a condition on a field looked up from count, in enrich mode: %v", err)
	}
}

// TestLookupOutputsAreNoEventFields: a stats by-field a lookup writes is not read from the event by the agent tier's
// routing, and a time bucket a lookup writes over is no bucket any more.
func TestLookupOutputsAreNoEventFields(t *testing.T) {
	tab := table(t, rule.LookupTable{}, "user,team,_time", "alice,dev,1")
	countOver := rule.Where{Cond: rule.Compare{Field: rule.Field{Name: "count"}, Op: rule.OpGt, Value: rule.Literal("5", true)}}
	routed := &rule.Rule{ID: "r", Name: "r", Filter: rule.True{}, Pipeline: []rule.Stage{
		rule.Lookup{Table: tab, Inputs: in("user", "user.username"), Outputs: out("team", "team")},
		rule.Stats{Aggs: []rule.Aggregate{{Func: "count"}}, By: []string{"team", "user.username"}}, countOver}}
	e, err := Compile([]*rule.Rule{routed}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := e.RouteFields(); len(got) != 1 || got[0] != "user.username" {
		t.Errorf("route fields %v, want [user.username]", got)
	}

	bucket := rule.Eval{To: "_time", Value: rule.Call{Func: "bin_floor", Args: []rule.Value{rule.Call{Func: "event_time"}, rule.Constant{Text: "600"}}}}
	overwritten := &rule.Rule{ID: "b", Name: "b", Filter: rule.True{}, Pipeline: []rule.Stage{bucket,
		rule.Lookup{Table: tab, Inputs: in("user", "user.username"), Outputs: out("_time", "_time")},
		rule.Stats{Aggs: []rule.Aggregate{{Func: "count"}}, By: []string{"_time"}}, countOver}}
	if _, err := Compile([]*rule.Rule{overwritten}, Options{Window: 15 * time.Minute}); err != nil {
		t.Errorf("a bucket the lookup wrote over: %v", err)
	}
}

// TestLookupNetworksIndexed: a lookup on one CIDR field finds its rows through a map per prefix length, not a scan.
// Over random tables (IPv4 and IPv6 networks of every length, single addresses, IPv4-mapped networks, repeated
// networks) and addresses, it answers as a scan of the rows in file order does, MaxMatches included.
func TestLookupNetworksIndexed(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	addr4 := func() netip.Addr {
		return netip.AddrFrom4([4]byte{10, byte(rng.IntN(3)), byte(rng.IntN(4)), byte(rng.IntN(256))})
	}
	addr6 := func() netip.Addr {
		var b [16]byte
		b[0], b[1], b[15] = 0xfd, byte(rng.IntN(3)), byte(rng.IntN(256))
		return netip.AddrFrom16(b)
	}
	for round := range 40 {
		lines := []string{"net,n"}
		var nets []netip.Prefix
		for i := range 1 + rng.IntN(60) {
			var cell string
			switch rng.IntN(5) {
			case 0:
				cell = addr4().String() // a single address
			case 1:
				p, _ := addr4().Prefix(8 + rng.IntN(25))
				cell = p.String()
			case 2:
				p, _ := addr6().Prefix(8 + rng.IntN(121))
				cell = p.String()
			case 3:
				a := addr4()
				cell = fmt.Sprintf("::ffff:%s/%d", a, 96+16+rng.IntN(17)) // mapped, written unmasked
			default:
				if len(nets) > 0 { // a network again
					cell = nets[rng.IntN(len(nets))].String()
				} else {
					cell = addr6().String()
				}
			}
			p, err := rule.LookupNetwork(cell)
			if err != nil {
				t.Fatalf("%s: %v", cell, err)
			}
			nets = append(nets, p)
			lines = append(lines, fmt.Sprintf("%s,%d", cell, i))
		}
		max := 1 + rng.IntN(4)
		tab := table(t, rule.LookupTable{Match: []rule.LookupMatch{rule.MatchCIDR}, MaxMatches: max}, lines...)
		for range 30 {
			var a netip.Addr
			switch rng.IntN(3) {
			case 0:
				a = addr4()
			case 1:
				a = addr6()
			default:
				a = netip.AddrFrom16(addr4().As16()) // an IPv4-mapped value
			}
			var want []string
			for i, p := range nets {
				if len(want) < max && p.Contains(a.Unmap()) {
					want = append(want, fmt.Sprint(i))
				}
			}
			expect := "n absent"
			if len(want) > 0 {
				expect = fmt.Sprintf("n=%v", want)
			}
			body := fmt.Sprintf(`{"verb":"get","sourceIPs":[%q]}`, a)
			if got := lookedUp(t, body, []rule.Stage{rule.Lookup{Table: tab, Inputs: in("net", "sourceIPs{}"), Outputs: out("n", "n")}}, "n"); got != expect {
				t.Fatalf("round %d, %s in %v (max %d): got %s, want %s", round, a, lines[1:], max, got, expect)
			}
		}
	}
}

// BenchmarkLookupNetworks: one address looked up in a table of 10,000 networks and addresses (a threat-intelligence
// list), which holds it or not.
func BenchmarkLookupNetworks(b *testing.B) {
	lines := []string{"net,listed"}
	for i := range 10000 {
		if i%4 == 0 {
			lines = append(lines, fmt.Sprintf("10.%d.%d.0/24,yes", i>>8&255, i&255))
		} else {
			lines = append(lines, fmt.Sprintf("172.%d.%d.%d,yes", 16+i>>16&15, i>>8&255, i&255))
		}
	}
	benchLookup(b, rule.MatchCIDR, lines, "sourceIPs{}", map[string]string{
		"listed":     `{"verb":"get","sourceIPs":["172.16.3.7"]}`,
		"not-listed": `{"verb":"get","sourceIPs":["192.0.2.1"]}`,
	})
}

// TestLookupPatternsIndexed: pattern rows found through their literal prefixes, suffixes and whole cells (scanIndex)
// answer as trying every pattern row in file order does: over random tables of one or two inputs (wildcard, exact
// beside wildcard, two wildcards, wildcard beside CIDR), case-sensitive or not (the Kelvin sign and long s among the
// characters), and values made to match some rows or none, the same rows in the same order, up to max_matches.
func TestLookupPatternsIndexed(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	chars := []string{"a", "b", "A", "B", "k", "K", "\u212a", "s", "S", "\u017f", "-", "?", "\\", "é", "É"}
	text := func(n int) string {
		var b strings.Builder
		for range n {
			b.WriteString(chars[rng.IntN(len(chars))])
		}
		return b.String()
	}
	pattern := func() string {
		var b strings.Builder
		for range 1 + rng.IntN(5) {
			if rng.IntN(3) == 0 {
				b.WriteByte('*')
			} else {
				b.WriteString(text(1 + rng.IntN(2)))
			}
		}
		return b.String()
	}
	// instance writes a value a pattern matches (as written: a case-insensitive table matches it in other cases).
	instance := func(p string) string {
		return strings.ReplaceAll(p, "*", text(rng.IntN(3)))
	}
	nets := []string{"10.0.0.0/8", "10.1.0.0/16", "10.1.2.3", "fd00::/8"}
	addrs := []string{"10.1.2.3", "10.1.9.9", "10.9.9.9", "192.0.2.1", "fd00::1"}
	shapes := [][]rule.LookupMatch{
		{rule.MatchWildcard},
		{rule.MatchExact, rule.MatchWildcard},
		{rule.MatchWildcard, rule.MatchWildcard},
		{rule.MatchWildcard, rule.MatchCIDR},
	}
	for round := range 300 {
		shape := shapes[rng.IntN(len(shapes))]
		cell := func(m rule.LookupMatch) string {
			switch {
			case m == rule.MatchCIDR:
				return nets[rng.IntN(len(nets))]
			case m == rule.MatchExact || rng.IntN(6) == 0:
				return text(1 + rng.IntN(3)) // plain text, in a wildcard field too
			}
			return pattern()
		}
		var rows [][]string
		for i := range 1 + rng.IntN(80) {
			row := []string{fmt.Sprint(i)}
			for _, m := range shape {
				row = append(row, cell(m))
			}
			rows = append(rows, row)
		}
		cols := []string{"n", "in0", "in1"}[:1+len(shape)]
		tab, err := rule.NewLookupTable(rule.LookupTable{Name: "t", Columns: cols, Rows: rows,
			Match: append([]rule.LookupMatch{rule.MatchExact}, shape...), MaxMatches: 1 + rng.IntN(5), CaseSensitive: rng.IntN(2) == 0})
		if err != nil {
			t.Fatal(err)
		}
		inputs := []int{1, 2}[:len(shape)]
		indexed, linear := newLookupIndex(tab, inputs), newLookupIndex(tab, inputs)
		if linear.byLit != nil {
			linear.byLit = &scanIndex{}
			for place := range linear.scan {
				linear.byLit.rest = append(linear.byLit.rest, int32(place))
			}
		}
		lookUp := func(ix *lookupIndex, c *evalCtx, vals []string) string {
			res := lookupResult{s: &lookupStage{outs: []lookupOut{{col: 0}}, idx: ix}}
			n := ix.each(c, vals, &res)
			var got []string
			if res.vals != nil {
				got = res.vals[0]
			}
			return fmt.Sprintf("%d %v", n, got)
		}
		var c1, c2 evalCtx
		for range 40 {
			like := rows[rng.IntN(len(rows))]
			vals := make([]string, len(shape))
			for i, m := range shape {
				switch {
				case m == rule.MatchCIDR:
					vals[i] = addrs[rng.IntN(len(addrs))]
				case rng.IntN(4) == 0:
					vals[i] = text(rng.IntN(6))
				default:
					vals[i] = instance(like[1+i])
				}
			}
			if got, want := lookUp(indexed, &c1, vals), lookUp(linear, &c2, vals); got != want {
				t.Fatalf("round %d: %q in %q (max %d, case-sensitive %t): indexed %s, every row tried %s",
					round, vals, rows, tab.MaxMatches, tab.CaseSensitive, got, want)
			}
		}
	}
}

// TestLookupPatternsNarrowed: a value is tried only against the pattern rows whose prefix, suffix or whole cell it
// shows, and those with none (here the one `*admin*`), in file order.
func TestLookupPatternsNarrowed(t *testing.T) {
	lines := []string{"ua,user,tool"}
	for i := range 1000 {
		lines = append(lines, fmt.Sprintf("tool-%d/*,*,t%d", i, i), fmt.Sprintf("*.tenant-%d.example,*,s%d", i, i),
			fmt.Sprintf("*,user-%d,u%d", i, i))
	}
	lines = append(lines, "*admin*,*,a")
	tab := table(t, rule.LookupTable{Match: []rule.LookupMatch{rule.MatchWildcard, rule.MatchWildcard}, CaseSensitive: false}, lines...)
	ix := newLookupIndex(tab, []int{0, 1})
	tries := func(ua, user string) []string {
		var c evalCtx
		res := lookupResult{s: &lookupStage{outs: []lookupOut{{col: 2}}, idx: ix}}
		ix.each(&c, []string{ua, user}, &res)
		var tried []string
		for _, place := range ix.byLit.candidates(&c.lookup) {
			tried = append(tried, tab.Rows[ix.scan[place].row][2])
		}
		return tried
	}
	for _, tc := range []struct {
		ua, user string
		want     []string
	}{
		{"Tool-7/1.0", "bob", []string{"t7", "a"}},
		{"x.TENANT-42.example", "user-5", []string{"u5", "s42", "a"}},
		{"curl/8", "alice", []string{"a"}},
	} {
		if got := tries(tc.ua, tc.user); !slices.Equal(got, tc.want) {
			t.Errorf("%s, %s: tried %v, want %v", tc.ua, tc.user, got, tc.want)
		}
	}
}

// BenchmarkLookupPatterns: one user agent looked up in a table of 10,000 wildcard patterns (prefixes, suffixes and a
// few with neither), which one matches or none.
func BenchmarkLookupPatterns(b *testing.B) {
	lines := []string{"ua,tool"}
	for i := range 10000 {
		switch i % 100 {
		case 0:
			lines = append(lines, fmt.Sprintf("*agent-%d*,x", i))
		case 1, 2, 3:
			lines = append(lines, fmt.Sprintf("*/build-%d,x", i))
		default:
			lines = append(lines, fmt.Sprintf("tool-%d/*,x", i))
		}
	}
	benchLookup(b, rule.MatchWildcard, lines, "userAgent", map[string]string{
		"listed":     `{"verb":"get","userAgent":"tool-4242/v1.2 (linux/amd64)"}`,
		"not-listed": `{"verb":"get","userAgent":"kubectl/v1.30.2 (linux/amd64) kubernetes/abcdef"}`,
	})
}

// benchLookup times one event per case through a rule that looks eventField up in the table of lines (a CSV: the
// header names the input column, then the output column) matched by match, and keeps the events that got an output.
func benchLookup(b *testing.B, match rule.LookupMatch, lines []string, eventField string, cases map[string]string) {
	cols := strings.Split(lines[0], ",")
	tab, err := rule.NewLookupTable(rule.LookupTable{Name: "t", Match: []rule.LookupMatch{match},
		Columns: cols, Rows: splitRows(lines[1:])})
	if err != nil {
		b.Fatal(err)
	}
	r := &rule.Rule{ID: "l", Name: "l", Filter: rule.True{}, Pipeline: []rule.Stage{
		rule.Lookup{Table: tab, Inputs: in(cols[0], eventField), Outputs: out(cols[1], cols[1])},
		rule.Search{Cond: rule.Compare{Field: rule.Field{Name: cols[1]}, Op: rule.OpEq, Value: rule.Pattern{Kind: rule.Glob, Text: "*"}}},
	}}
	e, err := Compile([]*rule.Rule{r}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	for _, name := range slices.Sorted(maps.Keys(cases)) {
		body := []byte(cases[name])
		b.Run(name, func(b *testing.B) {
			ev := e.Evaluator()
			defer ev.Close()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ev.Evaluate(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func splitRows(lines []string) [][]string {
	rows := make([][]string, len(lines))
	for i, l := range lines {
		rows[i] = strings.Split(l, ",")
	}
	return rows
}
