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
// correlation that fails to load is left out all the same (it was not meant to alert alone).
func linkCorrelations(correlations []fileCorrelation, res *Result, add func(int, *rule.Rule), fail func(int, error)) {
	if len(correlations) == 0 {
		return
	}
	byRef := map[string]*rule.Rule{}
	for _, r := range res.Rules {
		if r.Origin.Format != "sigma" {
			continue
		}
		byRef[r.ID] = r
		if r.Ref != "" {
			byRef[r.Ref] = r
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
	res.Rules = slices.DeleteFunc(res.Rules, func(r *rule.Rule) bool { return named[r] && !generated[r] })
}
