package normalize

import (
	"bytes"
	"compress/gzip"
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
