package loader

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// gzippedWith is text gzip-compressed with the header h.
func gzippedWith(t testing.TB, h gzip.Header, text string) string {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Header = h
	_, err := w.Write([]byte(text))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return b.String()
}

// gzipped is text gzip-compressed at level.
func gzipped(t testing.TB, text string, level int) string {
	t.Helper()
	var b bytes.Buffer
	w, err := gzip.NewWriterLevel(&b, level)
	require.NoError(t, err)
	_, err = w.Write([]byte(text))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return b.String()
}

// TestGzippedLookupTables: a lookup table file named .csv.gz is gzip-compressed CSV (Splunk takes a table file whose
// name ends in .csv or .csv.gz), wherever a CSV file is taken: a lookup file's `filename:`, the lookups setting, a
// search that names the file (`lookup teams.csv.gz`), the built-in pack. Its errors of CSV are at the line and column
// of the decompressed text, in the .csv.gz file; two definitions alike whose tables are one plain and one compressed
// copy of the same CSV hold the same table.
func TestGzippedLookupTables(t *testing.T) {
	const table = "namespace,is_allowed\nkube-*,true\n"
	dir := layout(t, map[string]string{
		"detections/allow.yml":                allowlisted,
		"lookups/kube_allowed_namespaces.yml": nsLookup + "filename: allowed.csv.gz\n",
		"lookups/allowed.csv.gz":              gzipped(t, table, gzip.DefaultCompression),
	})
	res, err := Load(Options{Paths: []string{dir}})
	require.NoError(t, err)
	l := lookupStage(t, res.Rules[0])
	assert.Equal(t, [][]string{{"kube-*", "true"}}, l.Table.Rows, "the lookup file's filename:")
	assert.False(t, l.Table.CaseSensitive, "with the lookup file's settings")
	assert.Equal(t, filepath.Join(dir, "lookups", "allowed.csv.gz"), l.Table.Source)

	own := filepath.Join(t.TempDir(), "mine.csv.gz")
	require.NoError(t, os.WriteFile(own, []byte(gzipped(t, "namespace,is_allowed\nshop-*,true\n", gzip.BestSpeed)), 0o600))
	res, err = Load(Options{Paths: []string{dir}, Lookups: map[string]string{"kube_allowed_namespaces": own}})
	require.NoError(t, err)
	assert.Equal(t, [][]string{{"shop-*", "true"}}, lookupStage(t, res.Rules[0]).Table.Rows, "the lookups setting")

	byFile := detection("b", "By File", "verb=create\n  | lookup allowed.csv.gz namespace AS objectRef.namespace OUTPUT is_allowed")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "detections", "allow.yml"), []byte(byFile), 0o644))
	res, err = Load(Options{Paths: []string{dir}})
	require.NoError(t, err)
	l = lookupStage(t, res.Rules[0])
	assert.Equal(t, [2]any{"allowed.csv.gz", [][]string{{"kube-*", "true"}}}, [2]any{l.Table.Name, l.Table.Rows}, "by its file's name")
	missing := detection("b", "By File", "verb=create\n  | lookup other.csv.gz namespace AS objectRef.namespace OUTPUT is_allowed")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "detections", "allow.yml"), []byte(missing), 0o644))
	_, err = Load(Options{Paths: []string{dir}})
	assert.ErrorContains(t, err, `no lookup table file "other.csv.gz": no lookup loaded with the rules has it as its table`)

	pack := fstest.MapFS{
		"rules/allow.yml":                     {Data: []byte(allowlisted)},
		"lookups/kube_allowed_namespaces.yml": {Data: []byte(nsLookup + "filename: allowed.csv.gz\n")},
		"lookups/allowed.csv.gz":              {Data: []byte(gzipped(t, table, gzip.BestCompression))},
	}
	res, err = Load(Options{Paths: []string{Builtin}, Builtin: pack})
	require.NoError(t, err)
	assert.Equal(t, [][]string{{"kube-*", "true"}}, lookupStage(t, res.Rules[0]).Table.Rows, "the built-in pack's")

	broken := layout(t, map[string]string{
		"detections/allow.yml":                allowlisted,
		"lookups/kube_allowed_namespaces.yml": nsLookup + "filename: allowed.csv.gz\n",
		"lookups/allowed.csv.gz":              gzipped(t, "namespace,is_allowed\nkube-system,true,extra\n", gzip.DefaultCompression),
	})
	_, err = Load(Options{Paths: []string{broken}})
	assert.ErrorContains(t, err, filepath.Join(broken, "lookups", "allowed.csv.gz")+":2:18: 3 fields, where the header has 2")

	twice := layout(t, map[string]string{
		"detections/allow.yml": allowlisted,
		"a/ns.yml":             "name: kube_allowed_namespaces\nfilename: ns.csv\n",
		"a/ns.csv":             table,
		"b/ns.yml":             "name: kube_allowed_namespaces\nfilename: ns.csv.gz\n",
		"b/ns.csv.gz":          gzipped(t, table, gzip.DefaultCompression),
	})
	_, err = Load(Options{Paths: []string{twice}})
	require.NoError(t, err, "one table, compressed or not")
}

