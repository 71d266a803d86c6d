//go:build !amd64 && !arm64

package event

// prefetch does nothing where no assembly hint is written (amd64 and arm64 have one; `make test` runs the tests of
// both, arm64 under qemu-user): the caches fill when the bytes are read.
func prefetch(*byte, int) {}
