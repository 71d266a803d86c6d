package loader

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/auditdetect/auditdetect/internal/suggest"
	"github.com/auditdetect/auditdetect/processor/escu"
	"github.com/auditdetect/auditdetect/processor/rule"
)

// Lookups. The lookup files among the rule paths (security_content's lookups/<name>.yml) define lookups; the CSV file
// each names is its table, read when a search first names the lookup, once for all the rules that do: a
// security_content folder copied whole brings hundreds of lookup files, of which the Kubernetes detections use few.
// The processor's `lookups` setting gives a lookup's CSV file: it replaces the table of a lookup a file defines
// (keeping how the file says it matches), or defines a lookup of Splunk's defaults.

// lookupSet is the lookups the rules can name; it is the spl.Lookups the detections compile against.
type lookupSet struct {
	defs map[string]*escu.LookupDef
	// others are further definitions of a name that the files define alike but with their own CSV files (two
	// copies of security_content): used only if their tables are the same.
	others map[string][]*escu.LookupDef
	tables map[string]lookupTable
	// used are the names a search asked for.
	used map[string]bool
	fsys fs.FS // the built-in pack, for its CSV files
}

type lookupTable struct {
	t   *rule.LookupTable
	err error
}

func newLookupSet(fsys fs.FS) *lookupSet {
	return &lookupSet{defs: map[string]*escu.LookupDef{}, others: map[string][]*escu.LookupDef{},
		tables: map[string]lookupTable{}, used: map[string]bool{}, fsys: fsys}
}

// add takes in a lookup file's definition; a second one of the name that matches differently is an error.
func (s *lookupSet) add(d *escu.LookupDef) error {
	prev, ok := s.defs[d.Name]
	if !ok {
		s.defs[d.Name] = d
		return nil
	}
	if !prev.SameSettings(d) {
		return &rule.Error{File: d.File, Line: d.Line, Column: d.Column, Reason: fmt.Sprintf(
			"lookup %q is also defined, differently, in %s:%d", d.Name, prev.File, prev.Line)}
	}
	if prev.CSV != d.CSV {
		s.others[d.Name] = append(s.others[d.Name], d)
	}
	return nil
}

// configure applies the lookups setting: name → CSV file.
func (s *lookupSet) configure(configured map[string]string) {
	for _, name := range slices.Sorted(maps.Keys(configured)) {
		file := configured[name]
		if d, ok := s.defs[name]; ok {
			s.defs[name] = d.WithCSV(file)
		} else {
			s.defs[name] = escu.ConfiguredLookup(name, file)
		}
		delete(s.others, name) // the configured table is the one
	}
}

// Table implements spl.Lookups: a lookup of the name, or else the table of the CSV file of the name (fileTable).
func (s *lookupSet) Table(name string) (*rule.LookupTable, bool, error) {
	d, ok := s.defs[name]
	if !ok {
		if rule.IsLookupFileName(name) {
			return s.fileTable(name)
		}
		return nil, false, nil
	}
	s.used[name] = true
	if r, ok := s.tables[name]; ok {
		return r.t, true, r.err
	}
	t, err := s.read(d)
	s.tables[name] = lookupTable{t, err}
	return t, true, err
}

func (s *lookupSet) read(d *escu.LookupDef) (*rule.LookupTable, error) {
	if d.Unusable != "" {
		return nil, fmt.Errorf("defined in %s as %s", d.File, d.Unusable)
	}
	data, err := readLookupFile(s.fsys, d.CSV)
	if err != nil {
		return nil, err
	}
	for _, o := range s.others[d.Name] {
		other, err := readLookupFile(s.fsys, o.CSV)
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(data, other) {
			return nil, fmt.Errorf("defined twice with different tables, %s (%s) and %s (%s): load one of them, or "+
				"give the table in the lookups setting", d.CSV, d.File, o.CSV, o.File)
		}
	}
	return escu.ReadLookupTable(d, d.CSV, data)
}

