// Package loader turns the processor's `rules:` list (files, directories, globs and the embedded pack) into compiled
// rules. It knows which rule language a file holds and hands it to that language's package; it knows nothing of
// pdata or of the engine.
package loader

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/auditdetect/auditdetect/processor/elastic"
	"github.com/auditdetect/auditdetect/processor/escu"
	"github.com/auditdetect/auditdetect/processor/internal/yamlfile"
	"github.com/auditdetect/auditdetect/processor/normalize"
	"github.com/auditdetect/auditdetect/processor/rule"
	"github.com/auditdetect/auditdetect/processor/sigma"
	"github.com/auditdetect/auditdetect/processor/spl"
)

// Builtin is the word in Options.Paths that names the embedded rule pack.
const Builtin = "builtin"

// Options says where rules come from and how to treat bad ones.
type Options struct {
	// Paths lists files, directories (every *.yml, *.yaml and *.toml inside, recursively, in sorted order), glob
	// patterns (filepath.Match syntax), or the word "builtin" for the embedded pack.
	Paths []string
	// Builtin is the embedded pack; its root holds *.yml files.
	Builtin fs.FS
	// Macros come from the collector configuration and win over macro files.
	Macros map[string]string
	// Lookups give lookups' CSV files by lookup name, from the collector configuration (lookups.go): the table of a
	// lookup a lookup file defines, or a lookup of Splunk's default settings.
	Lookups map[string]string
	// SPLTimeZone is the time zone of ESCU detections' searches (spl_time_zone): the zone Splunk would run them in,
	// their owner's. nil is UTC.
	SPLTimeZone *time.Location
	// SkipErrors (on_rule_error: skip) skips rules that fail to load instead of failing the whole load.
	SkipErrors bool
	// Logger receives one warning per skipped rule. nil discards them.
	Logger *zap.Logger
	// ElasticFieldMap is merged over elastic.DefaultFieldMap to map the ECS fields of Elastic rules.
	ElasticFieldMap map[string]string
	// Overrides replace the risk and threat objects and the risk message of rules, keyed by rule id or name
	// (overrides.go).
	Overrides map[string]Override
	// ESCUApp is the label of the app whose saved searches run the ESCU detections in Splunk ES: an ESCU detection
	// (not one of the built-in pack, which ES does not have) gets the search name `<ESCUApp> - <name> - Rule`, the
	// saved search ES names it after, so that its risk events carry the search_name ES's own would. Empty: the
	// detection's name alone.
	ESCUApp string
}

// DefaultESCUApp is the label of Splunk's ESCU app (DA-ESS-ContentUpdate): contentctl names each detection's saved
// search `ESCU - <name> - Rule`.
const DefaultESCUApp = "ESCU"

// Result is what Load found.
type Result struct {
	Rules []*rule.Rule
	// Skipped holds the errors of the rules skipped under SkipErrors, each a *rule.Error.
	Skipped []error
	// Files counts the rule and macro files read.
	Files int
	// Superseded holds rules replaced by a newer version with the same id.
	Superseded []*rule.Rule
	// Correlated holds the Sigma rules that only feed correlation rules (named by one, none of which sets
	// `generate: true`): loaded, but not run alone.
	Correlated []*rule.Rule
}

// format is what a rule file holds. A new rule language (Sigma YAML, Elastic TOML) adds a constant here, a case in
// classify, a case in Load's second pass, and, for a new file extension, an entry in ruleExts.
type format int

const (
	unknownFormat format = iota
	escuDetection
	escuMacro
	escuLookup
	sigmaRule
	elasticRule
)

// classify decides a file's format from its content, never from its name or folder.
func classify(data []byte) format {
	switch {
	case escu.IsDetection(data):
		return escuDetection
	case escu.IsMacro(data):
		return escuMacro
	case escu.IsLookup(data):
		return escuLookup
	case sigma.IsRule(data):
		return sigmaRule
	case elastic.IsRule(data):
		return elasticRule
	}
	return unknownFormat
}