// TestGzippedLookupErrors: a .csv.gz file that is not gzip, empty, truncated or corrupt, and a .csv file that holds
// gzip, fail the rules that name the lookup, with the file's name and what is wrong with it; none panics.
func TestGzippedLookupErrors(t *testing.T) {
	valid := gzipped(t, "namespace,is_allowed\nkube-*,true\n", gzip.DefaultCompression)
	withCRC := []byte(valid)
	binary.LittleEndian.PutUint32(withCRC[len(withCRC)-8:], binary.LittleEndian.Uint32(withCRC[len(withCRC)-8:])^1)
	// A gzip header (no flags) and a deflate block of the reserved type 3.
	badBlock := string([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 0x07, 0, 0})
	tests := []struct{ name, file, content, reason string }{
		{"plain CSV named .csv.gz", "t.csv.gz", "namespace,is_allowed\nkube-*,true\n",
			"lookup file is not gzip-compressed, as its name (.csv.gz) says it is: compress it with gzip, or name it .csv"},
		{"empty", "t.csv.gz", "", "lookup file is empty, where gzip-compressed CSV is expected (its name ends in .csv.gz)"},
		{"truncated", "t.csv.gz", valid[:len(valid)-12], "lookup file is truncated: its gzip data ends early"},
		{"truncated header", "t.csv.gz", valid[:5], "lookup file is truncated: its gzip data ends early"},
		{"checksum", "t.csv.gz", string(withCRC), "lookup file is corrupt: its gzip checksum does not match its content"},
		{"invalid deflate data", "t.csv.gz", badBlock, "lookup file is corrupt: invalid compressed data before byte 1 of its deflate stream"},
		{"garbage after the gzip data", "t.csv.gz", valid + "namespace\n", "lookup file is corrupt: what follows its gzip data is not gzip"},
		{"gzip named .csv", "t.csv", valid, "lookup file holds gzip-compressed data: name it .csv.gz (a table file's name says whether it is compressed)"},
		// Shorter than a gzip header: not gzip, where gzip.Reader says only that it ended early.
		{"short plain CSV named .csv.gz", "t.csv.gz", "user\nbob\n", "lookup file is not gzip-compressed, as its name (.csv.gz) says it is"},
		{"a few bytes after the gzip data", "t.csv.gz", valid + "\x01\x02\x03", "lookup file is corrupt: what follows its gzip data is not gzip"},
		{"zeros, then something else", "t.csv.gz", valid + strings.Repeat("\x00", 100) + valid, "lookup file is corrupt: what follows its gzip data is not gzip"},
		// gzip, with a header gzip.Reader refuses (gzip -d reads it): not "not gzip".
		{"long comment", "t.csv.gz", gzippedWith(t, gzip.Header{Comment: strings.Repeat("c", 600)}, "user\nbob\n"),
			"lookup file is corrupt, or its gzip header is not one this reads: a compression method other than deflate, " +
				"a header checksum that does not match, or a file name or comment longer than 511 bytes"},
		{"long name in a second member", "t.csv.gz", valid + gzippedWith(t, gzip.Header{Name: strings.Repeat("n", 600)}, "shop,true\n"),
			"lookup file is corrupt, or its gzip header is not one this reads"},
		{"not deflate", "t.csv.gz", valid[:2] + "\x07" + valid[3:], "lookup file is corrupt, or its gzip header is not one this reads"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), tt.file)
			require.NoError(t, os.WriteFile(file, []byte(tt.content), 0o600))
			opts := Options{Paths: []string{layout(t, map[string]string{"allow.yml": allowlisted})},
				Lookups: map[string]string{"kube_allowed_namespaces": file}}
			_, err := Load(opts)
			assert.ErrorContains(t, err, `rule "Allowlisted": lookup kube_allowed_namespaces: `+file+": "+tt.reason)
			_, err = Digest(opts)
			assert.NoError(t, err, "the reload check reads it too, and leaves the error to the load")
		})
	}
}

