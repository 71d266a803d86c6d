package loader

import (
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"io"
	"io/fs"
	"sync"
	"time"

	"github.com/auditdetect/auditdetect/processor/escu"
)

// Fingerprint is a digest of the rule files opts names: their names and contents, in load order.
type Fingerprint [sha256.Size]byte

// Digest reads the files Load would read and digests them: two calls give the same value exactly when Load would see
// the same files with the same contents, the CSV files of the lookups among them and of the configured ones
// included. Only lookup files are parsed, for the CSV files they name. Files are read through their paths each time,
// so a Kubernetes ConfigMap update (a symbolic link swapped to a new directory) changes the value. An error means a
// path names nothing, as Load would report. Each call reads every file; a Digester reads less when called again.
func Digest(opts Options) (Fingerprint, error) { return NewDigester().Digest(opts) }

// Digester is Digest for a caller that digests the same rules again and again (the processor's reload check, every
// interval): the same values, for less work. A lookup file is parsed again only when its bytes changed, and a
// lookup's CSV file (up to 32 MiB) is read and hashed again only when its stat changed (tableDigest). It is safe
// for concurrent use.
type Digester struct {
	mu sync.Mutex
	// defs are the lookup files of the last call, by name; tables the digests of the CSV files it may skip.
	defs   map[string]lookupFileDef
	tables map[string]tableDigest
	// now, open and parse are the clock, the CSV files' opener and the lookup files' parser: tests count through them.
	now   func() time.Time
	open  func(fsys fs.FS, name string) (io.ReadCloser, error)
	parse func(file string, data []byte) (*escu.LookupDef, bool, error)
}

// NewDigester returns a Digester that has read nothing yet.
func NewDigester() *Digester {
	return &Digester{now: time.Now, open: openLookupFile, parse: escu.LookupOf}
}

// Digest is the package's Digest of opts.
func (g *Digester) Digest(opts Options) (Fingerprint, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	files, err := collect(opts)
	if err != nil {
		return Fingerprint{}, err
	}
	h := sha256.New()
	for _, f := range files {
		writeField(h, []byte(f.name))
		if f.err != nil {
			writeField(h, []byte("error: "+f.err.Error()))
			continue
		}
		writeField(h, f.data)
	}
	writeField(h, g.lookupFileDigest(files, opts))
	var fp Fingerprint
	h.Sum(fp[:0])
	return fp, nil
}

// writeField writes a length-prefixed field, so that no two file lists digest the same bytes.
func writeField(h hash.Hash, b []byte) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(b)))
	h.Write(n[:])
	h.Write(b)
}