// ruleExts are the extensions picked up when walking a directory.
var ruleExts = []string{".yml", ".yaml", ".toml"}

// Load reads every rule file named by opts. It reads in two passes: first the macro and lookup files among all paths
// (then the configured macros and lookups on top of them), then the detections, compiled against those macros and
// lookups (a lookup's CSV file is read when a detection first names it: lookups.go). Path errors (a path
// that matches nothing) always fail; rule errors fail the load, all of them joined, unless SkipErrors is set. On rule
// errors the Result holds the rules that loaded, beside the error; on other errors it is nil.
func Load(opts Options) (*Result, error) {
	log := opts.Logger
	if log == nil {
		log = zap.NewNop()
	}
	if err := CheckLookups(opts.Lookups); err != nil {
		return nil, err
	}
	files, err := collect(opts)
	if err != nil {
		return nil, err
	}
	fieldMap, err := elastic.NewFieldMap(opts.ElasticFieldMap)
	if err != nil {
		return nil, err
	}
	res := &Result{Files: len(files)}
	// Errors are reported in file order, whichever pass found them.
	type fileErr struct {
		file int
		err  error
	}
	var errs []fileErr
	fail := func(i int, err error) { errs = append(errs, fileErr{i, err}) }

	// Pass 1: classify every file and gather the macros. They come in two scopes: the built-in pack's rules read the
	// pack's macro files, the user's rules the user's, and each side reads the other's for what its own do not define
	// (a user's `<detection>_filter` or kube_audit file reaches the pack's rules; the pack's allow-lists fill in for
	// an ESCU directory without macros). A macro both define is not a conflict: security_content ships its own
	// kube_allowed_* samples, which read other fields than the pack's same-named allow-lists, and each set of rules
	// keeps the definition written for it. Configured macros win in both.
	formats := make([]format, len(files))
	pack, user := newMacroScope(), newMacroScope()
	lookups := newLookupSet(opts.Builtin)
	for i, f := range files {
		if f.err != nil {
			e := &rule.Error{File: f.name, Reason: f.err.Error()}
			var big *tooLarge
			if errors.As(f.err, &big) {
				e.Line = big.line
				if big.auditLog {
					e.Line = 1
				}
			}
			fail(i, e)
			continue
		}
		formats[i] = classify(f.data)
		switch formats[i] {
		case escuMacro:
			m, err := escu.ParseMacro(f.name, f.data)
			if err != nil {
				fail(i, err)
				continue
			}
			scope := user
			if isBuiltin(f.name) {
				scope = pack
			}
			if prev, ok := scope.origins[m.Key]; ok {
				// A macro the configuration sets is the one used: the files' disagreement changes nothing, and
				// setting it is how a user settles it.
				if _, configured := opts.Macros[m.Key]; prev.Definition != m.Definition && !configured {
					fail(i, &rule.Error{File: f.name, Line: m.Line, Column: m.Column, Reason: fmt.Sprintf(
						"macro %q is also defined, differently, in %s:%d", m.Key, prev.File, prev.Line)})
				}
				continue // the same definition again: the first file is named in errors
			}
			scope.macros[m.Key], scope.origins[m.Key] = m.Definition, m
		case escuLookup:
			d, err := escu.ParseLookup(f.name, f.data)
			if err == nil {
				err = lookups.add(d)
			}
			if err != nil {
				fail(i, err)
			}
		case unknownFormat:
			fail(i, unclassified(f.name, f.data))
		}
	}
	packFiles, userFiles := maps.Clone(pack.origins), maps.Clone(user.origins)
	for k, m := range packFiles {
		if _, ok := userFiles[k]; !ok {
			user.macros[k], user.origins[k] = m.Definition, m
		}
	}
	for _, k := range slices.Sorted(maps.Keys(userFiles)) {
		m := userFiles[k]
		p, both := packFiles[k]
		if !both {
			pack.macros[k], pack.origins[k] = m.Definition, m
			continue
		}
		if _, configured := opts.Macros[k]; !configured && p.Definition != m.Definition {
			log.Info("Macro file defines a macro the built-in pack defines too: it applies to the rules of your files, "+
				"the built-in rules keep the pack's (set it under macros: to change both)",
				zap.String("macro", k), zap.String("file", fmt.Sprintf("%s:%d", m.File, m.Line)))
		}
	}
	for _, scope := range []macroScope{pack, user} {
		for k, def := range opts.Macros {
			// A configured macro replaces the files' macro of its name and number of arguments, whatever their
			// parameters are called (`pick(x,y)` over a file's `pick(a,b)`): references pick by name and count.
			for fk := range scope.macros {
				if fk != k && sameMacro(fk, k) {
					delete(scope.macros, fk)
					delete(scope.origins, fk)
				}
			}
			scope.macros[k], scope.origins[k] = def, &escu.Macro{Key: k, Definition: def} // no file: a configured macro
		}
	}

	lookups.configure(opts.Lookups)

	// Pass 2: the detections.
	byID := map[string]*rule.Rule{}
	escuFile := map[*rule.Rule]int{} // the ESCU detections, by file
	var correlations []fileCorrelation
	var held []string
	// add takes a rule of file i into the result: a second rule of one id is a duplicate, or of another version the
	// older of two.
	add := func(i int, r *rule.Rule) {
		prev, ok := byID[r.ID]
		if !ok {
			byID[r.ID] = r
			res.Rules = append(res.Rules, r)
			return
		}
		if prev.Version == r.Version || prev.Origin.Format != r.Origin.Format {
			// Versions order the releases of one detection in one language; rules of two languages share an id only
			// by mistake.
			fail(i, &rule.Error{File: r.Origin.File, Line: r.Origin.Line, Rule: r.Name,
				Reason: fmt.Sprintf("duplicate rule id %q (version %d), first loaded from %s", r.ID, r.Version, prev.Origin)})
			return
		}
		// Two versions of one detection (an old content pack beside a new one): the newer one runs, as a
		// content update replaces a detection in Splunk.
		older, newer := prev, r
		if r.Version < prev.Version {
			older, newer = r, prev
		}
		log.Info("Rule superseded by a newer version with the same id",
			zap.String("rule", r.Name), zap.String("id", r.ID),
			zap.String("kept", fmt.Sprintf("%s (version %d)", newer.Origin, newer.Version)),
			zap.String("dropped", fmt.Sprintf("%s (version %d)", older.Origin, older.Version)))
		res.Superseded = append(res.Superseded, older)
		if newer == r {
			res.Rules[slices.Index(res.Rules, prev)] = r
			byID[r.ID] = r
		}
	}
	// Every file's search (or, when it has none to read, its text) for the macros they reference (macrorefs.go):
	// a detection that fails to load still names the macros configured for it.
	var searches []string
	for i, f := range files {
		if formats[i] != escuMacro && formats[i] != escuLookup {
			searches = append(searches, referenceText(formats[i], f.data))
		}
		if f.err != nil {
			continue
		}
		var r *rule.Rule
		var err error
		switch formats[i] {
		case escuDetection:
			scope := user
			if isBuiltin(f.name) {
				scope = pack
			}
			if r, err = escu.ParseIn(f.name, f.data, escu.Scope{Macros: scope.macros, Origins: scope.origins, Lookups: lookups,
				TimeZone: opts.SPLTimeZone}); err == nil {
				escuFile[r] = i
				if opts.ESCUApp != "" && !isBuiltin(f.name) {
					// Set before the overrides are applied: they may name the rule by it.
					r.SearchName = opts.ESCUApp + " - " + r.Name + " - Rule"
				}
			}
		case sigmaRule:
			// A Sigma file may hold several rules, and correlations over rules of any file (read after the loop).
			rs, cs, err := sigma.ParseFile(f.name, f.data)
			if err != nil {
				fail(i, err)
				// The rules its correlations name were not meant to alert alone, whatever failed.
				held = append(held, sigma.CorrelationRefs(f.data)...)
				continue
			}
			for _, c := range cs {
				correlations = append(correlations, fileCorrelation{i, c})
			}
			for _, r := range rs {
				add(i, r)
			}
			continue
		case elasticRule:
			r, err = elastic.Parse(f.name, f.data, fieldMap)
		default:
			continue
		}
		if err != nil {
			fail(i, err)
			continue
		}
		add(i, r)
	}
	linkCorrelations(correlations, held, res, add, fail)
	// The ESCU detections that run (not a version a newer one superseded) write their own risk objects. One that
	// cannot is reported; under on_rule_error: skip the version it superseded runs in its place, if that one can.
	kept := res.Rules[:0:0]
	for _, r := range res.Rules {
		i, isESCU := escuFile[r]
		if !isESCU {
			kept = append(kept, r)
			continue
		}
		err := checkOwnObjects(r, opts.Overrides, log) // overrides.go
		if err == nil {
			kept = append(kept, r)
			continue
		}
		fail(i, err)
		if older := newestSuperseded(res.Superseded, r.ID); older != nil {
			if _, olderESCU := escuFile[older]; !olderESCU || checkOwnObjects(older, opts.Overrides, log) == nil {
				res.Superseded = slices.DeleteFunc(res.Superseded, func(s *rule.Rule) bool { return s == older })
				kept = append(kept, older)
			}
		}
	}
	res.Rules = kept
	slices.SortStableFunc(errs, func(a, b fileErr) int { return a.file - b.file })
	if opts.SkipErrors {
		for _, e := range errs {
			log.Warn("Skipping rule that failed to load", zap.Error(e.err))
			res.Skipped = append(res.Skipped, e.err)
		}
	} else if len(errs) > 0 {
		joined := make([]error, len(errs))
		for i, e := range errs {
			joined[i] = e.err
		}
		// The rules that did load come back with the error, so that a caller can say what else it would refuse
		// in the same report (the processor: the rules the engine refuses).
		return res, errors.Join(joined...)
	}
	if err := checkConfiguredMacros(opts.Macros, referencedMacros(searches, pack.macros, user.macros)); err != nil {
		if !opts.SkipErrors {
			return nil, err
		}
		// As for a rule_overrides key that names no loaded rule: the rule it was for may be the one skipped.
		log.Warn("Configured macro referenced by no rule", zap.Error(err))
	}
	if err := lookups.checkUsed(opts.Lookups); err != nil {
		if !opts.SkipErrors {
			return nil, err
		}
		log.Warn("Configured lookup named by no rule", zap.Error(err))
	}
	if err := applyOverrides(res.Rules, opts.Overrides, log); err != nil {
		return nil, err
	}
	return res, nil
}

