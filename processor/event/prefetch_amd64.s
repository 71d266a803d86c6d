#include "textflag.h"

// func prefetch(p *byte, n int)
// Issues PREFETCHT0 for each 64-byte line that p[:n] touches (n > 0).
TEXT ·prefetch(SB), NOSPLIT, $0-16
	MOVQ p+0(FP), AX
	MOVQ n+8(FP), CX
	ADDQ AX, CX      // the end
	ANDQ $-64, AX    // the first line
loop:
	PREFETCHT0 (AX)
	ADDQ $64, AX
	CMPQ AX, CX
	JB   loop
	RET
