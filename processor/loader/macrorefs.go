package loader

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/auditdetect/auditdetect/internal/suggest"
	"github.com/auditdetect/auditdetect/processor/spl"
)

// Configured macros that no rule uses. A macro set in the processor's `macros:` that no detection references (a
// misspelled `kube_allowed_user_name`, a `_filter` macro for a detection that is not loaded) would otherwise be
// ignored without a word, and the exception or allow-list it was meant to add silently missing.

// macroRef finds the macro references of SPL text: `name` or `name(args)`. Text inside a quoted value is read too,
// which can only make a macro look referenced when it is not, never the reverse.
var macroRef = regexp.MustCompile("`([^`]+)`")

// referenceText is what of a rule file may reference macros: an ESCU detection's search, and the whole text of any
// other file (a detection whose YAML is broken, a file of no known format), which can only make a macro look
// referenced, never the reverse.
func referenceText(f format, data []byte) string {
	if f == escuDetection {
		if s := escuSearch(data); s != "" {
			return s
		}
	}
	return string(data)
}

// splComment is an SPL comment, ```...```: its backticks are not macro references.
var splComment = regexp.MustCompile("(?s)```.*?```")

// escuSearch returns the `search:` of an ESCU detection file ("" when it cannot be read; the parser reports why).
func escuSearch(data []byte) string {
	var d struct {
		Search string `yaml:"search"`
	}
	_ = yaml.Unmarshal(data, &d)
	return d.Search
}

// macroName is the name of a macro key (`name`, `name(2)`, `name(a,b)`) or of a reference body (`name(x, "y")`).
func macroName(s string) string {
	if i := strings.IndexByte(s, '('); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}

// referencedMacros returns the names of the macros that searches reference, directly or through the definitions
// of the macros they reference (by name, whatever the number of arguments).
func referencedMacros(searches []string, scopes ...spl.Macros) map[string]bool {
	defs := map[string][]string{}
	for _, macros := range scopes {
		for k, d := range macros {
			defs[macroName(k)] = append(defs[macroName(k)], d)
		}
	}
	seen := map[string]bool{}
	queue := slices.Clone(searches)
	for len(queue) > 0 {
		text := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		for _, m := range macroRef.FindAllStringSubmatch(splComment.ReplaceAllString(text, " "), -1) {
			if n := macroName(m[1]); !seen[n] {
				seen[n] = true
				queue = append(queue, defs[n]...)
			}
		}
	}
	return seen
}

// checkConfiguredMacros fails for each configured macro that no detection file references, naming it and the
// closest macro the detections do reference.
func checkConfiguredMacros(configured map[string]string, refs map[string]bool) error {
	var unused []string
	for k := range configured {
		if !refs[macroName(k)] {
			unused = append(unused, k)
		}
	}
	if len(unused) == 0 {
		return nil
	}
	sort.Strings(unused)
	known := make([]string, 0, len(refs))
	for n := range refs {
		known = append(known, n)
	}
	sort.Strings(known)
	var msgs []string
	for _, k := range unused {
		msg := fmt.Sprintf("macros: %q is referenced by no loaded rule, so it would change nothing", k)
		if best := suggest.Closest(macroName(k), known); best != "" && !otherFilter(macroName(k), best) {
			msg += fmt.Sprintf(" (did you mean %q?)", best)
		} else if len(known) == 0 {
			msg += " (no loaded rule references any macro)"
		}
		msgs = append(msgs, msg)
	}
	return fmt.Errorf("%s", strings.Join(msgs, "; "))
}

// otherFilter says that suggesting filter macro b for a's is likely to point at another detection's exception hook
// (kubernetes_node_port_creation_filter for kubernetes_daemonset_created_filter): only a near spelling is suggested.
func otherFilter(a, b string) bool {
	return strings.HasSuffix(a, "_filter") && strings.HasSuffix(b, "_filter") && suggest.EditDistance(a, b) > 2
}
