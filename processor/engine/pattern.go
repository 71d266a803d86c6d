package engine

import (
	"bytes"
	"fmt"
	"net/netip"
	"regexp"
	"time"
	"unicode"
	"unicode/utf8"
	"unsafe"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// matcher tests one value. Matchers are built once per rule and shared by all goroutines.
type matcher interface {
	match(c *evalCtx, v []byte) bool
}

// evalCtx is the per-goroutine scratch space of one evaluation.
type evalCtx struct {
	lower []byte    // the value lower-cased, for case-insensitive globs
	at    time.Time // the event's time, set for the rules whose stages read it (newterms.go)
	// resIDs and cands are the index's scratch space for an event with more than one resource (index.go).
	resIDs, cands []int
	// idBuf holds the event's identity for the stateful rules' redelivery check (replay.go).
	idBuf []byte
	// unchanged says the run of a windowed rule counted the event only in windows that will not answer again
	// (windowedStats.update), which a second delivery cannot change: the redelivery memory need not keep it.
	unchanged bool
	// ownTime says the evaluation's time is the event's own, not the clock's (Engine.eventTime).
	ownTime bool
	// evRow and evRows hold the event's row while a pipeline runs (engine.go); key is new_terms' (newterms.go).
	evRow  row
	evRows [1]*row
	key    []byte
	// gen numbers the evaluation (0: no memo); memo, spans and arena hold the filter fields' values read in it
	// (expr.go).
	gen   uint32
	memo  []memoEntry
	spans []span
	// answers are the shared terms' answers (shared.go), valid for evaluation gen.
	answers []termAnswer
	arena   []byte
	// bs says the body of evaluation bsGen holds a backslash (prefilter.go).
	bsGen uint32
	bs    bool
	// origin is the caller's name for where the events come from (Evaluator.SetOrigin), kept by the windows they
	// count; 0 when unset.
	origin uint64
	// lookup is the lookup stages' (lookup.go).
	lookup lookupScratch
}

// begin starts the evaluation of a new event: the memo of the previous one is forgotten.
func (c *evalCtx) begin() {
	c.gen++
	if c.gen == 0 {
		clear(c.memo)
		clear(c.answers)
		c.bsGen = 0 // else the backslash answer of the last evaluation numbered 1 would be read again
		c.gen = 1
	}
	c.spans, c.arena = c.spans[:0], c.arena[:0]
}

// lowerASCII returns v lower-cased, reusing c.lower, as Elasticsearch's lowercase filter reads a text field
// (text.go). Non-ASCII input falls back to Unicode lower-casing. Case-insensitive globs fold instead (fold.go).
func (c *evalCtx) lowerASCII(v []byte) []byte {
	for _, ch := range v {
		if ch >= utf8.RuneSelf {
			// Rune by rune into the reused buffer: bytes.ToLower would allocate for every such value.
			c.lower = c.lower[:0]
			for i := 0; i < len(v); {
				r, n := utf8.DecodeRune(v[i:])
				if r == utf8.RuneError && n == 1 {
					c.lower = append(c.lower, v[i])
				} else {
					c.lower = utf8.AppendRune(c.lower, unicode.ToLower(r))
				}
				i += n
			}
			return c.lower
		}
	}
	out := append(c.lower[:0], v...)
	if cap(out) > cap(c.lower) { // stored only when it grew, as evalCtx.fold
		c.lower = out
	}
	for i, ch := range out {
		if 'A' <= ch && ch <= 'Z' {
			out[i] = ch + ('a' - 'A')
		}
	}
	return out
}

func compilePattern(p rule.Pattern) (matcher, error) {
	switch p.Kind {
	case rule.Glob:
		return compileGlob(p.Text, p.CaseSensitive), nil
	case rule.Regex:
		if err := rule.CheckRegexLength(p.Text); err != nil {
			return nil, err
		}
		src := p.Text
		if !p.CaseSensitive {
			src = "(?i)" + src
		}
		re, err := regexp.Compile(src)
		if err != nil {
			return nil, fmt.Errorf("invalid regular expression %q: %w", p.Text, err)
		}
		if err := rule.CheckRegex(src); err != nil {
			return nil, err
		}
		return regexMatcher{re: re, lits: newLiteralFilter(src)}, nil
	case rule.CIDR:
		prefix, err := netip.ParsePrefix(p.Text)
		if err != nil {
			return nil, fmt.Errorf("invalid CIDR %q: %w", p.Text, err)
		}
		return cidrMatcher{prefix.Masked()}, nil
	case rule.IP:
		addr, err := parseIP(p.Text)
		if err != nil {
			return nil, err
		}
		// The one-address network: the cidr matcher already reads an IPv4-mapped value as its IPv4 address.
		return cidrMatcher{netip.PrefixFrom(addr, addr.BitLen())}, nil
	case rule.Number:
		num, ok := numberOf([]byte(p.Text))
		if !ok {
			return nil, fmt.Errorf("%q is not a number", p.Text)
		}
		return numberMatcher{num: num, text: []byte(p.Text)}, nil
	case rule.Phrase, rule.Token:
		return compileText(p)
	case rule.String:
		return compileGlob(rule.EscapeGlob(p.Text), p.CaseSensitive), nil
	}
	return nil, fmt.Errorf("unknown pattern kind %d", p.Kind)
}

// globTok is one piece of a glob: literal bytes, `*` (star) or `?` (one rune).
type globTok struct {
	lit  []byte
	star bool
	one  bool
}

func parseGlob(text string, caseSensitive bool) []globTok {
	var toks []globTok
	var lit []byte
	flush := func() {
		if len(lit) > 0 {
			if !caseSensitive {
				lit = appendFold(nil, lit)
			}
			toks = append(toks, globTok{lit: lit})
			lit = nil
		}
	}
	for i := 0; i < len(text); i++ {
		switch ch := text[i]; {
		case ch == '\\' && i+1 < len(text):
			i++
			lit = append(lit, text[i])
		case ch == '*':
			flush()
			if len(toks) == 0 || !toks[len(toks)-1].star {
				toks = append(toks, globTok{star: true})
			}
		case ch == '?':
			flush()
			toks = append(toks, globTok{one: true})
		default:
			lit = append(lit, ch)
		}
	}
	flush()
	return toks
}

// compileGlob picks the cheapest matcher for the pattern's shape: exact, prefix, suffix, contains, or general.
func compileGlob(text string, caseSensitive bool) matcher {
	toks := parseGlob(text, caseSensitive)
	fold := !caseSensitive
	switch {
	case len(toks) == 0:
		return exactMatcher{fold: fold}
	case len(toks) == 1 && toks[0].star:
		return anyMatcher{}
	case len(toks) == 1 && toks[0].lit != nil:
		return exactMatcher{lit: toks[0].lit, fold: fold}
	case len(toks) == 2 && toks[0].lit != nil && toks[1].star:
		return affixMatcher{lit: toks[0].lit, fold: fold, prefix: true}
	case len(toks) == 2 && toks[0].star && toks[1].lit != nil:
		return affixMatcher{lit: toks[1].lit, fold: fold}
	case len(toks) == 3 && toks[0].star && toks[1].lit != nil && toks[2].star:
		return containsMatcher{lit: toks[1].lit, fold: fold}
	}
	return globMatcher{toks: toks, fold: fold}
}

type anyMatcher struct{}

func (anyMatcher) match(*evalCtx, []byte) bool { return true }

type exactMatcher struct {
	lit  []byte
	fold bool
}

func (m exactMatcher) match(_ *evalCtx, v []byte) bool {
	if m.fold {
		return bytes.EqualFold(v, m.lit)
	}
	return bytes.Equal(v, m.lit)
}

type affixMatcher struct {
	lit    []byte
	fold   bool
	prefix bool
}

func (m affixMatcher) match(c *evalCtx, v []byte) bool {
	if m.fold && !isASCII(v) {
		// A folded character may be shorter than the value's (the Kelvin sign is three bytes, k one), never longer:
		// folding the 3×len(lit) bytes at the affix's end of v is enough, however long v is.
		v = c.fold(affixWindow(v, 3*len(m.lit)+utf8.UTFMax, m.prefix))
	}
	if len(v) < len(m.lit) {
		return false
	}
	var part []byte
	if m.prefix {
		part = v[:len(m.lit)]
	} else {
		part = v[len(v)-len(m.lit):]
	}
	if m.fold {
		return bytes.EqualFold(part, m.lit)
	}
	return bytes.Equal(part, m.lit)
}

// affixWindow returns the n bytes at the start (prefix) or end of v, the end's first byte moved to a character's
// start. A character cut at the start window's end folds to its raw bytes, after the n/3 bytes that matter.
func affixWindow(v []byte, n int, prefix bool) []byte {
	if len(v) <= n {
		return v
	}
	if prefix {
		return v[:n]
	}
	w := v[len(v)-n:]
	for len(w) > 0 && !utf8.RuneStart(w[0]) {
		w = w[1:]
	}
	return w
}

type containsMatcher struct {
	lit  []byte
	fold bool
}

func (m containsMatcher) match(c *evalCtx, v []byte) bool {
	if m.fold {
		v = c.fold(v)
	}
	return bytes.Contains(v, m.lit)
}

type globMatcher struct {
	toks []globTok
	fold bool
}

func (m globMatcher) match(c *evalCtx, v []byte) bool {
	if m.fold {
		v = c.fold(v)
	}
	return globMatch(m.toks, v)
}

// globMatch is the classic linear-backtracking wildcard match: on a mismatch it retries from the last star, one
// character further on, so it runs in O(len(toks) × len(v)) at worst, never exponentially. A last star takes whatever
// is left: without that, `?*` (KQL's `field:*`) retried the end of the value character by character.
func globMatch(toks []globTok, v []byte) bool {
	ti, vi := 0, 0
	starTi, starVi := -1, 0
	for {
		if ti < len(toks) {
			t := toks[ti]
			switch {
			case t.star:
				if ti == len(toks)-1 {
					return true
				}
				starTi, starVi = ti, vi
				ti++
				continue
			case t.one:
				if vi < len(v) {
					_, size := utf8.DecodeRune(v[vi:])
					vi += size
					ti++
					continue
				}
			default:
				if bytes.HasPrefix(v[vi:], t.lit) {
					vi += len(t.lit)
					ti++
					continue
				}
			}
		} else if vi == len(v) {
			return true
		}
		if starTi < 0 || starVi >= len(v) {
			return false
		}
		// One character further, as ? takes one: a byte further let `*??` match "K" (the Kelvin sign), one
		// character of three bytes, as if it were three.
		_, size := utf8.DecodeRune(v[starVi:])
		starVi += size
		ti, vi = starTi+1, starVi
	}
}

type regexMatcher struct {
	re   *regexp.Regexp
	lits literalFilter // strings every match contains one of (regexfilter.go)
}

func (m regexMatcher) match(_ *evalCtx, v []byte) bool {
	return m.lits.mayMatch(b2s(v)) && m.re.Match(v)
}

type cidrMatcher struct{ prefix netip.Prefix }

func (m cidrMatcher) match(_ *evalCtx, v []byte) bool {
	addr, err := netip.ParseAddr(b2s(v))
	if err != nil {
		return false
	}
	return m.prefix.Contains(addr.Unmap())
}

// parseIP reads a rule.IP pattern's address, unmapped (::ffff:10.0.0.1 is 10.0.0.1) and without a zone.
func parseIP(text string) (netip.Addr, error) {
	addr, err := netip.ParseAddr(text)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("invalid IP address %q", text)
	}
	return addr.Unmap().WithZone(""), nil
}

// numberMatcher is rule.Number.
type numberMatcher struct {
	num  float64
	text []byte
}

func (m numberMatcher) match(_ *evalCtx, v []byte) bool {
	if x, ok := numberOf(v); ok {
		return x == m.num
	}
	return bytes.Equal(v, m.text)
}

// numberOf parses a value as a number the way Splunk's comparisons do: only the whole value counts, and only a
// decimal number (an optional sign, digits with an optional fraction, an optional exponent). ParseFloat alone would
// also take "nan", "inf" and hex floats, and a value "nan" would then be both <= 5 and >= 5.
// It is rule.ParseNumber, which eval's arithmetic reads numbers by too.
func numberOf(v []byte) (float64, bool) { return rule.ParseNumber(b2s(v)) }

// b2s views bytes as a string without copying; the string must not outlive the bytes.
func b2s(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}