// TestGzippedLookupMembers: a .csv.gz file of several gzip members is their concatenation, an empty member among
// them adds nothing, and zero bytes after the last member are padding (of a tape or disk block), read as its end, as
// gzip -d and Python's gzip read them: a few (fewer than a gzip header) or many.
func TestGzippedLookupMembers(t *testing.T) {
	members := gzipped(t, "namespace,is_allowed\nkube-*,", gzip.BestSpeed) + gzipped(t, "", gzip.DefaultCompression) +
		gzipped(t, "true\nshop,true\n", gzip.BestCompression)
	for _, padding := range []int{0, 1, 9, 4096} {
		file := filepath.Join(t.TempDir(), "t.csv.gz")
		require.NoError(t, os.WriteFile(file, []byte(members+strings.Repeat("\x00", padding)), 0o600))
		res, err := Load(Options{Paths: []string{layout(t, map[string]string{"allow.yml": allowlisted})},
			Lookups: map[string]string{"kube_allowed_namespaces": file}})
		require.NoError(t, err, "%d zero bytes after the last member", padding)
		assert.Equal(t, [][]string{{"kube-*", "true"}, {"shop", "true"}}, lookupStage(t, res.Rules[0]).Table.Rows)
	}
}

// TestGzippedLookupBomb: a small .csv.gz file that inflates far past the limit of one table (a gzip bomb: 1 GiB from
// about 1 MiB) fails at the limit, having decompressed no more than it; the reload check stops there too.
func TestGzippedLookupBomb(t *testing.T) {
	member := gzipped(t, "namespace,is_allowed\n"+strings.Repeat("x", 1<<20-21), gzip.BestCompression)
	file := filepath.Join(t.TempDir(), "bomb.csv.gz")
	require.NoError(t, os.WriteFile(file, []byte(strings.Repeat(member, 1024)), 0o600)) // one gzip member after another
	opts := Options{Paths: []string{layout(t, map[string]string{"allow.yml": allowlisted})},
		Lookups: map[string]string{"kube_allowed_namespaces": file}}

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Load(opts)
	runtime.ReadMemStats(&after)
	assert.ErrorContains(t, err, file+": lookup file decompresses to more than 33554432 bytes, the limit for one lookup table")
	// About 80 MB (a 32 MiB table read whole, as a plain one is), twice that under the race detector.
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<30/4), "bytes allocated by the load of a 1 GiB table")

	read := 0
	g := countingDigester(&read)
	_, err = g.Digest(opts)
	require.NoError(t, err)
	assert.Less(t, read, len(member)*40, "compressed bytes the reload check read (of %d)", len(member)*1024)
}