// fileTable is the table of the CSV file a search names in place of a lookup (`lookup users.csv ...`, or
// `users.csv.gz`), which Splunk's lookup command takes as "the name of a CSV file that you want to use as the
// lookup": the file of that name among the lookups' tables (a lookup file's, the lookups setting's), whatever lookup
// it belongs to. No lookup definition
// is involved, so none of its settings apply (match_type and the others are a transforms.conf stanza's, Knowledge
// Manager Manual): the table matches by Splunk's defaults. Two files of the name must hold the same table.
func (s *lookupSet) fileTable(file string) (*rule.LookupTable, bool, error) {
	var paths []string
	for _, name := range slices.Sorted(maps.Keys(s.defs)) {
		for _, d := range append([]*escu.LookupDef{s.defs[name]}, s.others[name]...) {
			if d.Kind == "csv" && path.Base(filepath.ToSlash(d.CSV)) == file {
				s.used[name] = true
				if !slices.Contains(paths, d.CSV) {
					paths = append(paths, d.CSV)
				}
			}
		}
	}
	if len(paths) == 0 {
		return nil, false, nil
	}
	if r, ok := s.tables[file]; ok {
		return r.t, true, r.err
	}
	t, err := s.readFile(file, paths)
	s.tables[file] = lookupTable{t, err}
	return t, true, err
}

func (s *lookupSet) readFile(file string, paths []string) (*rule.LookupTable, error) {
	data, err := readLookupFile(s.fsys, paths[0])
	if err != nil {
		return nil, err
	}
	for _, p := range paths[1:] {
		other, err := readLookupFile(s.fsys, p)
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(data, other) {
			return nil, fmt.Errorf("two lookup tables are named %s, with different rows: %s and %s (name the lookup "+
				"instead of its file)", file, paths[0], p)
		}
	}
	return escu.ReadLookupTable(escu.ConfiguredLookup(file, paths[0]), paths[0], data)
}

// checkUsed fails on a configured lookup that no search names: as for a configured macro, a misspelt name would leave
// the allow-list it gives silently unused.
func (s *lookupSet) checkUsed(configured map[string]string) error {
	known := slices.Sorted(maps.Keys(s.used))
	var msgs []string
	for _, name := range slices.Sorted(maps.Keys(configured)) {
		if s.used[name] {
			continue
		}
		msg := fmt.Sprintf("lookups: %q is named by no loaded rule, so it would change nothing", name)
		if best := suggest.Closest(name, known); best != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", best)
		} else if len(known) == 0 {
			msg += " (no loaded rule uses a lookup)"
		}
		msgs = append(msgs, msg)
	}
	if len(msgs) == 0 {
		return nil
	}
	return errors.New(strings.Join(msgs, "; "))
}

// CheckLookups checks the lookups setting on its own: names a search can write, and a file for each.
func CheckLookups(configured map[string]string) error {
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(configured)) {
		switch {
		case !escu.ValidLookupName(name):
			errs = append(errs, fmt.Errorf("lookups: %q is not a lookup name (letters, digits, and _ - . : only)", name))
		case strings.TrimSpace(configured[name]) == "":
			errs = append(errs, fmt.Errorf("lookups: %q: the CSV file's path is empty", name))
		}
	}
	return errors.Join(errs...)
}

// openLookupFile opens a lookup table file (CSV, or gzip-compressed CSV), of the built-in pack when it is named
// builtin:....
func openLookupFile(fsys fs.FS, name string) (io.ReadCloser, error) {
	if inPack, ok := strings.CutPrefix(name, Builtin+":"); ok {
		if fsys == nil {
			return nil, fmt.Errorf("%s: no built-in rule pack is available", name)
		}
		return fsys.Open(inPack)
	}
	return os.Open(name)
}

