package privacy

import (
	"math"
	"strconv"
)

// fields returns the raw values of the wanted keys of a JSON object, the
// last one where a key repeats — as a browser's JSON.parse sees it. Keys
// match exactly (encoding/json would also match them case-insensitively, so
// an event could look like one type to the filter and another to the
// console). b must be valid JSON, which the relay has checked; ok is false
// when b is not an object.
func fields(b []byte, want ...string) (vals [][]byte, ok bool) {
	vals = make([][]byte, len(want))
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return vals, true
	}
	for i < len(b) {
		if b[i] != '"' {
			return nil, false
		}
		kEnd := skipString(b, i)
		key := b[i+1 : kEnd-1]
		i = skipSpace(b, kEnd)
		if i >= len(b) || b[i] != ':' {
			return nil, false
		}
		vStart := skipSpace(b, i+1)
		vEnd := skipValue(b, vStart)
		if vEnd <= vStart {
			return nil, false
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
			return vals, true
		}
		return nil, false
	}
	return nil, false
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
func skipString(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(b)
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

// intField reads an integral number the way a browser does: 5, 5.0 and
// 5e0 are all 5 (else a crafted id could name a node for the console but
// not for the filter). ok is false for anything else.
func intField(v []byte) (int64, bool) {
	return intLike(string(v))
}

func intLike(s string) (int64, bool) {
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
