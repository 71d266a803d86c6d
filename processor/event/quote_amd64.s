#include "textflag.h"

// func quoteOrSlash64(p *byte) int
// The index of the first '"' or '\\' among the 64 bytes at p, or -1: SSE2, 16 bytes a step, stopping at the step
// that finds one (most strings of an event's head are short).
TEXT ·quoteOrSlash64(SB), NOSPLIT, $0-16
	MOVQ   p+0(FP), SI
	MOVOU  quotes<>(SB), X1
	MOVOU  slashes<>(SB), X2
	XORQ   CX, CX
loop:
	MOVOU    (SI)(CX*1), X0
	MOVOU    X0, X3
	PCMPEQB  X1, X0
	PCMPEQB  X2, X3
	POR      X3, X0
	PMOVMSKB X0, DX
	TESTL    DX, DX
	JNZ      found
	ADDQ     $16, CX
	CMPQ     CX, $64
	JB       loop
	MOVQ     $-1, ret+8(FP)
	RET
found:
	BSFL DX, DX
	ADDQ DX, CX
	MOVQ CX, ret+8(FP)
	RET

DATA quotes<>+0(SB)/8, $0x2222222222222222
DATA quotes<>+8(SB)/8, $0x2222222222222222
GLOBL quotes<>(SB), RODATA|NOPTR, $16
DATA slashes<>+0(SB)/8, $0x5c5c5c5c5c5c5c5c
DATA slashes<>+8(SB)/8, $0x5c5c5c5c5c5c5c5c
GLOBL slashes<>(SB), RODATA|NOPTR, $16
