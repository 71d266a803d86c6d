package engine

import (
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
// precedence, and renamed fields are hidden.
type row struct {
	ev     *event.View
	fields []RowField
	hidden []string
}

func (r *row) get(name string) ([]string, bool) {
	for i := range r.fields {
		if r.fields[i].Name == name {
			return r.fields[i].Values, true
		}
	}
	return nil, false
}

func (r *row) set(name string, vals []string, numeric bool) {
	for i := range r.fields {
		if r.fields[i].Name == name {
			r.fields[i].Values, r.fields[i].Numeric = vals, numeric
			return
		}
	}
	r.fields = append(r.fields, RowField{Name: name, Values: vals, Numeric: numeric})
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
	return false
}

func (r *row) each(f *fieldRef, fn func([]byte) bool) bool {
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

// values returns a copy of the field's values, from the row or the event.
func (r *row) values(f *fieldRef) []string {
	var out []string
	r.each(f, func(v []byte) bool {
		out = append(out, string(v))
		return true
	})
	return out
}

func (r *row) has(f *fieldRef) bool {
	return !r.each(f, func([]byte) bool { return false })
}

func (r *row) clone() *row {
	c := &row{ev: r.ev}
	c.fields = append(c.fields, r.fields...)
	c.hidden = append(c.hidden, r.hidden...)
	return c
}
