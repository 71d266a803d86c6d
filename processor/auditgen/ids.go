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

// NewIDs finds the auditID of each event: the value of its top-level "auditID" key, which the API server writes near
// the start of an event.
func NewIDs(events [][]byte) *IDs {
	d := &IDs{at: make([]int32, len(events)), digits: make([]uint8, len(events))}
	for i, body := range events {
		d.at[i] = -1
		p := topLevelValue(body, "auditID")
		if p < 0 || p >= len(body) || body[p] != '"' {
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

// topLevelValue returns the offset of the value of key in the object body, or -1: it follows strings and depth,
// so that neither a nested key nor a value spelled like the key is taken for it.
func topLevelValue(body []byte, key string) int {
	depth := 0
	for i := 0; i < len(body); i++ {
		switch body[i] {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		case '"':
			start := i
			for i++; i < len(body) && body[i] != '"'; i++ {
				if body[i] == '\\' {
					i++
				}
			}
			if depth != 1 || !bytes.Equal(body[start+1:min(i, len(body))], []byte(key)) {
				continue
			}
			p := i + 1
			for p < len(body) && (body[p] == ' ' || body[p] == '\t' || body[p] == '\n' || body[p] == '\r') {
				p++
			}
			if p >= len(body) || body[p] != ':' {
				continue // a value, not a key
			}
			for p++; p < len(body) && (body[p] == ' ' || body[p] == '\t' || body[p] == '\n' || body[p] == '\r'); p++ {
			}
			return p
		}
	}
	return -1
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

// RenewAll renews every event for pass (from 1), each with a number of its own (pass*len(events)+i): one number
// written over every event would make short IDs (eight characters or fewer) one identity. IDs shorter than the
// digits of their numbers can still meet; an API server's are UUIDs.
func (d *IDs) RenewAll(events [][]byte, pass uint32) {
	for i := range events {
		d.Renew(events, i, pass*uint32(len(events))+uint32(i))
	}
}
