package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/auditdetect/auditdetect/processor/event"
	"github.com/auditdetect/auditdetect/processor/normalize"
)

// oneEventPerLine says what the tool's commands read, for a log they found no event in.
const oneEventPerLine = "the log must hold one JSON audit event (or EventList, or cloud export record) per line, as " +
	"the API server writes it; for a JSON array or pretty-printed JSON, `jq -c '.[]'` or `jq -c .` writes that"

// noEvents says why a log yielded no event: over -max-body-bytes, every one of them, when that is all that was left
// out; else the shape the tool reads.
func noEvents(st readStats, maxBody int) string {
	if st.oversized > 0 && st.unreadable == 0 {
		return fmt.Sprintf("every event is over -max-body-bytes %d (the processor passes such events on unevaluated); "+
			"raise it to read them", maxBody)
	}
	return oneEventPerLine
}

// readStats says what reading an audit log left out.
type readStats struct {
	events int
	// limited says the read stopped at the limit before the end of the log.
	limited bool
	// unreadable counts lines without a readable audit event (not JSON, another log's lines, a truncated event);
	// oversized events (or lines) over maxBody, which the processor passes on unevaluated.
	unreadable, oversized int
}

// maxLineBytes bounds a line of an audit log the tools hold whole: an EventList of a webhook batch may be larger than
// one event may (the processor slices it and bounds its items).
const maxLineBytes = 256 << 20

// readEvents calls fn with each audit event of an audit log, up to limit of them (0: all), found in each line as the
// processor finds them in a record's body: native events, EventLists, the cloud exports. path "-" is stdin; a
// gzip-compressed log (as the API server's --audit-log-compress writes rotated files) is decompressed. maxBody
// bounds each event, as the processor's max_body_bytes does (an EventList's items one by one); a line is never held
// whole past maxLine. The event is valid only during the call.
func readEvents(path string, limit, maxBody int, fn func(normalize.Event)) (readStats, error) {
	var st readStats
	maxLine := max(maxBody, maxLineBytes)
	var in io.Reader = os.Stdin
	if path != "-" {
		if info, err := os.Stat(path); err == nil && info.IsDir() {
			return st, fmt.Errorf("%s is a directory, not an audit log", path)
		}
		f, err := os.Open(path)
		if err != nil {
			return st, err
		}
		defer f.Close()
		in = f
	}
	br := bufio.NewReaderSize(in, 1<<16)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return st, fmt.Errorf("%s: %w", path, err)
		}
		defer gz.Close()
		br = bufio.NewReaderSize(gz, 1<<16)
	}
	norm := normalize.New(normalize.Config{MaxParseBytes: maxBody})
	full := func() bool { return limit > 0 && st.events >= limit }
	// add passes on the events of one line.
	add := func(line []byte) {
		// As the processor: a record (the line as filelog reads it, white space included) over maxBody is not read,
		// unless it is an EventList, whose items are bounded one by one.
		size := len(bytes.TrimRight(line, "\r\n"))
		if line = bytes.TrimSpace(line); len(line) == 0 {
			return
		}
		if size > maxBody {
			if f, _ := normalize.Detect(line); f != normalize.EventList {
				st.oversized++
				return
			}
		}
		found := false
		_, _ = norm.Each(line, func(ev normalize.Event) {
			switch {
			case full():
				st.limited = true
			case len(ev.Body) > maxBody:
				st.oversized++
				found = true
			case event.Valid(ev.Body) == nil:
				// The processor counts a malformed event (a truncated line) as unparsed and passes it on.
				st.events++
				fn(ev)
				found = true
			}
		})
		if !found && !st.limited {
			st.unreadable++
		}
	}
	var line []byte
	for !full() {
		chunk, err := br.ReadSlice('\n')
		switch {
		case len(line)+len(chunk) > maxLine+1: // +1: the newline
			// Too long to be read: skip the rest of the line.
			st.oversized++
			line = line[:0]
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
		case errors.Is(err, bufio.ErrBufferFull):
			line = append(line, chunk...)
			continue
		default:
			line = append(line, chunk...)
			add(line)
			line = line[:0]
		}
		if err == io.EOF {
			return st, nil
		}
		if err != nil {
			return st, fmt.Errorf("%s: %w", path, err)
		}
	}
	// Stopped by the limit: is there more?
	if _, err := br.Peek(1); err == nil {
		st.limited = true
	}
	return st, nil
}
