// Package builtin is auditdetect's own rule pack: Kubernetes audit detections written by the project in the Splunk
// ESCU v5 format (SPL searches over `kube_audit`, each ending in its `<name>_filter` exception macro), and default
// definitions of the allow-list macros they use. The README lists the detections; testdata holds a matching and a
// near-miss audit event for each.
package builtin

import (
	"embed"
	"io/fs"
)

//go:embed rules
var rules embed.FS

// FS holds the pack: the detection files (*.yml) at its root and the macro files under macros/.
var FS fs.FS = sub(rules, "rules")

func sub(f fs.FS, dir string) fs.FS {
	s, err := fs.Sub(f, dir)
	if err != nil {
		panic(err) // unreachable: dir is a valid, embedded path
	}
	return s
}
