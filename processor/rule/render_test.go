package rule

import "testing"

// TestValueTextOfTimeFunctions: strftime and strptime are spelt as SPL writes them, without the search's time zone
// the compiler adds (SPL names it nowhere: it is the user's).
func TestValueTextOfTimeFunctions(t *testing.T) {
	zone := Constant{Text: "Europe/Berlin"}
	for _, c := range []struct {
		v    Value
		want string
	}{
		{Call{Func: "format_time", Args: []Value{Call{Func: "event_time"}, Constant{Text: "%H"}, zone}}, `strftime(_time, "%H")`},
		{Call{Func: "format_time", Args: []Value{FieldValue{Field: Field{Name: "t"}}, Constant{Text: "%F"}}}, `strftime(t, "%F")`},
		{Call{Func: "parse_time", Args: []Value{FieldValue{Field: Field{Name: "s"}}, Constant{Text: "%F"}, zone}}, `strptime(s, "%F")`},
	} {
		if got := ValueText(c.v); got != c.want {
			t.Errorf("ValueText = %s, want %s", got, c.want)
		}
	}
}
