package event

import (
	"bytes"
	"testing"
)

// TestQuoteOrSlash: the vector search and the SWAR one find the first quote or backslash of 64 bytes at every offset
// of a buffer, among bytes that differ from them in one bit only ('"'|0x80 and the like), and SWAR the shorter rest of
// a body.
func TestQuoteOrSlash(t *testing.T) {
	ref := func(w []byte) int {
		for i, c := range w {
			if c == '"' || c == '\\' {
				return i
			}
		}
		return -1
	}
	near := []byte{'"' | 0x80, '\\' | 0x80, '"' ^ 1, '\\' ^ 1, 'a', 0}
	buf := make([]byte, 64+16+1)
	for off := range 16 {
		for at := -1; at < 64; at++ {
			for _, mark := range []byte{'"', '\\'} {
				for i := range buf {
					buf[i] = near[(i+off+at+1)%len(near)]
				}
				w := buf[off : off+64]
				if at >= 0 {
					w[at] = mark
					if at+3 < len(w) {
						w[at+3] = '"' // a later one does not count
					}
				}
				buf[off+64] = '"' // nor one just past the 64 bytes
				want := ref(w)
				if got := quoteOrSlash64(&buf[off]); got != want {
					t.Fatalf("quoteOrSlash64(%q) = %d, want %d", w, got, want)
				}
				if got := quoteOrSlashSWAR(w); got != want {
					t.Fatalf("quoteOrSlashSWAR(%q) = %d, want %d", w, got, want)
				}
				for n := 0; n <= 64; n++ { // the last bytes of a body
					if got := quoteOrSlashSWAR(w[:n]); got != ref(w[:n]) {
						t.Fatalf("quoteOrSlashSWAR(%q) = %d, want %d", w[:n], got, ref(w[:n]))
					}
				}
			}
		}
	}
}

// TestStringEndNearTheEnd: a string that ends within the last 64 bytes of a body, where the search has fewer bytes
// than its window, ends where a byte-by-byte reader says, and says whether it holds a backslash.
func TestStringEndNearTheEnd(t *testing.T) {
	for n := 0; n < 80; n++ {
		for _, content := range []string{"", "x", `a\"b`, "0123456789abcdef0123456789"} {
			body := []byte(`{"k":"` + content + `"` + string(bytes.Repeat([]byte{'}'}, n)))
			checkStringEnd(t, body, bytes.IndexByte(body[5:], '"')+5)
		}
	}
}

// checkStringEnd: stringEnd and stringEndEsc find the end of the string at b[i] that a byte-by-byte reader finds, and
// stringEndEsc says "no backslash" only of a string without one.
func checkStringEnd(t *testing.T, b []byte, i int) {
	t.Helper()
	want := refStringEnd(b, i)
	if got := stringEnd(b, i); got != want {
		t.Fatalf("stringEnd(%q, %d) = %d, want %d", b, i, got, want)
	}
	got, esc := stringEndEsc(b, i)
	if got != want {
		t.Fatalf("stringEndEsc(%q, %d) = %d, want %d", b, i, got, want)
	}
	if want > 0 && !esc && bytes.IndexByte(b[i+1:want-1], '\\') >= 0 {
		t.Fatalf("stringEndEsc(%q, %d): no backslash said", b, i)
	}
}

// TestLastIndexQuote: the word-at-a-time search from the end finds what bytes.LastIndexByte finds, at every length up
// to three words and every place of the last quote, among bytes one bit away from a quote ('"'|0x80, '"'^1, '#' above
// a quote, which the shorter zero-byte test flags by its borrow) and with earlier quotes that must not count.
func TestLastIndexQuote(t *testing.T) {
	near := []byte{'"' | 0x80, '"' ^ 1, '#', 0, 0xff, 'a'}
	for n := range 25 {
		for at := -1; at < n; at++ {
			for shift := range len(near) {
				b := make([]byte, n)
				for i := range b {
					b[i] = near[(i+shift)%len(near)]
				}
				if at >= 0 {
					b[at] = '"'
					if at >= 3 {
						b[at-3] = '"'
					}
					if at+1 < n {
						b[at+1] = '#' // 0x23: one above the quote, where a borrow would land
					}
				}
				if got, want := lastIndexQuote(b), bytes.LastIndexByte(b, '"'); got != want {
					t.Fatalf("lastIndexQuote(%q) = %d, want %d", b, got, want)
				}
			}
		}
	}
}
