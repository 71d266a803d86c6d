package engine

import (
	"strings"

	"github.com/auditdetect/auditdetect/processor/event"
)

// Row is one result row of a rule: the fields Splunk would show for one line of the search's results.
type Row struct {
	Fields []RowField
}

// RowField is one field of a row. Values holds one value for a plain field and several for a multi-valued one.
type RowField struct {
	Name   string
	Values []string
	// Numeric marks aggregates that are numbers by nature (count, dc), written as integers.
	Numeric bool
	// from, on a field of a row being worked on, says it is a copy of the event field from, read when needed (Values
	// is nil until then): an ES|QL query copies every field it names into a column, and most copies are only read
	// once, in place, by a window's aggregates. Never set on the fields of a Row (finish reads them).
	from *fieldRef
}

// Values returns the values of the named field, or nil.
func (r Row) Values(name string) []string {
	for _, f := range r.Fields {
		if f.Name == name {
			return f.Values
		}
	}
	return nil
}

// row is a row being worked on by the pipeline. Before stats it still reads the event; fields set by stages take
// precedence, renamed fields are hidden, and so are the event's fields a projection (table, fields) did not keep.
type row struct {
	ev     *event.View
	fields []RowField
	hidden []string
	// gates are the projections the row went through while it reads the event: an event field is seen only when
	// every one keeps it. Never copied from the event: a projection costs nothing per event field.
	gates []*projectStage
}

func (r *row) get(name string) ([]string, bool) {
	if i := r.index(name); i >= 0 {
		r.read(i)
		return r.fields[i].Values, true
	}
	return nil, false
}

// index is the index of the row's field named name, or -1.
func (r *row) index(name string) int {
	for i := range r.fields {
		if r.fields[i].Name == name {
			return i
		}
	}
	return -1
}

// read gives field i its values, when it is a copy of an event field not read yet.
func (r *row) read(i int) {
	f := &r.fields[i]
	if f.from == nil {
		return
	}
	var vals []string
	r.ev.Each(f.from.path, func(v []byte) bool {
		vals = append(vals, string(v))
		return true
	})
	f.Values, f.from = vals, nil
}

func (r *row) set(name string, vals []string, numeric bool) {
	if i := r.index(name); i >= 0 {
		r.fields[i] = RowField{Name: name, Values: vals, Numeric: numeric}
		return
	}
	r.fields = append(r.fields, RowField{Name: name, Values: vals, Numeric: numeric})
}

// copyOf sets the field name to the values of the event field from, to be read when needed (RowField.from).
func (r *row) copyOf(name string, from *fieldRef) {
	if i := r.index(name); i >= 0 {
		r.fields[i] = RowField{Name: name, from: from}
		return
	}
	r.fields = append(r.fields, RowField{Name: name, from: from})
}

// rename gives a field a new name in place, as Splunk keeps a renamed column where it was; a field read from the
// event is hidden under its old name and added under the new one.
func (r *row) rename(from, to string, vals []string, numeric bool) {
	r.hidden = append(r.hidden, from)
	for i := range r.fields {
		if r.fields[i].Name == to && to != from {
			r.fields = append(r.fields[:i], r.fields[i+1:]...)
			break
		}
	}
	for i := range r.fields {
		if r.fields[i].Name == from {
			r.fields[i] = RowField{Name: to, Values: vals, Numeric: numeric}
			return
		}
	}
	r.fields = append(r.fields, RowField{Name: to, Values: vals, Numeric: numeric})
}

func (r *row) isHidden(name string) bool {
	for _, h := range r.hidden {
		if h == name {
			return true
		}
	}
	for _, g := range r.gates {
		if !g.p.Keeps(name) {
			return true
		}
	}
	return false
}

// eventOnly reports whether the row is the event as it came, no field set, renamed or projected away: its fields
// are the event's, and can be read through the evaluation's memo of the event.
func (r *row) eventOnly() bool {
	return r.ev != nil && len(r.fields) == 0 && len(r.hidden) == 0 && len(r.gates) == 0
}

func (r *row) each(f *fieldRef, fn func([]byte) bool) bool {
	if i := r.index(f.name); i >= 0 && r.fields[i].from != nil {
		return r.ev.Each(r.fields[i].from.path, fn)
	}
	if vals, ok := r.get(f.name); ok {
		for _, v := range vals {
			if !fn([]byte(v)) {
				return false
			}
		}
		return true
	}
	if r.ev != nil && !r.isHidden(f.name) {
		return r.ev.Each(f.path, fn)
	}
	return true
}

// eachString is each with the values as strings: a row's own values as they are, the event's as views of its bytes,
// valid only during the call to fn (copy one to keep it), so that reading a value allocates nothing.
func (r *row) eachString(f *fieldRef, fn func(string) bool) bool {
	if valuesRead != nil {
		inner := fn
		fn = func(v string) bool { *valuesRead++; return inner(v) }
	}
	if i := r.index(f.name); i >= 0 && r.fields[i].from != nil {
		return r.ev.Each(r.fields[i].from.path, func(b []byte) bool { return fn(b2s(b)) })
	}
	if vals, ok := r.get(f.name); ok {
		for _, v := range vals {
			if !fn(v) {
				return false
			}
		}
		return true
	}
	if r.ev != nil && !r.isHidden(f.name) {
		return r.ev.Each(f.path, func(b []byte) bool { return fn(b2s(b)) })
	}
	return true
}

// values returns a copy of the field's values, from the row or the event. The row's own values are copied string to
// string (row.each would copy each twice, to bytes and back), not shared: one may be a view of a larger string
// (split), and a caller may keep what values returns (a window, its group keys).
func (r *row) values(f *fieldRef) []string {
	if i := r.index(f.name); i >= 0 && r.fields[i].from == nil {
		vals := r.fields[i].Values
		if len(vals) == 0 {
			return nil
		}
		out := make([]string, len(vals))
		for j, v := range vals {
			out[j] = strings.Clone(v)
		}
		return out
	}
	var out []string
	r.each(f, func(v []byte) bool {
		out = append(out, string(v))
		return true
	})
	return out
}

func (r *row) has(f *fieldRef) bool {
	if i := r.index(f.name); i >= 0 && r.fields[i].from == nil {
		return len(r.fields[i].Values) > 0 // each would copy a value to bytes to say so
	}
	return !r.each(f, func([]byte) bool { return false })
}

func (r *row) clone() *row {
	c := &row{ev: r.ev}
	c.fields = append(c.fields, r.fields...)
	c.hidden = append(c.hidden, r.hidden...)
	c.gates = append(c.gates, r.gates...)
	return c
}

// valuesRead, when set (by tests), counts the values eachString hands out.
var valuesRead *int
