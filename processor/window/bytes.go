package window

// GetBytes is Get for a key held in a byte slice, without copying it into a string (the map lookup converts in
// place).
func (s *Store[V]) GetBytes(key []byte) (*V, bool) {
	e, ok := s.entries[string(key)]
	if !ok {
		return nil, false
	}
	s.unlink(e)
	s.pushBack(e)
	return &e.val, true
}
