package normalize_test

import (
	"syscall"
	"time"
)

// threadCPU is the CPU time the calling OS thread has used: benchmarks report it beside wall time, which on a shared
// machine counts the time other processes held the CPU.
func threadCPU() (time.Duration, bool) {
	const rusageThread = 1 // RUSAGE_THREAD
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
