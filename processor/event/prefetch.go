package event

// Prefetch asks the CPU to start loading the parts of an audit event that rules read, without waiting for them: its
// head (the first prefetchHead bytes; verb, user, objectRef and responseStatus end within them in most of an API
// server's events: responseStatus starts by byte 777 in 99% of the generated mix), its last line, which Parser.Open
// reads to find the closing brace, and, with tail, its last prefetchTail bytes (the timestamps and the annotations).
// A collector hands the processor batches of records whose bodies are no longer in the CPU's caches; prefetching the
// next record's body while the current one is evaluated overlaps the wait for memory with work (docs/performance.md,
// "Prefetching the next record"). It reads nothing and cannot fault: a prefetch of any address is only a hint.
func Prefetch(body []byte, tail bool) {
	if len(body) == 0 {
		return
	}
	prefetch(&body[0], min(len(body), prefetchHead))
	if len(body) > prefetchHead {
		from := len(body) - 1
		if tail {
			from = max(prefetchHead, len(body)-prefetchTail)
		}
		prefetch(&body[from], len(body)-from)
	}
}

const (
	prefetchHead = 1024
	prefetchTail = 256
)
