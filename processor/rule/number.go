package rule

import (
	"math"
	"strconv"
)

// Numbers in computed values. Values are text; eval reads a value as a number when it is one (ParseNumber) and
// computes in double precision, as Splunk's eval does ("numbers are treated as double-precision floating-point
// numbers"), and a result is text again (FormatNumber). Front ends that fold constants and the engine use these same
// functions, so that `2*5` folded when the rule loads is the `10` the engine would compute.

// maxNumberBytes is the longest text read as a number: longer values are text (the engine's comparisons read them so).
const maxNumberBytes = 64

// ParseNumber reads s as a number: a decimal number (IsDecimal) of at most 64 bytes within double's range. Others
// ("nan", "inf", hex, 1e400, a space around it) are no number.
func ParseNumber(s string) (float64, bool) {
	if len(s) == 0 || len(s) > maxNumberBytes || !IsDecimal(s) {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}

// FormatNumber writes a computed number: the shortest decimal that reads back as the same double, without an exponent
// from 1e-6 up to 1e21 (3 for 3.0, 0.1 for 0.1, 2.5e-7 and 1e+21 beyond), 0 for -0, and inf, -inf and nan for
// double's special values, as Splunk writes them. A whole number past 2^53 keeps only the digits a double holds.
func FormatNumber(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case f == 0:
		return "0"
	}
	if a := math.Abs(f); a >= 1e-6 && a < 1e21 {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return strconv.FormatFloat(f, 'e', -1, 64)
}

// Arithmetic applies the Call function fn (add, subtract, multiply, divide, modulo) to two numbers in double
// precision; false for a division by zero, which is null in Splunk ("Division by zero results in a null field").
func Arithmetic(fn string, a, b float64) (float64, bool) {
	switch fn {
	case "add":
		return a + b, true
	case "subtract":
		return a - b, true
	case "multiply":
		return a * b, true
	case "divide":
		if b == 0 {
			return 0, false
		}
		return a / b, true
	case "modulo":
		if b == 0 {
			return 0, false
		}
		return math.Mod(a, b), true
	}
	return 0, false
}
