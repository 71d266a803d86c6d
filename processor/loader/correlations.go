package loader

import (
	"slices"

	"github.com/auditdetect/auditdetect/processor/rule"
	"github.com/auditdetect/auditdetect/processor/sigma"
)

// fileCorrelation is a Sigma correlation rule and the index of its file.
type fileCorrelation struct {
	file int
	c    *sigma.Correlation
}

// linkCorrelations compiles each Sigma correlation against the Sigma rules loaded (by id and by name), adds it to
// res, and leaves out the rules that correlations name unless one of them sets `generate: true`: by the
// specification a rule a correlation names is a building block, not an alert of its own. A rule named by a
// correlation that fails to load is left out all the same (it was not meant to alert alone), and so is one named in
// held, the references of correlations whose files failed to parse.
func linkCorrelations(correlations []fileCorrelation, held []string, res *Result, add func(int, *rule.Rule), fail func(int, error)) {
	if len(correlations) == 0 && len(held) == 0 {
		return
	}
	// The Sigma rules by name and by the id they state (a rule without one is named by its title inside
	// auditdetect, which a correlation does not refer to); a name two rules have resolves to nil.
	byRef := map[string]*rule.Rule{}
	index := func(k string, r *rule.Rule) {
		if prev, ok := byRef[k]; ok && prev != r {
			byRef[k] = nil
			return
		}
		byRef[k] = r
	}
	for _, r := range res.Rules {
		if r.Origin.Format != "sigma" {
			continue
		}
		if r.ID != r.Name {
			index(r.ID, r)
		}
		if r.Ref != "" {
			index(r.Ref, r)
		}
	}
	isCorrelation := map[string]bool{}
	for _, fc := range correlations {
		isCorrelation[fc.c.Rule.ID] = true
		if fc.c.Rule.Ref != "" {
			isCorrelation[fc.c.Rule.Ref] = true
		}
	}
	named, generated := map[*rule.Rule]bool{}, map[*rule.Rule]bool{}
	for _, ref := range held {
		if r := byRef[ref]; r != nil {
			named[r] = true
		}
	}
	for _, fc := range correlations {
		r, bases, err := fc.c.Compile(byRef, isCorrelation)
		for _, b := range bases {
			named[b] = true
			generated[b] = generated[b] || fc.c.Generate && err == nil
		}
		if err != nil {
			fail(fc.file, err)
			continue
		}
		add(fc.file, r)
	}
	for _, r := range res.Rules {
		if named[r] && !generated[r] {
			res.Correlated = append(res.Correlated, r)
		}
	}
	res.Rules = slices.DeleteFunc(res.Rules, func(r *rule.Rule) bool { return named[r] && !generated[r] })
}
