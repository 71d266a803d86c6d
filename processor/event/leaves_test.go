package event

import (
	"slices"
	"strings"
	"testing"
)

// TestLeavesPath: a leaves path's values are every string, number and boolean at or under the member it reaches, in
// document order, keys and nulls left out, through objects and arrays, escapes undone.
func TestLeavesPath(t *testing.T) {
	const ev = `{"kind":"Event","requestObject":{"spec":{"volumes":[{"name":"a","emptyDir":{}},
{"name":"b","hostPath":{"path":"/var/run/docker.sock","type":"Socket","x":{"deep":[1,true,null,"q\"\u0041"]}}},
{"name":"c","hostPath":"scalar"},{"name":"d","hostPath":null},{"name":"e","hostPath":[{"path":"/etc"},["/proc"]]}]}}}`
	for _, tt := range []struct {
		path string
		want []string
	}{
		{"requestObject.spec.volumes.hostPath", []string{"/var/run/docker.sock", "Socket", "1", "true", `q"A`, "scalar", "/etc", "/proc"}},
		{"requestObject.spec.volumes.hostPath.path", []string{"/var/run/docker.sock", "/etc"}},
		{"requestObject.spec.volumes.emptyDir", nil},
		{"requestObject.spec.volumes.name", []string{"a", "b", "c", "d", "e"}},
		{"requestObject.spec.nothing", nil},
	} {
		t.Run(tt.path, func(t *testing.T) {
			var p Parser
			for _, open := range []bool{false, true} {
				var v *View
				var err error
				if open {
					v, err = p.Open([]byte(ev))
				} else {
					v, err = p.Parse([]byte(ev))
				}
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				v.Each(CompileLeavesPath(tt.path, true), func(b []byte) bool {
					got = append(got, string(b))
					return true
				})
				if !slices.Equal(got, tt.want) {
					t.Errorf("open %v: values %q, want %q", open, got, tt.want)
				}
				if v.Err() != nil {
					t.Errorf("Err = %v", v.Err())
				}
				// Stopping early stops.
				n := 0
				v.Each(CompileLeavesPath(tt.path, true), func([]byte) bool { n++; return false })
				if want := min(1, len(tt.want)); n != want {
					t.Errorf("open %v: %d calls after stopping, want %d", open, n, want)
				}
			}
		})
	}
}

// TestLeavesPathDepth: a deep object is scanned once, and keys at every depth are not values.
func TestLeavesPathDepth(t *testing.T) {
	var p Parser
	body := `{"kind":"Event","requestObject":` + strings.Repeat(`{"a":`, MaxDepth-2) + `"v"` + strings.Repeat(`}`, MaxDepth-2) + `}`
	v, err := p.Open([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	v.Each(CompileLeavesPath("requestObject", true), func(b []byte) bool {
		got = append(got, string(b))
		return true
	})
	if !slices.Equal(got, []string{"v"}) || v.Err() != nil {
		t.Errorf("values %q (err %v), want [v]", got, v.Err())
	}
}
