package normalize

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
)

// Gzip. CloudWatch Logs delivers subscription messages to Kinesis gzip-compressed, and a pipeline that reads such a
// stream without unpacking it (a Kafka topic fed from Kinesis with raw encoding, a forwarder posting the records
// as they are) hands the compressed bytes over as the body. A body that starts with gzip's magic bytes is
// decompressed and read as any other body; a gzip stream inside a gzip stream is not.

// defaultGzipBytes bounds the decompressed size of a gzip body when Config.MaxParseBytes sets none: a few KB of
// gzip can hold gigabytes.
const defaultGzipBytes = 64 << 20

// IsGzip reports whether b starts with gzip's magic bytes: Normalizer.Each decompresses such a body.
func IsGzip(b []byte) bool { return len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b }

// gunzip decompresses body into buf (reused), at most limit bytes: ErrTooLarge past that.
func gunzip(buf *bytes.Buffer, zr *gzip.Reader, body []byte, limit int) ([]byte, error) {
	if err := zr.Reset(bytes.NewReader(body)); err != nil {
		return nil, fmt.Errorf("%w: gzip: %v", ErrMalformed, err)
	}
	buf.Reset()
	n, err := io.Copy(buf, io.LimitReader(zr, int64(limit)+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("%w: gzip: %v", ErrMalformed, err)
	case n > int64(limit):
		return nil, ErrTooLarge
	}
	if err := zr.Close(); err != nil {
		return nil, fmt.Errorf("%w: gzip: %v", ErrMalformed, err)
	}
	return buf.Bytes(), nil
}
