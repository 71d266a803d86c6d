package rule

// Test is a test that a rule carries in its own file (ESCU `tests:`, auditdetect `auditdetect_tests:`): audit
// events to run through the rule, and what the rule must do with them. The rule model only holds tests; a runner
// (package ruletest) evaluates them.
type Test struct {
	Name string
	// Line is the 1-based line of the test in the rule file; 0 when unknown.
	Line int
	// Data names files of events: paths relative to the rule's file (or absolute), or http(s) URLs (ESCU
	// `attack_data`), which an offline runner reports as skipped. A file holds one JSON object per line, or one
	// object over several lines.
	Data []string
	// Events are inline events, each a JSON object; they follow the events of Data, in order.
	Events [][]byte
	// Match says whether the rule must produce a result on at least one event.
	Match bool
	// MatchAt lists the 1-based events the rule must produce a result on, and no other; empty means any.
	MatchAt []int
	// RiskObject, when set, is a value the rule's risk object fields must hold on every result row.
	RiskObject string
	// GeoIP places addresses for `iplocation` during the test; other addresses have no location.
	GeoIP map[string]TestLocation
	// Skip says why the test cannot run offline (an ESCU manual test); empty means it can.
	Skip string
	// Note says why the test exists; runners print it with a failure.
	Note string
}

// TestLocation is what a test's GeoIP fixture says about one address.
type TestLocation struct {
	City, Country, Region string
	Lat, Lon              float64
}
