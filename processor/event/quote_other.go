//go:build !amd64

package event

import "unsafe"

// quoteOrSlash64 is the index of the first quote or backslash among the 64 bytes at p, or -1. Only amd64 has a vector
// search written for it (quote_amd64.s); arm64's speed cannot be measured here.
func quoteOrSlash64(p *byte) int { return quoteOrSlashSWAR(unsafe.Slice(p, 64)) }
