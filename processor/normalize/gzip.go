package normalize

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
)

// Gzip. CloudWatch Logs delivers subscription messages to Kinesis gzip-compressed, and a pipeline that reads such a
// stream without unpacking it (a Kafka topic fed from Kinesis with raw encoding, a forwarder posting the records
// as they are) hands the compressed bytes over as the body. A body that starts with gzip's magic bytes is
// decompressed and read as any other body; a gzip stream inside a gzip stream is not.

// defaultGzipBytes is the hard bound on what a gzip body may decompress to (Config.MaxGzipBytes when unset): a few
// KB of gzip can hold gigabytes. Bodies are bounded by MaxParseBytes before it; only an EventList, whose items are
// bounded one by one, goes on past that, to this.
const defaultGzipBytes = 64 << 20

// IsGzip reports whether b starts with gzip's magic bytes: Normalizer.Each decompresses such a body.
func IsGzip(b []byte) bool { return len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b }

// gunzip decompresses body, at most limit bytes, into buf (reused: returned as scratch, never grown past limit+1,
// the byte that tells a body past it). Past limit, further is asked, with what was decompressed so far, for a larger
// bound to go on to (0: none); past that, or with none, it is ErrTooLarge. A body within the larger bound is returned
// in a buffer of its own, of its size, not kept as scratch. The compressed bytes read are bounded too (inputBound).
func gunzip(buf []byte, zr *gzip.Reader, body []byte, limit int, further func(head []byte) int) (scratch, plain []byte, err error) {
	fail := func(err error) error {
		if errors.Is(err, errInputBound) {
			return ErrTooLarge
		}
		return fmt.Errorf("%w: gzip: %v", ErrMalformed, err)
	}
	in := &boundedInput{body: body}
	in.allow(limit)
	if err := zr.Reset(in); err != nil {
		return buf, nil, fail(err)
	}
	buf, err = readUpTo(buf[:0], zr, limit)
	plain = buf
	if err == nil && len(buf) > limit {
		more := further(buf)
		if more <= limit {
			return buf, nil, ErrTooLarge
		}
		in.allow(more)
		// Counted before it is held: a bomb past the bound costs its decompression, not the allocation and page
		// faults of a buffer grown to the bound (several times as much). A batch within it is decompressed twice,
		// the second time into one buffer of its size.
		rest, err := io.Copy(io.Discard, io.LimitReader(zr, int64(more-len(buf))+1))
		if err != nil {
			return buf, nil, fail(err)
		}
		if limit = len(buf) + int(rest); limit > more {
			return buf, nil, ErrTooLarge
		}
		in.pos = 0
		if err := zr.Reset(in); err != nil {
			return buf, nil, fail(err)
		}
		plain, err = readUpTo(make([]byte, 0, limit+1), zr, limit)
	}
	switch {
	case err != nil:
		return buf, nil, fail(err)
	case len(plain) > limit:
		return buf, nil, ErrTooLarge
	}
	if err := zr.Close(); err != nil {
		return buf, nil, fail(err)
	}
	return buf, plain, nil
}

// inputBound is more compressed input than any encoder writes for n bytes: stored deflate blocks add 5 bytes per 64
// KiB, a gzip header holds at most 64 KiB of extra field (and 1 KiB of names, as Go reads them). Empty deflate blocks
// and empty members decompress to nothing and cost their decompression (about 17 ns a byte), so without it a body of
// any size would be read in full, where a plain body past max_body_bytes is refused unread.
func inputBound(n int) int { return n + n>>8 + 66<<10 }

// errInputBound stops a body that takes more input than inputBound of what it may decompress to.
var errInputBound = errors.New("compressed input past its bound")

// boundedInput reads body up to inputBound(n) bytes for the latest n allowed. It is a flate.Reader (io.ByteReader),
// so that gzip reads it directly, without a bufio.Reader in between.
type boundedInput struct {
	body     []byte
	pos, end int
}

func (r *boundedInput) allow(n int) { r.end = min(len(r.body), inputBound(n)) }

func (r *boundedInput) ReadByte() (byte, error) {
	if r.pos >= r.end {
		return 0, r.stop()
	}
	c := r.body[r.pos]
	r.pos++
	return c, nil
}

func (r *boundedInput) Read(p []byte) (int, error) {
	if r.pos >= r.end {
		return 0, r.stop()
	}
	n := copy(p, r.body[r.pos:r.end])
	r.pos += n
	return n, nil
}

func (r *boundedInput) stop() error {
	if r.end == len(r.body) {
		return io.EOF
	}
	return errInputBound
}

// readUpTo appends what r holds to buf, up to limit+1 bytes, growing it by doubling but never past that.
func readUpTo(buf []byte, r io.Reader, limit int) ([]byte, error) {
	for len(buf) <= limit {
		if len(buf) == cap(buf) {
			buf = append(make([]byte, 0, min(max(2*cap(buf), 4<<10), limit+1)), buf...)
		}
		n, err := r.Read(buf[len(buf):min(cap(buf), limit+1)])
		buf = buf[:len(buf)+n]
		switch {
		case err == io.EOF:
			return buf, nil
		case err != nil:
			return buf, err
		}
	}
	return buf, nil
}
