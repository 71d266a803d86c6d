//go:build !amd64

package event

// prefetch does nothing where no assembly hint is written (only amd64 has one, the platform it is tested on):
// the caches fill when the bytes are read.
func prefetch(*byte, int) {}
