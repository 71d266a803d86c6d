// Command fuzzcorpus writes the seed corpora of auditdetect's fuzz targets from the project's test data, in Go's
// corpus file format, under each package's testdata/fuzz/<FuzzTarget>/. Run it from the repository root
// (`make fuzz-corpus`) after the test data changes; the files it writes are committed, and `go test` runs each of them
// as a regression case. Files that fuzzing found (crashers) live beside them and are never touched.
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// seed is one corpus entry: its file name and its arguments, in the target's parameter order.
type seed struct {
	name string
	args []any // []byte, string or bool
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "fuzzcorpus:", err)
		os.Exit(1)
	}
}

func run() error {
	events, err := auditEvents()
	if err != nil {
		return err
	}
	rules, err := ruleFiles()
	if err != nil {
		return err
	}

	// Paths of the kinds the built-in rules read: plain, dotted keys, arrays, Sigma/ECS-style any-array paths.
	paths := []struct {
		path     string
		anyArray bool
	}{
		{"verb", false}, {"objectRef.resource", false}, {"sourceIPs{}", false}, {"user.groups{}", false},
		{"annotations.authorization.k8s.io/decision", false},
		{"requestObject.spec.containers{}.securityContext.privileged", false},
		{"requestObject.spec.template.spec.containers.image", true}, {"responseStatus.code", false},
	}
	var parse, process []seed
	for i, ev := range events {
		p := paths[i%len(paths)]
		parse = append(parse, seed{ev.name, []any{ev.body, p.path, p.anyArray}})
		process = append(process, seed{ev.name, []any{ev.body}})
	}

	var load, escuParse, splCompile []seed
	for _, r := range rules {
		load = append(load, seed{r.name, []any{r.data}})
		var doc struct {
			Search string `yaml:"search"`
		}
		if yaml.Unmarshal(r.data, &doc) != nil {
			continue
		}
		if doc.Search != "" {
			escuParse = append(escuParse, seed{r.name, []any{r.data}})
			splCompile = append(splCompile, seed{r.name, []any{doc.Search}})
		}
	}

	for _, c := range []struct {
		dir   string
		seeds []seed
	}{
		{"processor/event/testdata/fuzz/FuzzParse", parse},
		{"processor/auditdetectprocessor/internal/processorfuzz/testdata/fuzz/FuzzProcessor", process},
		{"processor/loader/testdata/fuzz/FuzzLoad", load},
		{"processor/escu/testdata/fuzz/FuzzParse", escuParse},
		{"processor/spl/testdata/fuzz/FuzzCompile", splCompile},
	} {
		if err := write(c.dir, c.seeds); err != nil {
			return err
		}
		fmt.Printf("%-60s %d seeds\n", c.dir, len(c.seeds))
	}
	return nil
}

type named struct {
	name string
	data []byte
}

type event struct {
	name string
	body []byte
}

// auditEvents returns the built-in pack's test events (each line of a .jsonl sequence on its own) and the lines of
// the sample audit log.
func auditEvents() ([]event, error) {
	var out []event
	files, err := filepath.Glob("processor/builtin/testdata/*/*.json*")
	if err != nil {
		return nil, err
	}
	files = append(files, "testdata/audit/sample-audit.log")
	sort.Strings(files)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		base := strings.TrimSuffix(filepath.Base(f), filepath.Ext(f))
		if dir := filepath.Base(filepath.Dir(f)); strings.HasPrefix(dir, "kubernetes_") {
			base = strings.TrimPrefix(dir, "kubernetes_") + "-" + base
		}
		if strings.HasSuffix(f, ".json") {
			out = append(out, event{base, bytes.TrimSpace(data)})
			continue
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, 8<<20)
		for n := 1; sc.Scan(); n++ {
			if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
				out = append(out, event{fmt.Sprintf("%s-%02d", base, n), bytes.Clone(line)})
			}
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
	}
	return out, nil
}

// ruleFiles returns the built-in pack's detections and macros.
func ruleFiles() ([]named, error) {
	files, err := filepath.Glob("processor/builtin/rules/*.yml")
	if err != nil {
		return nil, err
	}
	macros, err := filepath.Glob("processor/builtin/rules/macros/*.yml")
	if err != nil {
		return nil, err
	}
	var out []named
	for _, f := range append(files, macros...) {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		out = append(out, named{strings.TrimSuffix(filepath.Base(f), ".yml"), data})
	}
	return out, nil
}

// write replaces the generated seeds of dir (those named seed-*) with seeds, leaving every other file alone.
func write(dir string, seeds []seed) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	old, err := filepath.Glob(filepath.Join(dir, "seed-*"))
	if err != nil {
		return err
	}
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			return err
		}
	}
	for _, s := range seeds {
		var b strings.Builder
		b.WriteString("go test fuzz v1\n")
		for _, a := range s.args {
			switch v := a.(type) {
			case []byte:
				fmt.Fprintf(&b, "[]byte(%s)\n", strconv.Quote(string(v)))
			case string:
				fmt.Fprintf(&b, "string(%s)\n", strconv.Quote(v))
			case bool:
				fmt.Fprintf(&b, "bool(%t)\n", v)
			default:
				return fmt.Errorf("seed %s: unsupported argument type %T", s.name, a)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, "seed-"+s.name), []byte(b.String()), 0o644); err != nil {
			return err
		}
	}
	return nil
}
