package assets

import (
	"net/url"
	"strings"
)

// rewriteCSS rewrites every url(...) and @import "..." in css: each
// reference is resolved against base and replaced by to(absolute URL).
// Fragment-only references (url(#clip), used by SVG) and data: URLs are
// left as they are; they fetch nothing.
func rewriteCSS(css string, base *url.URL, to func(string) string) string {
	lower := strings.ToLower(css)
	if !strings.Contains(lower, "url(") && !strings.Contains(lower, "@import") {
		return css
	}
	var b strings.Builder
	b.Grow(len(css))
	i := 0
	for i < len(css) {
		switch {
		case hasPrefixFold(css[i:], "url("):
			j := i + len("url(")
			ref, end, ok := cssURLArg(css, j)
			if !ok {
				b.WriteString(css[i:j])
				i = j
				continue
			}
			b.WriteString(`url("`)
			b.WriteString(cssEscape(rewriteRef(ref, base, to)))
			b.WriteString(`")`)
			i = end
		case hasPrefixFold(css[i:], "@import"):
			j := skipCSSSpace(css, i+len("@import"))
			if j < len(css) && (css[j] == '"' || css[j] == '\'') {
				ref, end, ok := cssString(css, j)
				if ok {
					b.WriteString(`@import "`)
					b.WriteString(cssEscape(rewriteRef(ref, base, to)))
					b.WriteString(`"`)
					i = end
					continue
				}
			}
			b.WriteString(css[i:j])
			i = j
		case css[i] == '"' || css[i] == '\'':
			// A string that is not a URL (content: "url(x)") stays as it is.
			_, end, ok := cssString(css, i)
			if !ok {
				end = len(css)
			}
			b.WriteString(css[i:end])
			i = end
		case strings.HasPrefix(css[i:], "/*"):
			end := strings.Index(css[i+2:], "*/")
			if end < 0 {
				end = len(css)
			} else {
				end += i + 4
			}
			b.WriteString(css[i:end])
			i = end
		default:
			b.WriteByte(css[i])
			i++
		}
	}
	return b.String()
}

func rewriteRef(ref string, base *url.URL, to func(string) string) string {
	ref = strings.TrimSpace(ref)
	if ref == "" || strings.HasPrefix(ref, "#") || hasPrefixFold(ref, "data:") {
		return ref
	}
	abs, ok := resolve(base, ref)
	if !ok {
		return placeholderImage
	}
	return to(abs)
}

// cssURLArg reads the argument of url( starting at i: a quoted string or
// bare text up to ")". It returns the reference and the index after ")".
func cssURLArg(css string, i int) (string, int, bool) {
	i = skipCSSSpace(css, i)
	if i >= len(css) {
		return "", 0, false
	}
	var ref string
	if css[i] == '"' || css[i] == '\'' {
		s, end, ok := cssString(css, i)
		if !ok {
			return "", 0, false
		}
		ref, i = s, end
	} else {
		end := strings.IndexAny(css[i:], ")")
		if end < 0 {
			return "", 0, false
		}
		ref = strings.TrimSpace(unescapeCSS(css[i : i+end]))
		i += end
	}
	i = skipCSSSpace(css, i)
	if i >= len(css) || css[i] != ')' {
		return "", 0, false
	}
	return ref, i + 1, true
}

// cssString reads a quoted CSS string at i; it returns its value and the
// index after the closing quote.
func cssString(css string, i int) (string, int, bool) {
	q := css[i]
	var b strings.Builder
	for j := i + 1; j < len(css); j++ {
		switch c := css[j]; {
		case c == '\\' && j+1 < len(css):
			j++
			b.WriteByte(css[j])
		case c == q:
			return b.String(), j + 1, true
		case c == '\n':
			return "", 0, false
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, false
}

func unescapeCSS(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// cssEscape makes s safe inside a double-quoted CSS string.
func cssEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\a `).Replace(s)
}

func skipCSSSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' || s[i] == '\f') {
		i++
	}
	return i
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
