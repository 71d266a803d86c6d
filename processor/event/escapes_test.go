package event

import (
	"bytes"
	"strings"
	"testing"

	"github.com/auditdetect/auditdetect/processor/auditgen"
)

// TestEscapeSearchesAgree: EscapedASCII searches small bodies by hopping between backslashes and large ones at every
// position; both must find the same escapes, on the generated log and on bodies built to be hard
// (escaped backslashes before u and /, escapes at the ends, dense \" and \n, escapes of characters outside ASCII).
func TestEscapeSearchesAgree(t *testing.T) {
	var bodies [][]byte
	for _, ev := range auditgen.Generate(5, 600) {
		bodies = append(bodies, ev.Body)
	}
	pieces := []string{`\u0041`, `\\u0042`, `\\\u0043`, `\/`, `\\/`, `\"`, `\n`, `\u017f`, `\u212A`, `\u00zz`, `x`,
		`word `, `\\`, `\u`}
	for n := 1; n < 400; n++ {
		var sb strings.Builder
		sb.WriteString(`{"a":"`)
		for k := 0; k < n; k++ {
			sb.WriteString(pieces[(k*7+n)%len(pieces)])
		}
		sb.WriteString(`"}`)
		bodies = append(bodies, []byte(sb.String()))
	}
	// A large body: prose with dense \n and \", one escaped letter near the end.
	large := append([]byte(`{"data":"`), bytes.Repeat([]byte(`some \"quoted\" prose\n`), 3000)...)
	bodies = append(bodies, append(large, `\u0070ulling"}`...))
	var p Parser
	for _, b := range bodies {
		v, err := p.Open(b)
		if err != nil {
			t.Fatal(err)
		}
		v.escapesByHops()
		hops, hopsNon := v.esc, v.nonASCII
		v.esc, v.nonASCII = [2]uint64{}, false
		v.escapesBySWAR()
		if v.esc != hops || v.nonASCII != hopsNon {
			t.Fatalf("%.200s: hops found %x %v, SWAR %x %v", b, hops, hopsNon, v.esc, v.nonASCII)
		}
		v.esc, v.nonASCII = [2]uint64{}, false
	}
	v, _ := p.Open(bodies[len(bodies)-1])
	if set, _ := v.EscapedASCII(); set[1]&(1<<('p'-64)) == 0 {
		t.Fatalf("the escaped p at the end of a large body was not found: %x", *set)
	}
}
