package jsonscan

// maxDepth is encoding/json's nesting limit, so that Valid and json.Valid
// agree on every input.
const maxDepth = 10000

// Valid reports whether b is exactly one JSON value with only white space
// around it, as encoding/json.Valid does, in one pass and without
// allocating for nesting up to 64 levels.
func Valid(b []byte) bool {
	var buf [64]bool // per open container: true for an object
	stack := buf[:0]
	i := skipSpace(b, 0)
	for {
		// A value starts at i.
		if i >= len(b) {
			return false
		}
		switch c := b[i]; {
		case c == '{' || c == '[':
			obj := c == '{'
			if len(stack) == maxDepth {
				return false
			}
			i = skipSpace(b, i+1)
			if i < len(b) && ((obj && b[i] == '}') || (!obj && b[i] == ']')) {
				i++
				break
			}
			stack = append(stack, obj)
			if obj {
				var ok bool
				if i, ok = key(b, i); !ok {
					return false
				}
			}
			continue
		case c == '"':
			var ok bool
			if i, ok = str(b, i); !ok {
				return false
			}
		case c == '-' || (c >= '0' && c <= '9'):
			var ok bool
			if i, ok = number(b, i); !ok {
				return false
			}
		case c == 't':
			if !literal(b, i, "true") {
				return false
			}
			i += 4
		case c == 'f':
			if !literal(b, i, "false") {
				return false
			}
			i += 5
		case c == 'n':
			if !literal(b, i, "null") {
				return false
			}
			i += 4
		default:
			return false
		}
		// A value ended at i: what may follow depends on where it is.
		next := false
		for !next {
			i = skipSpace(b, i)
			if len(stack) == 0 {
				return i == len(b)
			}
			if i >= len(b) {
				return false
			}
			obj := stack[len(stack)-1]
			switch {
			case b[i] == ',':
				i = skipSpace(b, i+1)
				if obj {
					var ok bool
					if i, ok = key(b, i); !ok {
						return false
					}
				}
				next = true
			case (obj && b[i] == '}') || (!obj && b[i] == ']'):
				stack = stack[:len(stack)-1]
				i++
			default:
				return false
			}
		}
	}
}

// key reads `"name" :` at i and returns where the value starts.
func key(b []byte, i int) (int, bool) {
	if i >= len(b) || b[i] != '"' {
		return i, false
	}
	i, ok := str(b, i)
	if !ok {
		return i, false
	}
	i = skipSpace(b, i)
	if i >= len(b) || b[i] != ':' {
		return i, false
	}
	return skipSpace(b, i+1), true
}

// str reads the string starting at b[i] == '"'.
func str(b []byte, i int) (int, bool) {
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return j + 1, true
		case c < 0x20:
			return j, false
		case c == '\\':
			j++
			if j >= len(b) {
				return j, false
			}
			switch b[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if j+4 >= len(b) {
					return j, false
				}
				for _, h := range b[j+1 : j+5] {
					if !isHex(h) {
						return j, false
					}
				}
				j += 4
			default:
				return j, false
			}
		}
	}
	return len(b), false
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// Number is the length of the JSON number b starts with, 0 if it starts
// with none: strconv alone also takes forms JSON has not ("Inf",
// "0x1p-2", "1_0").
func Number(b []byte) int {
	if len(b) == 0 {
		return 0
	}
	if n, ok := number(b, 0); ok {
		return n
	}
	return 0
}

// number reads -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? at i.
func number(b []byte, i int) (int, bool) {
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(b, i)
	default:
		return i, false
	}
	if i < len(b) && b[i] == '.' {
		j := digits(b, i+1)
		if j == i+1 {
			return j, false
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return j, false
		}
		i = j
	}
	return i, true
}

func digits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

func literal(b []byte, i int, lit string) bool {
	return len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit
}

// Each calls fn with every element of the array b, in order, and reports
// whether b is an array. b must be valid JSON.
func Each(b []byte, fn func(elem []byte)) bool {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '[' {
		return false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return true
	}
	for i < len(b) {
		end := skipValue(b, i)
		if end <= i {
			return false
		}
		fn(b[i:end])
		i = skipSpace(b, end)
		if i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
			continue
		}
		return i < len(b) && b[i] == ']'
	}
	return false
}
