package window

import (
	"fmt"
	"sync"
	"testing"
)

func TestRecent(t *testing.T) {
	r := NewRecent[int](3)
	for i := 0; i < 5; i++ {
		r.Put([]byte(fmt.Sprint(i)), i)
	}
	if r.Len() != 3 {
		t.Fatalf("holds %d keys, want 3", r.Len())
	}
	if _, ok := r.Get([]byte("1")); ok {
		t.Error("the least recently used key was kept")
	}
	r.Get([]byte("2")) // used: 3 is now the oldest
	r.Put([]byte("2"), 20)
	r.Put([]byte("5"), 5)
	if v, ok := r.Get([]byte("2")); !ok || v != 20 {
		t.Errorf("2 = %d, %v; want the replaced value 20", v, ok)
	}
	if _, ok := r.Get([]byte("3")); ok {
		t.Error("3, the oldest, was kept")
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				k := []byte(fmt.Sprint(g, i%7))
				r.Put(k, i)
				r.Get(k)
			}
		}(g)
	}
	wg.Wait()
	if r.Len() != 3 {
		t.Fatalf("holds %d keys after concurrent use, want 3", r.Len())
	}
}

// TestRecentPutNew: PutNew remembers a key as Put does, and makes room the same way.
func TestRecentPutNew(t *testing.T) {
	r := NewRecent[int](2)
	for i := range 3 {
		r.PutNew([]byte(fmt.Sprint(i)), i*10)
	}
	if _, ok := r.Get([]byte("0")); ok || r.Len() != 2 {
		t.Fatalf("holds %d keys, the oldest %v", r.Len(), ok)
	}
	for i := 1; i < 3; i++ {
		if v, ok := r.Get([]byte(fmt.Sprint(i))); !ok || v != i*10 {
			t.Errorf("%d = %d, %v", i, v, ok)
		}
	}
}