// macroScope is the macros one set of rules reads (the built-in pack's, or the user's), and where each is defined:
// a fault inside a definition is reported with the macro's file and line.
type macroScope struct {
	macros  spl.Macros
	origins map[string]*escu.Macro
}

func newMacroScope() macroScope {
	return macroScope{macros: spl.DefaultMacros(), origins: map[string]*escu.Macro{}}
}

// isBuiltin reports whether a file name is one of the built-in pack's.
func isBuiltin(name string) bool { return strings.HasPrefix(name, Builtin+":") }

// WaitsForGeoIP reports whether r is a built-in rule using iplocation: without a GeoIP database the processor leaves
// it out (the pack must run on an empty config), where a user's own such rule fails to load.
func WaitsForGeoIP(r *rule.Rule) bool { return r.NeedsGeoIP() && isBuiltin(r.Origin.File) }

// sameMacro reports whether two macro keys (`name`, `name(N)`, `name(a,b)`) are one macro: one name, one number of
// arguments.
func sameMacro(a, b string) bool {
	split := func(k string) (name string, args int) {
		name, params, ok := strings.Cut(k, "(")
		if !ok {
			return k, 0
		}
		params = strings.TrimSuffix(params, ")")
		if n, err := strconv.Atoi(params); err == nil {
			return name, n
		}
		return name, strings.Count(params, ",") + 1
	}
	an, aa := split(a)
	bn, ba := split(b)
	return an == bn && aa == ba
}

