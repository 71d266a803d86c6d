// Command auditgen writes auditdetect's generated Kubernetes audit log (package auditgen) to a file, one event per
// line: `make gen` writes out/audit-mix.log.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/auditdetect/auditdetect/processor/auditgen"
)

func main() {
	n := flag.Int("n", 100_000, "number of events")
	seed := flag.Uint64("seed", 1, "seed: the same seed writes the same log")
	out := flag.String("o", "out/audit-mix.log", "output file")
	flag.Parse()
	if err := run(*out, *seed, *n); err != nil {
		fmt.Fprintln(os.Stderr, "auditgen:", err)
		os.Exit(1)
	}
}

func run(path string, seed uint64, n int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	written, err := auditgen.WriteLog(f, seed, n)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	fmt.Printf("auditgen: wrote %d events (%d bytes, seed %d) to %s\n", n, written, seed, path)
	return nil
}
