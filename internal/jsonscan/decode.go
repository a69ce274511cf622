package jsonscan

import (
	"encoding/json"
	"errors"
	"unicode/utf16"
	"unicode/utf8"
)

// ErrInvalid is returned by Decode for input that is not one JSON value.
var ErrInvalid = errors.New("jsonscan: invalid JSON")

// Decode decodes b into the values encoding/json gives an any with
// UseNumber: map[string]any (the last of a repeated key), []any, string,
// json.Number, bool and nil. Strings come out as encoding/json makes them,
// invalid UTF-8 and lone surrogates replaced by U+FFFD.
//
// The privacy filter and the page-file rewriter decode every page's
// snapshot: encoding/json's Decoder copied each one into a buffer of its
// own and built every value through reflection, which made those snapshots
// half of the relay's allocation. This copies b once, as a string, and
// every string and number without escapes is a slice of that copy: so
// whatever keeps one of them keeps all of b.
func Decode(b []byte) (any, error) {
	if !Valid(b) {
		return nil, ErrInvalid
	}
	return DecodeValid(b), nil
}

// DecodeValid is Decode for b already known to be valid JSON (Valid(b)),
// such as a part of a message that was validated whole: it spares a second
// pass over a page's snapshot. On input that is not valid it may panic.
func DecodeValid(b []byte) any {
	var fresh *Recycler
	return fresh.DecodeValid(b)
}

// decoder reads input Valid accepted, so it checks nothing again.
type decoder struct {
	b   []byte
	s   string // b, copied once
	i   int
	rec *Recycler // nil makes everything afresh
}

func (d *decoder) skip() { d.i = skipSpace(d.b, d.i) }

func (d *decoder) value() any {
	switch c := d.b[d.i]; c {
	case '{':
		m := d.rec.newMap()
		d.i++
		d.skip()
		if d.b[d.i] == '}' {
			d.i++
			return m
		}
		for {
			k := d.str()
			d.skip()
			d.i++ // ':'
			d.skip()
			m[k] = d.value()
			d.skip()
			c := d.b[d.i]
			d.i++
			if c == '}' {
				return m
			}
			d.skip() // after ','
		}
	case '[':
		a := d.rec.newSlice()
		d.i++
		d.skip()
		if d.b[d.i] == ']' {
			d.i++
			return a
		}
		for {
			a = append(a, d.value())
			d.skip()
			c := d.b[d.i]
			d.i++
			if c == ']' {
				return a
			}
			d.skip()
		}
	case '"':
		return d.str()
	case 't':
		d.i += 4
		return true
	case 'f':
		d.i += 5
		return false
	case 'n':
		d.i += 4
		return nil
	default:
		n, _ := number(d.b, d.i)
		s := json.Number(d.s[d.i:n])
		d.i = n
		return s
	}
}

// str reads the string at d.i: a slice of d.s when it holds nothing to
// unescape or repair, which is nearly every string of a page, Japanese
// text included.
func (d *decoder) str() string {
	start := d.i + 1
	j := start
	for {
		c := d.b[j]
		if c == '"' {
			d.i = j + 1
			return d.s[start:j]
		}
		if c == '\\' {
			break
		}
		if c < utf8.RuneSelf {
			j++
			continue
		}
		if r, size := utf8.DecodeRune(d.b[j:]); r != utf8.RuneError || size != 1 {
			j += size
			continue
		}
		break // invalid UTF-8, to be replaced
	}
	out := make([]byte, j-start, j-start+16)
	copy(out, d.b[start:j])
	for {
		c := d.b[j]
		switch {
		case c == '"':
			d.i = j + 1
			return string(out)
		case c == '\\':
			j++
			switch e := d.b[j]; e {
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r := hex4(d.b[j+1:])
				j += 4
				if utf16.IsSurrogate(r) {
					// A pair only when a second \u escape completes it;
					// otherwise the first half alone is replaced.
					r2 := utf8.RuneError
					if j+6 < len(d.b) && d.b[j+1] == '\\' && d.b[j+2] == 'u' {
						r2 = utf16.DecodeRune(r, hex4(d.b[j+3:]))
					}
					if r2 != utf8.RuneError {
						j += 6
						r = r2
					} else {
						r = utf8.RuneError
					}
				}
				out = utf8.AppendRune(out, r)
			default: // '"', '\\', '/'
				out = append(out, e)
			}
			j++
		case c < utf8.RuneSelf:
			out = append(out, c)
			j++
		default:
			r, size := utf8.DecodeRune(d.b[j:])
			if r == utf8.RuneError && size == 1 {
				out = utf8.AppendRune(out, utf8.RuneError)
			} else {
				out = append(out, d.b[j:j+size]...)
			}
			j += size
		}
	}
}

// hex4 reads the four hex digits Valid found after a \u.
func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		r <<= 4
		switch {
		case c <= '9':
			r |= rune(c - '0')
		case c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			r |= rune(c - 'a' + 10)
		}
	}
	return r
}
