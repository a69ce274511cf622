// Package jsonscan reads JSON the way a browser's JSON.parse does, without
// decoding it into Go values: a validator, the values of chosen keys of an
// object, the elements of an array. The relay and its filters read every
// customer event with it; encoding/json costs several times as much and
// matches keys case-insensitively, so an event could look like one thing
// to the server and another to the console.
package jsonscan

import (
	"bytes"
	"math"
	"strconv"
)

// Fields puts in vals (one per wanted key) the raw values of those keys of
// a JSON object, the last one where a key repeats — as a browser's
// JSON.parse sees it. Keys match exactly (encoding/json would also match
// them case-insensitively, so an event could look like one type to the
// filter and another to the console). b must be valid JSON, which the relay
// has checked; it reports false when b is not an object. vals is the
// caller's, so that the scans made on every event allocate nothing.
func Fields(vals [][]byte, b []byte, want ...string) bool {
	clear(vals)
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return true
	}
	for i < len(b) {
		if b[i] != '"' {
			return false
		}
		kEnd := skipString(b, i)
		key := b[i+1 : kEnd-1]
		i = skipSpace(b, kEnd)
		if i >= len(b) || b[i] != ':' {
			return false
		}
		vStart := skipSpace(b, i+1)
		vEnd := skipValue(b, vStart)
		if vEnd <= vStart {
			return false
		}
		for w, k := range want {
			if keyEquals(key, k) {
				vals[w] = b[vStart:vEnd]
			}
		}
		i = skipSpace(b, vEnd)
		if i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
			continue
		}
		if i < len(b) && b[i] == '}' {
			return true
		}
		return false
	}
	return false
}

// keyEquals compares a raw key (which may hold escapes) with k; a key with
// escapes is decoded first so "\u0074ype" is "type", as in a browser.
func keyEquals(raw []byte, k string) bool {
	for _, c := range raw {
		if c == '\\' {
			s, err := strconv.Unquote(`"` + string(raw) + `"`)
			return err == nil && s == k
		}
	}
	return string(raw) == k
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] == '"'.
// It jumps from quote to quote (IndexByte is vectorised: page text is most
// of a snapshot's bytes); a quote after an odd run of backslashes is
// escaped.
func skipString(b []byte, i int) int {
	j := i + 1
	for {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return len(b)
		}
		j += k
		n := 0
		for p := j - 1; p > i && b[p] == '\\'; p-- {
			n++
		}
		if n%2 == 0 {
			return j + 1
		}
		j++
	}
}

// skipValue returns the index after the value starting at b[i].
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				j = skipString(b, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return len(b)
	default: // number, true, false, null
		j := i
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\n' && b[j] != '\t' && b[j] != '\r' {
			j++
		}
		return j
	}
}

// Int reads an integral number the way a browser does: 5, 5.0 and 5e0 are
// all 5 (else a crafted id could name a node for the console but not for a
// filter). ok is false for anything else.
func Int(v []byte) (int64, bool) {
	return IntString(string(v))
}

// IntString is Int for a number already held as a string.
func IntString(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, false
	}
	return int64(f), true
}