// unclassified explains why a file is no rule file: broken YAML or TOML, or some other document. The name's extension
// only picks the parser whose error explains the fault best.
func unclassified(name string, data []byte) error {
	if isAuditLog(data) {
		return &rule.Error{File: name, Line: 1, Reason: auditLogReason}
	}
	switch ext := strings.ToLower(filepath.Ext(name)); ext {
	case ".json", ".ndjson":
		// Kibana exports rules as NDJSON; the detection-rules repository keeps them as TOML, which is what loads.
		return &rule.Error{File: name, Line: 1, Reason: "Elastic rules in " + strings.TrimPrefix(ext, ".") +
			" (a Kibana export) are not supported: use the TOML files of the detection-rules repository"}
	}
	if strings.EqualFold(filepath.Ext(name), ".toml") {
		// Not classified as Elastic, so the parser reports the TOML error or the missing [rule] table.
		if _, err := elastic.Parse(name, data, nil); err != nil {
			return err
		}
	}
	// A file of Sigma documents but one: that one is the fault.
	if line, reason, ok := sigma.ForeignDocument(data); ok {
		return &rule.Error{File: name, Line: line, Reason: reason}
	}
	// Broken YAML, an empty file, several documents (a Sigma rule collection, whose first document may have no
	// detection) or a top level that is no mapping: said as such, at its line.
	if _, err := yamlfile.TopLevel(name, data, "several YAML documents in one file (a Sigma rule collection?) are "+
		"not supported: put each rule in its own file"); err != nil {
		return err
	}
	return &rule.Error{File: name, Reason: "not an ESCU detection, macro or lookup (no `search:`, `definition:` or `lookup_type:`), nor a Sigma rule (no `detection:`), nor an Elastic rule (no TOML `[rule]` table)"}
}

