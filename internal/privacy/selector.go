package privacy

import (
	"strings"
)

// The server evaluates the policy's selectors where it can without a DOM:
// compound selectors of a tag, #id, .classes and [attr] or [attr=value]
// (e.g. ".account-number", "input[name=q]", "#secret-panel"). Selectors
// with combinators or pseudo-classes need the document; the SDK applies
// those, and the server counts them as not evaluable.

type attrSel struct {
	name, value string
	hasValue    bool
}

type compound struct {
	tag     string
	id      string
	classes []string
	attrs   []attrSel
}

// selectors is a parsed selector list.
type selectors struct {
	list        []compound
	unevaluable int // selectors the server cannot evaluate
}

func parseSelectors(in []string) selectors {
	var out selectors
	for _, group := range in {
		for _, s := range strings.Split(group, ",") {
			c, ok := parseCompound(strings.TrimSpace(s))
			if !ok {
				out.unevaluable++
				continue
			}
			out.list = append(out.list, c)
		}
	}
	return out
}

func parseCompound(s string) (compound, bool) {
	var c compound
	if s == "" || strings.ContainsAny(s, " >+~:*\\") {
		return c, false
	}
	i := 0
	ident := func() string {
		j := i
		for j < len(s) && (s[j] == '-' || s[j] == '_' || s[j] >= '0' && s[j] <= '9' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= 0x80) {
			j++
		}
		v := s[i:j]
		i = j
		return v
	}
	c.tag = strings.ToLower(ident())
	for i < len(s) {
		switch s[i] {
		case '#':
			i++
			if c.id = ident(); c.id == "" {
				return c, false
			}
		case '.':
			i++
			cl := ident()
			if cl == "" {
				return c, false
			}
			c.classes = append(c.classes, cl)
		case '[':
			end := strings.IndexByte(s[i:], ']')
			if end < 0 {
				return c, false
			}
			body := s[i+1 : i+end]
			i += end + 1
			a := attrSel{name: strings.ToLower(strings.TrimSpace(body))}
			if k, v, ok := strings.Cut(body, "="); ok {
				if strings.ContainsAny(k, "~|^$*") {
					return c, false
				}
				a = attrSel{name: strings.ToLower(strings.TrimSpace(k)), value: strings.Trim(strings.TrimSpace(v), `"'`), hasValue: true}
			}
			if a.name == "" {
				return c, false
			}
			c.attrs = append(c.attrs, a)
		default:
			return c, false
		}
	}
	return c, true
}

func (c compound) matches(tag string, attrs map[string]any) bool {
	if c.tag != "" && !strings.EqualFold(c.tag, tag) {
		return false
	}
	str := func(k string) (string, bool) { v, ok := attrs[k].(string); return v, ok }
	if c.id != "" {
		if v, _ := str("id"); v != c.id {
			return false
		}
	}
	if len(c.classes) > 0 {
		cls, _ := str("class")
		have := strings.Fields(cls)
		for _, want := range c.classes {
			found := false
			for _, h := range have {
				if h == want {
					found = true
				}
			}
			if !found {
				return false
			}
		}
	}
	for _, a := range c.attrs {
		v, ok := attrs[a.name]
		if !ok {
			return false
		}
		if a.hasValue {
			if s, _ := v.(string); s != a.value {
				return false
			}
		}
	}
	return true
}

func (s selectors) match(tag string, attrs map[string]any) bool {
	for _, c := range s.list {
		if c.matches(tag, attrs) {
			return true
		}
	}
	return false
}
