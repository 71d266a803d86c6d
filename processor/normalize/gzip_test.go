package normalize

import (
	"bytes"
	"compress/gzip"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func gz(t *testing.T, s string) string {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	_, err := w.Write([]byte(s))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return b.String()
}

// TestEachGzip: a gzip-compressed body (CloudWatch subscription messages as Kinesis carries them) is read as what
// it holds, bounded in size; one that does not decompress, or holds gzip again, is malformed.
func TestEachGzip(t *testing.T) {
	envelope := `{"messageType":"DATA_MESSAGE","owner":"123456789012","logGroup":"/aws/eks/prod-eks/cluster",` +
		`"logEvents":[{"id":"1","timestamp":1796548441341,"message":` + quote(nativeEvent) + `}]}`
	eksProv := map[string]string{
		AttrCloudProvider: "aws", AttrCloudPlatform: "aws_eks", AttrCloudAccountID: "123456789012", AttrClusterName: "prod-eks",
	}
	n := New(Config{})
	got, f, err := collect(t, n, gz(t, envelope))
	require.NoError(t, err)
	assert.Equal(t, EKS, f)
	assert.Equal(t, []found{{nativeEvent, eksProv}}, got)

	got, f, err = collect(t, n, gz(t, nativeEvent+"\n"))
	require.NoError(t, err)
	assert.Equal(t, Native, f)
	assert.Equal(t, []found{{nativeEvent + "\n", nil}}, got)

	// Two gzip members one after the other (concatenated records) are one stream.
	got, _, err = collect(t, n, gz(t, `{"kind":"EventList","items":[`+nativeEvent)+gz(t, `,`+secondEvent+`]}`))
	require.NoError(t, err)
	assert.Equal(t, []found{{nativeEvent, nil}, {secondEvent, nil}}, got)

	for name, body := range map[string]string{
		"cut short":        gz(t, envelope)[:20],
		"bad checksum":     func() string { b := []byte(gz(t, envelope)); b[len(b)-6] ^= 0xff; return string(b) }(),
		"gzip inside gzip": gz(t, gz(t, nativeEvent)),
	} {
		_, _, err := collect(t, n, body)
		assert.ErrorIs(t, err, ErrMalformed, name)
	}

	// A small body that decompresses past the bound is not decompressed further.
	bomb := gz(t, `{"verb":"`+string(bytes.Repeat([]byte("a"), 1<<20))+`"}`)
	require.Less(t, len(bomb), 4<<10)
	_, _, err = collect(t, New(Config{MaxParseBytes: 64 << 10}), bomb)
	assert.ErrorIs(t, err, ErrTooLarge)
	_, f, err = collect(t, New(Config{MaxParseBytes: 2 << 20}), bomb)
	assert.NoError(t, err, "within the bound")
	assert.Equal(t, Native, f)
}

// TestEachGzipEventListPastParseBound: a gzip EventList that decompresses past MaxParseBytes is read as a plain one
// of that size is, item by item (the caller bounds each), up to MaxGzipBytes; past that it stops, as a bomb must.
// Other shapes still stop at MaxParseBytes.
func TestEachGzipEventListPastParseBound(t *testing.T) {
	const parse, hard = 4 << 10, 256 << 10
	n := New(Config{MaxParseBytes: parse, MaxGzipBytes: hard})
	var items []string
	var want []found
	for len(strings.Join(items, ",")) <= 3*parse {
		items = append(items, nativeEvent, secondEvent)
		want = append(want, found{nativeEvent, nil}, found{secondEvent, nil})
	}
	list := `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[` + strings.Join(items, ",") + `]}`
	got, f, err := collect(t, n, gz(t, list))
	require.NoError(t, err)
	assert.Equal(t, EventList, f)
	assert.Equal(t, want, got, "every item, in order")
	var zr gzip.Reader
	scratch, plain, err := gunzip(nil, &zr, []byte(gz(t, list)), parse, func([]byte) int { return hard })
	require.NoError(t, err)
	assert.Equal(t, list, string(plain))
	assert.Equal(t, len(list)+1, cap(plain), "counted, then held in one buffer of its size")
	assert.LessOrEqual(t, cap(scratch), parse+1, "the scratch kept for the next body grows no further than MaxParseBytes")

	// Within the bound, the first member's start decides: kind after items is not seen in the part decompressed.
	late := `{"apiVersion":"audit.k8s.io/v1","items":[` + strings.Join(items, ",") + `],"kind":"EventList"}`
	_, _, err = collect(t, New(Config{MaxParseBytes: len(late)}), gz(t, late))
	require.NoError(t, err, "read whole within MaxParseBytes")
	_, _, err = collect(t, n, gz(t, late))
	assert.ErrorIs(t, err, ErrTooLarge)

	// Not accepted, it is counted as a plain one would be.
	_, f, err = collect(t, New(Config{Formats: 1 << Native, MaxParseBytes: parse}), gz(t, list))
	assert.Equal(t, EventList, f)
	assert.ErrorIs(t, err, ErrNotAccepted)

	// A bomb: an EventList of a few KB that decompresses to 8 MiB stops at MaxGzipBytes.
	bomb := gz(t, `{"kind":"EventList","items":[{"verb":"`+strings.Repeat("a", 8<<20)+`"}]}`)
	require.Less(t, len(bomb), 16<<10)
	called := false
	_, err = n.Each([]byte(bomb), func(Event) { called = true })
	assert.ErrorIs(t, err, ErrTooLarge)
	assert.False(t, called)
	scratch, _, err = gunzip(nil, &zr, []byte(bomb), parse, func([]byte) int { return hard })
	assert.ErrorIs(t, err, ErrTooLarge)
	assert.LessOrEqual(t, cap(scratch), parse+1, "counted past MaxParseBytes, not held: no buffer of the bound")
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, _, err = gunzip(scratch, &zr, []byte(bomb), parse, func([]byte) int { return hard })
	runtime.ReadMemStats(&after)
	assert.ErrorIs(t, err, ErrTooLarge)
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(hard/2), "a bomb past the bound is counted, not held")
	// With no bound of its own it stops at 64 MiB.
	_, _, err = collect(t, New(Config{MaxParseBytes: parse}), gzBomb(t, `{"kind":"EventList","items":[{"verb":"`, defaultGzipBytes))
	assert.ErrorIs(t, err, ErrTooLarge)

	// Another shape past MaxParseBytes still stops there.
	padded := `{"kind":"Event","verb":"` + strings.Repeat("a", 2*parse) + `"}`
	_, _, err = collect(t, n, gz(t, padded))
	assert.ErrorIs(t, err, ErrTooLarge)
}

