package loader

import (
	"crypto/sha256"
	"encoding/binary"
	"hash"
)

// Fingerprint is a digest of the rule files opts names: their names and contents, in load order.
type Fingerprint [sha256.Size]byte

// Digest reads the files Load would read and digests them: two calls give the same value exactly when Load would see
// the same files with the same contents, the CSV files of the lookups among them and of the configured ones
// included. Only lookup files are parsed, for the CSV files they name. Files are read through their paths each time,
// so a Kubernetes ConfigMap update (a symbolic link swapped to a new directory) changes the value. An error means a
// path names nothing, as Load would report.
func Digest(opts Options) (Fingerprint, error) {
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
	writeField(h, lookupFileDigest(files, opts))
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
