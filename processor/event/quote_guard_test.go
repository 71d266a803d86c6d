//go:build linux

package event

import (
	"syscall"
	"testing"
)

// TestStringEndAtAPageEnd: bodies that end at the last byte of a readable page, between two unreadable ones, so a
// search that reads past a body's end (or before the 64 bytes it was given) faults where a heap slice would hide it.
// Every string start of bodies 1-140 bytes long, terminated, unterminated, with and without a backslash.
func TestStringEndAtAPageEnd(t *testing.T) {
	ps := syscall.Getpagesize()
	mem, err := syscall.Mmap(-1, 0, 3*ps, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Fatal("mmap:", err)
	}
	defer syscall.Munmap(mem)
	for _, g := range [][]byte{mem[:ps], mem[2*ps:]} {
		if err := syscall.Mprotect(g, syscall.PROT_NONE); err != nil {
			t.Fatal("mprotect:", err)
		}
	}
	page := mem[ps : 2*ps]

	// The 64 bytes at the very start and the very end of the page.
	for _, at := range []int{0, ps - 64} {
		w := page[at : at+64]
		for i := range w {
			w[i] = 'a'
		}
		if got := quoteOrSlash64(&w[0]); got != -1 {
			t.Fatalf("quoteOrSlash64 at %d = %d, want -1", at, got)
		}
		w[63] = '\\'
		if got := quoteOrSlash64(&w[0]); got != 63 {
			t.Fatalf("quoteOrSlash64 at %d = %d, want 63", at, got)
		}
	}

	for l := 1; l <= 140; l++ {
		for _, tail := range []string{"", `"`, `\"`, `\\"`, `\`} {
			if len(tail) > l {
				continue
			}
			body := page[ps-l:]
			for i := range body {
				body[i] = 'x'
			}
			copy(body[l-len(tail):], tail)
			for i := range l {
				save := body[i]
				body[i] = '"'
				checkStringEnd(t, body, i)
				body[i] = save
			}
		}
	}
}