// gzBomb is prefix followed by n bytes of "a", gzip-compressed fast: a few KB per 64 MiB.
func gzBomb(t *testing.T, prefix string, n int) string {
	t.Helper()
	var b bytes.Buffer
	w, err := gzip.NewWriterLevel(&b, gzip.BestSpeed)
	require.NoError(t, err)
	_, err = w.Write([]byte(prefix))
	require.NoError(t, err)
	chunk := bytes.Repeat([]byte("a"), 1<<20)
	for ; n > 0; n -= len(chunk) {
		_, err = w.Write(chunk[:min(n, len(chunk))])
		require.NoError(t, err)
	}
	require.NoError(t, w.Close())
	return b.String()
}

// emptyMembers is n empty gzip members (23 bytes each, nothing decompressed), as a sender may put before a body.
func emptyMembers(t *testing.T, n int) string {
	t.Helper()
	one := gz(t, "")
	require.Len(t, one, 23)
	return strings.Repeat(one, n)
}

// TestEachGzipBoundsItsInput: what a gzip body may decompress to is bounded, and so is the compressed input read to
// get there. Empty members (or empty deflate blocks) cost their decompression and decompress to nothing, so a body
// of any size would be read in full: a body past max_body_bytes compressed, refused unread before gzip EventLists
// were read past it, cost about 1.1 s per 64 MiB and was evaluated. No encoder writes more than a little over what it
// compresses, so the input is bounded by the output's bound; past it the body is ErrTooLarge.
func TestEachGzipBoundsItsInput(t *testing.T) {
	const parse, hard = 4 << 10, 1 << 20
	n := New(Config{MaxParseBytes: parse, MaxGzipBytes: hard})
	called := false
	_, err := n.Each([]byte(emptyMembers(t, 16<<10)+gz(t, nativeEvent)), func(Event) { called = true })
	assert.ErrorIs(t, err, ErrTooLarge, "368 KiB of input for a body bounded by 4 KiB")
	assert.False(t, called)

	// An EventList may take the input of its own bound, no more.
	var items []string
	for len(strings.Join(items, ",")) <= 2*parse {
		items = append(items, nativeEvent)
	}
	head := `{"kind":"EventList","items":[` + strings.Join(items, ",")
	_, err = n.Each([]byte(gz(t, head)+emptyMembers(t, 16<<10)+gz(t, "]}")), func(Event) {})
	assert.NoError(t, err, "368 KiB of input within an EventList's bound of 1 MiB")
	_, err = n.Each([]byte(gz(t, head)+emptyMembers(t, 64<<10)+gz(t, "]}")), func(Event) { called = true })
	assert.ErrorIs(t, err, ErrTooLarge, "1.4 MiB of input for an EventList bounded by 1 MiB")
	assert.False(t, called)

	// A body stored uncompressed is larger than what it holds (5 bytes per block, a header and a trailer): it is read.
	stored := func(s string) string {
		var b bytes.Buffer
		w, err := gzip.NewWriterLevel(&b, gzip.NoCompression)
		require.NoError(t, err)
		_, err = w.Write([]byte(s))
		require.NoError(t, err)
		require.NoError(t, w.Close())
		return b.String()
	}
	padded := `{"kind":"Event","verb":"` + strings.Repeat("a", parse-len(`{"kind":"Event","verb":""}`)) + `"}`
	require.Len(t, padded, parse)
	require.Greater(t, len(stored(padded)), parse)
	got, _, err := collect(t, n, stored(padded))
	require.NoError(t, err)
	assert.Equal(t, []found{{padded, nil}}, got)
	list := head + strings.Repeat(`,`+nativeEvent, hard/2/len(nativeEvent)) + `]}`
	require.Greater(t, len(stored(list)), hard/2)
	_, err = n.Each([]byte(stored(list)), func(Event) {})
	assert.NoError(t, err)
}
