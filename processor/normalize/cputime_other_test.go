//go:build !linux

package normalize_test

import "time"

func threadCPU() (time.Duration, bool) { return 0, false }