// file is one rule file, read (or not: err).
type file struct {
	name string
	data []byte
	err  error
}

// collect resolves opts.Paths into files, each once, in the order the paths name them.
func collect(opts Options) ([]file, error) {
	var files []file
	seen := map[string]bool{}
	add := func(key, name string, read func() ([]byte, error)) {
		if seen[key] {
			return
		}
		seen[key] = true
		data, err := read()
		files = append(files, file{name: name, data: data, err: err})
	}
	for _, p := range opts.Paths {
		if p == Builtin {
			if opts.Builtin == nil {
				return nil, errors.New(`rules path "builtin": no built-in rule pack is available`)
			}
			names, err := walkFS(opts.Builtin)
			if err != nil {
				return nil, fmt.Errorf(`rules path "builtin": %w`, err)
			}
			if len(names) == 0 {
				return nil, errors.New(`rules path "builtin": the built-in pack holds no rule files`)
			}
			for _, n := range names {
				add("builtin:"+n, "builtin:"+n, func() ([]byte, error) {
					return readLimited(func() (io.ReadCloser, error) { return opts.Builtin.Open(n) })
				})
			}
			continue
		}
		names, err := expand(p)
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			key, err := filepath.Abs(n)
			if err != nil {
				key = n
			}
			add(key, n, func() ([]byte, error) {
				return readLimited(func() (io.ReadCloser, error) { return os.Open(n) })
			})
		}
	}
	return files, nil
}

// MaxFileBytes bounds one rule file. Real detections are a few KiB; every front end parses a file whole in memory,
// so a file of any size the disk holds would be a memory and time bomb at start-up.
const MaxFileBytes = 1 << 20

// tooLarge is a file over MaxFileBytes; line is the line at which the limit falls; auditLog says it starts like an
// audit log.
type tooLarge struct {
	line     int
	auditLog bool
}

func (e *tooLarge) Error() string {
	if e.auditLog {
		return auditLogReason
	}
	return fmt.Sprintf("file is larger than %d bytes, the limit for one rule file", MaxFileBytes)
}

