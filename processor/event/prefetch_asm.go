//go:build amd64 || arm64

package event

// prefetch hints that the lines of p[:n] will be read soon; n > 0. It is assembly because Go has no prefetch
// intrinsic outside the runtime, and a plain load waits for the line, which is what prefetching avoids. amd64 issues
// PREFETCHT0, arm64 PRFM PLDL1KEEP: both load into every cache level.
//
//go:noescape
func prefetch(p *byte, n int)