// TestGzippedLookupInputBound: a .csv.gz file that decompresses to nothing from a great deal (empty gzip members, each
// with a 64 KiB extra field in its header; deflate's empty stored blocks would do as well, more slowly) fails at twice
// the limit of a table's CSV, having read no more of the file: without the bound it would be read whole at each load
// and each reload check that reads it.
func TestGzippedLookupInputBound(t *testing.T) {
	member := []byte(gzippedWith(t, gzip.Header{Extra: make([]byte, 1<<16-1)}, ""))
	file := filepath.Join(t.TempDir(), "empty.csv.gz")
	f, err := os.Create(file)
	require.NoError(t, err)
	size := 0
	for size <= maxGzipTableBytes+1<<20 {
		_, err = f.Write(member)
		require.NoError(t, err)
		size += len(member)
	}
	require.NoError(t, f.Close())
	opts := Options{Paths: []string{layout(t, map[string]string{"allow.yml": allowlisted})},
		Lookups: map[string]string{"kube_allowed_namespaces": file}}

	_, err = Load(opts)
	assert.ErrorContains(t, err, file+": lookup file is larger than 67108864 bytes, the limit for a gzip-compressed lookup table")

	read := 0
	g := countingDigester(&read)
	_, err = g.Digest(opts)
	require.NoError(t, err)
	assert.LessOrEqual(t, read, maxGzipTableBytes+1, "bytes the reload check read (of %d)", size)
}

// readCounter counts the bytes read through it.
// countingDigester is a Digester that adds to *read the bytes it reads of lookup tables' files.
func countingDigester(read *int) *Digester {
	g := NewDigester()
	g.open = func(fsys fs.FS, name string) (io.ReadCloser, error) {
		f, err := openLookupFile(fsys, name)
		return readCounter{f, read}, err
	}
	return g
}

type readCounter struct {
	io.ReadCloser
	n *int
}

func (r readCounter) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	*r.n += n
	return n, err
}

// TestDigesterReadsGzippedTables: the reload check digests a .csv.gz table as the load reads it, decompressed: a
// changed table is seen, a table compressed again without a change is not (it would reload nothing new), and a
// check with nothing changed opens no table, as for a plain CSV file.
func TestDigesterReadsGzippedTables(t *testing.T) {
	dir := layout(t, map[string]string{
		"lookups/kube_allowed_namespaces.yml": nsLookup + "filename: allowed.csv.gz\n",
		"lookups/allowed.csv.gz":              gzipped(t, "namespace,is_allowed\nkube-*,true\n", gzip.DefaultCompression),
		"allow.yml":                           allowlisted,
	})
	table := filepath.Join(dir, "lookups", "allowed.csv.gz")
	own := filepath.Join(t.TempDir(), "own.csv.gz")
	require.NoError(t, os.WriteFile(own, []byte(gzipped(t, "user\nalice\n", gzip.DefaultCompression)), 0o600))
	opts := Options{Paths: []string{dir}, Lookups: map[string]string{"users": own}}

	g := NewDigester()
	now := time.Now().Add(time.Hour) // the files were written long ago
	g.now = func() time.Time { return now }
	reads := map[string]int{}
	g.open = func(fsys fs.FS, name string) (io.ReadCloser, error) {
		reads[filepath.Base(name)]++
		return openLookupFile(fsys, name)
	}
	check := func(msg string) Fingerprint {
		t.Helper()
		clear(reads)
		got, err := g.Digest(opts)
		require.NoError(t, err)
		want, err := Digest(opts)
		require.NoError(t, err)
		require.Equal(t, want, got, "%s: the Digester's value is Digest's", msg)
		return got
	}

	first := check("first check")
	assert.Equal(t, map[string]int{"allowed.csv.gz": 1, "own.csv.gz": 1}, reads)
	assert.Equal(t, first, check("nothing changed"))
	assert.Empty(t, reads, "a check with nothing changed reads no table")

	require.NoError(t, os.WriteFile(table, []byte(gzipped(t, "namespace,is_allowed\nkube-*,true\nshop,true\n", gzip.DefaultCompression)), 0o600))
	second := check("a row added")
	assert.NotEqual(t, first, second)
	assert.Equal(t, map[string]int{"allowed.csv.gz": 1}, reads, "only the table whose stat changed")

	require.NoError(t, os.WriteFile(own, []byte(gzipped(t, "user\nalice\n", gzip.BestCompression)), 0o600))
	rewritten(t, own)
	assert.Equal(t, second, check("the same table compressed again"))
	assert.Equal(t, map[string]int{"own.csv.gz": 1}, reads, "read again, its stat changed")

	require.NoError(t, os.WriteFile(own, []byte(gzipped(t, "user\nalice\n", gzip.BestCompression)[:20]), 0o600))
	assert.NotEqual(t, second, check("truncated"))
}

