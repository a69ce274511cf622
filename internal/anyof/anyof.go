// Package anyof tells whether a text holds any of a fixed set of byte
// strings, in one pass over it.
//
// The privacy filter and the page-file rewriter each decide from a dozen
// markers whether a DOM mutation needs decoding at all; a bytes.Contains
// per marker read every mutation two dozen times, which was a quarter of
// the relay's work on a batch holding one. Set reads it once, looking up
// each pair of adjacent bytes in a table of the pairs the strings begin
// with, and compares the strings only where one may begin.
package anyof

import "bytes"

// Set is a fixed set of byte strings, each at least two bytes long. It is
// not changed after New, so it is safe for concurrent use.
type Set struct {
	pairs   [1 << 16 / 64]uint64 // bit p: some string begins with the pair p (first byte high)
	strings [][]byte
}

// New returns the set of strs; it panics on a string shorter than two
// bytes, which this search cannot look for.
func New(strs ...string) *Set {
	s := &Set{}
	for _, str := range strs {
		if len(str) < 2 {
			panic("anyof: a string shorter than two bytes: " + str)
		}
		p := pair(str[0], str[1])
		s.pairs[p>>6] |= 1 << (p & 63)
		s.strings = append(s.strings, []byte(str))
	}
	return s
}

func pair(a, b byte) uint16 { return uint16(a)<<8 | uint16(b) }

// In reports whether b holds any of the set's strings.
func (s *Set) In(b []byte) bool {
	for i := 0; i+1 < len(b); i++ {
		p := pair(b[i], b[i+1])
		if s.pairs[p>>6]&(1<<(p&63)) == 0 {
			continue
		}
		for _, str := range s.strings {
			if str[0] == b[i] && str[1] == b[i+1] && bytes.HasPrefix(b[i:], str) {
				return true
			}
		}
	}
	return false
}