// readLookupFile reads a lookup table's CSV text (openLookupFile, then tableReader), up to escu.MaxLookupBytes.
func readLookupFile(fsys fs.FS, name string) ([]byte, error) {
	f, err := openLookupFile(fsys, name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var data []byte
	r, err := tableReader(name, f)
	if err == nil {
		data, err = io.ReadAll(io.LimitReader(r, escu.MaxLookupBytes+1))
	}
	if re := (*rule.Error)(nil); errors.As(err, &re) {
		return nil, err // a .csv.gz file's fault, said with its name
	} else if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(data) > escu.MaxLookupBytes {
		what := "lookup file is larger than"
		if isGzipTable(name) {
			what = "lookup file decompresses to more than"
		}
		return nil, &rule.Error{File: name, Reason: fmt.Sprintf("%s %d bytes, the limit for one lookup table", what, escu.MaxLookupBytes)}
	}
	if !isGzipTable(name) && bytes.HasPrefix(data, gzipMagic) {
		// No CSV starts so (0x8b begins no UTF-8 character, and Splunk reads only UTF-8 CSV): read as text, its
		// header would be binary noise, and the error a missing field's.
		return nil, &rule.Error{File: name, Reason: "lookup file holds gzip-compressed data: name it .csv.gz (a table " +
			"file's name says whether it is compressed)"}
	}
	return data, nil
}

// A lookup table file whose name ends in .csv.gz holds its CSV gzip-compressed. Splunk takes a table file by a name
// that ends in .csv or .csv.gz (Search Reference, inputlookup and outputlookup): the name says the format, here too,
// whatever the bytes (a misnamed file fails, saying so).
// The limits of a table bound what it decompresses to (escu.MaxLookupBytes, and the loader's rows and cells after
// it), read as a stream: a small file that would inflate to gigabytes (a gzip bomb) stops at the limit.
const gzipSuffix = ".csv.gz"

var gzipMagic = []byte{0x1f, 0x8b}

func isGzipTable(name string) bool { return strings.HasSuffix(name, gzipSuffix) }

// maxGzipTableBytes bounds what is read of a .csv.gz file. The limits of its CSV do not bound that: empty gzip
// members, or deflate's empty stored blocks, are input that decompresses to nothing, and a file of gigabytes of them
// would be read whole at every load and every reload check that reads it (a plain table is read no further than
// escu.MaxLookupBytes). Twice that limit is far more than a table within it compresses to: deflate stores what does
// not compress with 5 bytes per 64 KiB, and a gzip member costs some 20 bytes.
const maxGzipTableBytes = 2 * escu.MaxLookupBytes

// errGzipTableTooLarge stops the decompression of a file larger than maxGzipTableBytes.
var errGzipTableTooLarge = fmt.Errorf("lookup file is larger than %d bytes, the limit for a gzip-compressed lookup "+
	"table (twice the limit of its CSV)", maxGzipTableBytes)

// tableReader returns the CSV text of the lookup table file name, read from f: f itself, or for a .csv.gz file its
// decompressed content, whose errors say what is wrong with the file (gzipError).
func tableReader(name string, f io.Reader) (io.Reader, error) {
	if !isGzipTable(name) {
		return f, nil
	}
	g := &gunzipped{name: name, br: bufio.NewReader(&gzipTableLimit{f, maxGzipTableBytes + 1})}
	if err := g.member(true); err != nil {
		return nil, err
	}
	return g, nil
}

// gunzipped reads the members of a .csv.gz file one after another, as their concatenation (as gzip -d reads it). It
// takes them one by one rather than by gzip.Reader's multistream so as to look at what follows a member before
// reading it as one: zero padding ends the file (next), and something else not gzip (a few bytes as well as many) is
// said to be so, not a member cut short.
type gunzipped struct {
	name string
	br   *bufio.Reader
	zr   gzip.Reader
}

// member reads the header of the next member: the file's first one when first is set.
func (g *gunzipped) member(first bool) error {
	head, _ := g.br.Peek(len(gzipMagic)) // an error to read comes again from Reset
	if err := g.zr.Reset(g.br); err != nil {
		// A member that starts with gzip's magic bytes is gzip, however short or unreadable its header.
		return gzipError(g.name, err, gzipHeader{first: first, next: !first, magic: len(head) > 0 && bytes.HasPrefix(gzipMagic, head)})
	}
	g.zr.Multistream(false)
	return nil
}

func (g *gunzipped) Read(p []byte) (int, error) {
	for {
		n, err := g.zr.Read(p)
		if err == io.EOF { // the member ended, and was whole
			if err = g.next(); err == nil && n == 0 {
				continue
			}
			return n, err
		}
		if err != nil {
			err = gzipError(g.name, err, gzipHeader{})
		}
		return n, err
	}
}

// next reads the header of the member after the one that ended, or sees the end of the file (io.EOF): right there,
// or after zero bytes alone, the padding of a tape or disk block, which gzip -d (its test trailing-nul) and Python's
// gzip read as the end too, silently.
func (g *gunzipped) next() error {
	head, err := g.br.Peek(1)
	if err == io.EOF {
		return io.EOF
	} else if err != nil {
		return gzipError(g.name, err, gzipHeader{})
	}
	if head[0] != 0 {
		return g.member(false)
	}
	for {
		b, err := g.br.ReadByte()
		switch {
		case err == io.EOF:
			return io.EOF
		case err != nil:
			return gzipError(g.name, err, gzipHeader{})
		case b != 0: // gzip -d: "trailing garbage ignored", a warning
			return gzipError(g.name, gzip.ErrHeader, gzipHeader{next: true})
		}
	}
}

// gzipTableLimit reads from r up to left-1 bytes, and fails with errGzipTableTooLarge on reading more.
type gzipTableLimit struct {
	r    io.Reader
	left int64
}

func (l *gzipTableLimit) Read(p []byte) (int, error) {
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	if l.left -= int64(n); l.left == 0 {
		return 0, errGzipTableTooLarge
	}
	return n, err
}

// gzipHeader says where a .csv.gz file's decompression failed: at the header of its first member (first) or of one
// after it (next), which starts as gzip's magic bytes do or not (magic); in a member's data when neither is set.
type gzipHeader struct{ first, next, magic bool }

// gzipError says what is wrong with a .csv.gz file whose decompression failed with err, at h; a failure to read the
// file itself is returned as it is.
func gzipError(name string, err error, h gzipHeader) error {
	header := h.first || h.next
	var reason string
	switch {
	case errors.Is(err, errGzipTableTooLarge):
		reason = err.Error()
	case h.first && err == io.EOF:
		reason = "lookup file is empty, where gzip-compressed CSV is expected (its name ends in .csv.gz)"
	case h.first && !h.magic && (errors.Is(err, gzip.ErrHeader) || errors.Is(err, io.ErrUnexpectedEOF)):
		reason = "lookup file is not gzip-compressed, as its name (.csv.gz) says it is: compress it with gzip, or name it .csv"
	case h.next && !h.magic && (errors.Is(err, gzip.ErrHeader) || errors.Is(err, io.ErrUnexpectedEOF)):
		reason = "lookup file is corrupt: what follows its gzip data is not gzip"
	case header && errors.Is(err, gzip.ErrHeader):
		// Go's reader refuses these; gzip -d reads a longer name or comment.
		reason = "lookup file is corrupt, or its gzip header is not one this reads: a compression method other than " +
			"deflate, a header checksum that does not match, or a file name or comment longer than 511 bytes"
	case errors.Is(err, io.ErrUnexpectedEOF):
		reason = "lookup file is truncated: its gzip data ends early"
	case errors.Is(err, gzip.ErrChecksum):
		reason = "lookup file is corrupt: its gzip checksum does not match its content"
	default:
		var corrupt flate.CorruptInputError
		if !errors.As(err, &corrupt) {
			return err // the file's own read error
		}
		reason = fmt.Sprintf("lookup file is corrupt: invalid compressed data before byte %d of its deflate stream", int64(corrupt))
	}
	return &rule.Error{File: name, Reason: reason}
}

// lookupFileDigest digests the CSV files of the lookups among files and the configured ones, for Digest: a changed
// table reloads the rules as a changed rule file does. Every lookup file's table counts, named by a search or not
// (which only the load tells). A table is hashed as it is read: the check runs every reload interval, and holding
// each table whole for it cost as many bytes again each time (a 32 MiB table: 36 MiB allocated and 60 to 100 ms per
// check); and read only when its stat says it may have changed (tableDigest).
func (g *Digester) lookupFileDigest(files []file, opts Options) []byte {
	csvs := map[string]bool{}
	defs := map[string]lookupFileDef{}
	for _, f := range files {
		if f.err != nil {
			continue
		}
		def, ok := g.defs[f.name]
		if !ok || def.data != string(f.data) {
			d, isLookup, err := g.parse(f.name, f.data)
			if !isLookup {
				continue
			}
			def = lookupFileDef{data: string(f.data)}
			if err == nil && d.Kind == "csv" {
				def.name, def.csv = d.Name, d.CSV
			} // else no table: the file's own content is digested, so a change of it is seen
		}
		defs[f.name] = def
		if _, configured := opts.Lookups[def.name]; def.csv != "" && !configured {
			csvs[def.csv] = true
		}
	}
	g.defs = defs
	for _, p := range opts.Lookups {
		csvs[p] = true
	}
	h := sha256.New()
	buf := make([]byte, 32<<10) // one copy buffer for every file, not one each
	now := g.now()
	tables := map[string]tableDigest{}
	for _, name := range slices.Sorted(maps.Keys(csvs)) {
		writeField(h, []byte(name))
		writeField(h, g.tableDigest(opts.Builtin, name, now, buf, tables))
	}
	g.tables = tables
	return h.Sum(nil)
}

// lookupFileDef is what a lookup file says of its table: its lookup's name and CSV file ("" for none), as its
// content (data) says it.
type lookupFileDef struct{ data, name, csv string }

// tableDigest is a CSV file's digest and the stat the file had when it was read.
type tableDigest struct {
	stat fileStat
	sum  []byte
	at   time.Time
}

// A CSV file whose stat is the one it had at the last read is not read again: the stat tells a change more cheaply
// than the content, and the content stays the authority whenever the stat may not tell:
//   - a write within racyWindow of the read (by the file's modification and change times) may leave the stat as it
//     was, on a file system whose times are coarser than the writes (one second on ext3 or HFS+, two on FAT): such a
//     file is read at every check until its times are older, as Git reads its "racily clean" files (racy-git.txt);
//   - a write that restores the stat (size, modification time, and, on Linux, inode, device and change time, which
//     no program can set back), which a file system that keeps no change time or a clock set back allows: every
//     table is read again at least every rehashAfter, and at once when the clock went back past its last reading.
const (
	racyWindow  = 3 * time.Second
	rehashAfter = 10 * time.Minute
)

// tableDigest returns fileDigest of the CSV file name, the one of the last check when its stat is unchanged (see
// racyWindow), and records in into what the next check may reuse.
func (g *Digester) tableDigest(fsys fs.FS, name string, now time.Time, buf []byte, into map[string]tableDigest) []byte {
	st, statErr := statLookupFile(fsys, name)
	last, ok := g.tables[name]
	if age := now.Sub(last.at); ok && statErr == nil && st.same(last.stat) && 0 <= age && age < rehashAfter {
		into[name] = last
		return last.sum
	}
	// The stat comes before the read: a write after it changes the stat that the next check sees.
	sum, readErr := g.fileDigest(fsys, name, buf)
	// A .csv.gz file that does not decompress (gzipError) is so by its content, which the stat covers as any other:
	// kept, it is not read again (up to maxGzipTableBytes) at every check. A file that does not read may read next time.
	var content *rule.Error
	if byContent := readErr == nil || errors.As(readErr, &content); statErr == nil && byContent && st.settled(now) {
		into[name] = tableDigest{stat: st, sum: sum, at: now}
	}
	return sum
}

// fileDigest is the SHA-256 of a lookup table's CSV text as the load reads it (tableReader: a .csv.gz file's
// decompressed), up to one byte past escu.MaxLookupBytes (a longer table fails the load whatever follows), or of the
// error that stops its reading (returned too); buf is the copy's buffer.
func (g *Digester) fileDigest(fsys fs.FS, name string, buf []byte) ([]byte, error) {
	h := sha256.New()
	f, err := g.open(fsys, name)
	if err == nil {
		var r io.Reader
		if r, err = tableReader(name, f); err == nil {
			_, err = io.CopyBuffer(h, io.LimitReader(r, escu.MaxLookupBytes+1), buf)
		}
		f.Close()
	}
	if err != nil {
		h.Reset()
		h.Write([]byte("error: " + err.Error()))
	}
	return h.Sum(nil), err
}

// fileStat is what a stat of a file says of its content: its size and modification time, and where the system
// gives them (stat_linux.go) its change time, device and inode (a file replaced by a rename, as a ConfigMap update
// replaces it, is another inode).
type fileStat struct {
	size        int64
	mod, change time.Time
	dev, ino    uint64
}

func (s fileStat) same(o fileStat) bool {
	return s.size == o.size && s.mod.Equal(o.mod) && s.change.Equal(o.change) && s.dev == o.dev && s.ino == o.ino
}

// settled reports whether the file's times were older than racyWindow at now: a later write then changes them.
func (s fileStat) settled(now time.Time) bool {
	cutoff := now.Add(-racyWindow)
	return s.mod.Before(cutoff) && s.change.Before(cutoff)
}

// statLookupFile stats a CSV file (openLookupFile's), through symbolic links.
func statLookupFile(fsys fs.FS, name string) (fileStat, error) {
	var info fs.FileInfo
	var err error
	if inPack, ok := strings.CutPrefix(name, Builtin+":"); ok {
		if fsys == nil {
			return fileStat{}, fmt.Errorf("%s: no built-in rule pack is available", name)
		}
		info, err = fs.Stat(fsys, inPack)
	} else {
		info, err = os.Stat(name)
	}
	if err != nil {
		return fileStat{}, err
	}
	st := fileStat{size: info.Size(), mod: info.ModTime()}
	sysStat(info, &st)
	return st, nil
}
