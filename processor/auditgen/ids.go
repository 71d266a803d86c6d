package auditgen

import "bytes"

// IDs renews the auditIDs of a log that is evaluated over and over, as benchmarks and `auditdetect rule-cost` do.
//
// An engine remembers the identities (auditID and stage) of the recent events its stateful rules saw, so that a
// redelivered batch is not counted twice (engine/replay.go). Evaluated again unchanged, a log is a redelivery: each
// stateful rule hands back what it produced the first time instead of running, and costs a fraction of what a
// cluster's new events cost (the full rule set about half). Renew gives an event a new identity in place, of the
// same length, so that every run is new to the engine.
type IDs struct {
	// at is the offset of each event's auditID value in its body, -1 when it has none IDs can renew; digits is how
	// many of its first bytes Renew writes (up to 8, no further than the value's end or its first backslash).
	at     []int32
	digits []uint8
}

// NewIDs finds the auditID of each event: the value of the first "auditID" key, which the API server writes near the
// start of an event, before any object that could hold such a key.
func NewIDs(events [][]byte) *IDs {
	d := &IDs{at: make([]int32, len(events)), digits: make([]uint8, len(events))}
	for i, body := range events {
		d.at[i] = -1
		k := bytes.Index(body, []byte(`"auditID"`))
		if k < 0 {
			continue
		}
		p := k + len(`"auditID"`)
		for p < len(body) && (body[p] == ' ' || body[p] == ':' || body[p] == '\t') {
			p++
		}
		if p >= len(body) || body[p] != '"' {
			continue
		}
		p++
		n := 0
		for n < 8 && p+n < len(body) && body[p+n] != '"' && body[p+n] != '\\' {
			n++
		}
		if n > 0 {
			d.at[i], d.digits[i] = int32(p), uint8(n)
		}
	}
	return d
}

// Renew writes run, in hexadecimal, over the first digits of event i's auditID (the lowest digits last, the ones
// that fit): runs that differ within the digits the ID has give the event different identities. An event without
// an auditID is left alone.
func (d *IDs) Renew(events [][]byte, i int, run uint32) {
	at := d.at[i]
	if at < 0 {
		return
	}
	id := events[i][at : at+int32(d.digits[i])]
	for k := len(id) - 1; k >= 0; k-- {
		id[k] = "0123456789abcdef"[run&15]
		run >>= 4
	}
}

// RenewAll renews every event for the given run.
func (d *IDs) RenewAll(events [][]byte, run uint32) {
	for i := range events {
		d.Renew(events, i, run)
	}
}