// rewritten gives a file just rewritten at its size a modification time of its own (an hour ago, where a test's files
// are written now): its stat then tells the change however coarse the file system's times are. Two writes within
// one tick of the kernel's file clock (a few milliseconds, without Linux 6.13's fine-grained times) share their
// times, and only the racy window, which a Digester whose clock is an hour on has left behind, would tell them apart.
func rewritten(t *testing.T, name string) {
	t.Helper()
	mod := time.Now().Add(-time.Hour)
	require.NoError(t, os.Chtimes(name, mod, mod))
}

// TestDigesterKeepsGzipFaults: a .csv.gz file that does not decompress (corrupt, or past the limit of what is read of
// one) is a fault of its content, which a stat tells a change of as well as of any other content: unchanged, the
// reload check does not read it again (up to 64 MiB, at each check), as a table that reads is not. A failure to read
// the file itself is not its content, and is read again.
func TestDigesterKeepsGzipFaults(t *testing.T) {
	valid := []byte(gzipped(t, "user\nalice\n", gzip.DefaultCompression))
	corrupt := bytes.Clone(valid)
	corrupt[len(corrupt)-5] ^= 1 // the CRC
	own := filepath.Join(t.TempDir(), "own.csv.gz")
	require.NoError(t, os.WriteFile(own, corrupt, 0o600))
	opts := Options{Paths: []string{layout(t, map[string]string{"allow.yml": allowlisted})}, Lookups: map[string]string{"users": own}}

	g := NewDigester()
	now := time.Now().Add(time.Hour) // the file was written long ago
	g.now = func() time.Time { return now }
	reads := 0
	g.open = func(fsys fs.FS, name string) (io.ReadCloser, error) {
		reads++
		return openLookupFile(fsys, name)
	}
	first, err := g.Digest(opts)
	require.NoError(t, err)
	second, err := g.Digest(opts)
	require.NoError(t, err)
	assert.Equal(t, first, second)
	assert.Equal(t, 1, reads, "the corrupt table, unchanged, is read once")

	require.NoError(t, os.WriteFile(own, valid, 0o600))
	rewritten(t, own)
	third, err := g.Digest(opts)
	require.NoError(t, err)
	assert.NotEqual(t, second, third, "mended")
	assert.Equal(t, 2, reads)

	g.open = func(fsys fs.FS, name string) (io.ReadCloser, error) {
		reads++
		return nil, errors.New("input/output error")
	}
	g.tables = nil
	for range 2 {
		_, err = g.Digest(opts)
		require.NoError(t, err)
	}
	assert.Equal(t, 4, reads, "a file that does not read is read again at each check")
}

// FuzzGzipTable: no .csv.gz content panics or hangs the reading of a table, and every error names the file.
func FuzzGzipTable(f *testing.F) {
	valid := gzipped(f, "user\nalice\n", gzip.DefaultCompression)
	for _, seed := range []string{"", valid, valid + valid, valid + "\x00\x00", valid[:15], "user\n", valid[:2] + "\x07"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := readLookupFile(fstest.MapFS{"t.csv.gz": {Data: data}}, Builtin+":t.csv.gz")
		if err != nil && !strings.Contains(err.Error(), "t.csv.gz") {
			t.Fatalf("error does not name the file: %v", err)
		}
	})
}