// auditLogReason is what a rule path that names an audit log is told: a mistake easy to make with a tool that takes
// both (`auditdetect scan audit.log` for `scan -events audit.log`).
const auditLogReason = "a Kubernetes audit log (JSON audit events), not a rule file"

// isAuditLog reports whether data starts with a line that is an audit event or a shape of them the processor reads
// (an EventList, a cloud export).
func isAuditLog(data []byte) bool {
	first, _, _ := bytes.Cut(bytes.TrimLeft(data, " \t\r\n"), []byte("\n"))
	f, err := normalize.Detect(bytes.TrimSpace(first))
	return err == nil && f != normalize.Unknown
}

// readLimited reads at most MaxFileBytes+1 bytes of what open returns, so that an oversized file is refused without
// being read whole.
func readLimited(open func() (io.ReadCloser, error)) ([]byte, error) {
	f, err := open()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileBytes {
		return nil, &tooLarge{line: bytes.Count(data[:MaxFileBytes], []byte("\n")) + 1, auditLog: isAuditLog(data)}
	}
	// A byte-order mark, which editors on Windows write: YAML skips it, TOML refuses it as a key character.
	return bytes.TrimPrefix(data, []byte("\ufeff")), nil
}

// expand resolves one filesystem path: a file, a directory, or a glob.
func expand(p string) ([]string, error) {
	info, err := os.Stat(p)
	switch {
	case err == nil && info.IsDir():
		names, err := walkDir(p)
		if err == nil && len(names) == 0 {
			err = errors.New("the directory holds no *.yml, *.yaml or *.toml files")
		}
		if err != nil {
			return nil, fmt.Errorf("rules path %q: %w", p, err)
		}
		return names, nil
	case err == nil:
		return []string{p}, nil // a file named explicitly is read whatever its extension
	case !strings.ContainsAny(p, `*?[`):
		return nil, fmt.Errorf("rules path %q: %w", p, err)
	}
	matches, err := filepath.Glob(p)
	if err != nil {
		return nil, fmt.Errorf("rules path %q: %w", p, err)
	}
	var names []string
	for _, m := range matches {
		info, err := os.Stat(m)
		switch {
		case err != nil:
			return nil, fmt.Errorf("rules path %q: %w", p, err)
		case info.IsDir():
			sub, err := walkDir(m)
			if err != nil {
				return nil, fmt.Errorf("rules path %q: %w", p, err)
			}
			names = append(names, sub...)
		default:
			names = append(names, m)
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("rules path %q matches no rule files", p)
	}
	return names, nil
}

// walkDir lists the rule files under root, sorted. Hidden directories are skipped: a Kubernetes ConfigMap volume
// keeps its real files in `..data` and links them into the mount point, so each file is read once, through its link.
// Symbolic links to files are followed; links to directories are not (no cycles).
func walkDir(root string) ([]string, error) {
	var names []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir():
			if p != root && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		case !isRuleFile(d.Name()):
			return nil
		case d.Type()&fs.ModeSymlink != 0:
			if info, err := os.Stat(p); err != nil || !info.Mode().IsRegular() {
				return nil // a dangling link or a link to a directory
			}
		case !d.Type().IsRegular():
			return nil
		}
		names = append(names, p)
		return nil
	})
	slices.Sort(names)
	return names, err
}

// walkFS lists the rule files of an embedded pack, sorted.
func walkFS(fsys fs.FS) ([]string, error) {
	var names []string
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && isRuleFile(path.Base(p)) {
			names = append(names, p)
		}
		return nil
	})
	slices.Sort(names)
	return names, err
}

func isRuleFile(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	return slices.Contains(ruleExts, ext) && !strings.HasPrefix(name, ".")
}

// newestSuperseded returns the newest superseded version of the rule with the given id, or nil.
func newestSuperseded(superseded []*rule.Rule, id string) *rule.Rule {
	var newest *rule.Rule
	for _, r := range superseded {
		if r.ID == id && (newest == nil || r.Version > newest.Version) {
			newest = r
		}
	}
	return newest
}
