// Package privacy is the server's second line of defence: a filter that
// reads every customer event before it is relayed and scrubs what the SDK
// should have masked, drops events of pages the policy excludes and cleans
// URLs. It keeps per-connection state (which node ids are sensitive) and
// never stores content.
package privacy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/tomoni-cobrowse/tomoni/internal/anyof"
	"github.com/tomoni-cobrowse/tomoni/internal/jsonscan"
	"github.com/tomoni-cobrowse/tomoni/internal/policy"
	"github.com/tomoni-cobrowse/tomoni/internal/rrweb"
)

// Mask is what a masked value or text looks like: a fixed length, so the
// real length is not revealed either. The SDK uses the same string.
const Mask = "••••••"

// maxTracked bounds the per-connection memory of the filter.
const maxTracked = 200_000

// ErrTooLarge means a page has more sensitive nodes than the filter tracks.
var ErrTooLarge = errors.New("page has too many sensitive nodes to filter")

// ErrMalformed means an event is not in rrweb's shape.
var ErrMalformed = errors.New("malformed rrweb event")

// Stats counts what the filter changed or dropped in a batch of events.
type Stats struct {
	Values     int // input values and value attributes
	Texts      int // text inside masked or blocked elements
	Attributes int // other attributes on sensitive elements
	URLs       int // URLs cleaned of query or fragment
	Excluded   int // events dropped because the page is excluded
}

// Scrubbed reports whether anything was scrubbed (not counting URL cleaning
// and exclusions, which are policy rather than SDK misses).
func (s Stats) Scrubbed() int { return s.Values + s.Texts + s.Attributes }

// node flags
const (
	fSensitive  uint8 = 1 << iota // its value and user-data attributes are masked
	fContainer                    // everything inside it is masked
	fMaskedText                   // a text node inside a container
	fUnmasked                     // a form field the site's policy unmasks
)

// Filter is the server's second line of defence for one customer
// connection. Like the SDK, it masks every form field's value by default —
// inputs of every type but buttons, textareas, selects and their options,
// contenteditable, output and datalist — with their user-data attributes,
// everything under data-tomoni-mask/-block and the policy's mask and block
// selectors it can evaluate, and replaces documents held in attributes
// (srcdoc) by a blank one. A field stays visible only when the SDK marked
// it unmasked and the policy's unmask selectors allow it (never password,
// hidden, one-time-code or card fields). It is not safe for concurrent use.
type Filter struct {
	policy              *policy.Policy
	mask, block, unmask selectors
	flags               map[int64]uint8
	excluded            bool
}

// NewFilter returns a filter applying p.
func NewFilter(p *policy.Policy) *Filter {
	return &Filter{
		policy: p, flags: make(map[int64]uint8),
		mask: parseSelectors(p.MaskSelectors), block: parseSelectors(p.BlockSelectors), unmask: parseSelectors(p.UnmaskSelectors),
	}
}

// Excluded reports whether the current page (the last Meta event) is excluded.
func (f *Filter) Excluded() bool { return f.excluded }

// Event filters one event, changing d where it must; keep false drops it.
// Its fields are read exactly as a browser reads them.
func (f *Filter) Event(d *rrweb.Doc, st *Stats) (keep bool, err error) {
	if d.Type == rrweb.Meta {
		meta, err := d.Map()
		if err != nil {
			return false, ErrMalformed
		}
		href, _ := meta["href"].(string)
		f.excluded = f.policy.Excluded(href)
		if f.excluded {
			st.Excluded++
			return false, nil
		}
		if clean := f.policy.CleanURL(href); clean != href {
			meta["href"] = clean
			st.URLs++
			d.Changed()
		}
		return true, nil
	}
	if f.excluded {
		st.Excluded++
		return false, nil
	}
	switch d.Type {
	case rrweb.FullSnapshot:
		data, err := d.Map()
		if err != nil {
			return false, ErrMalformed
		}
		clear(f.flags)
		node, ok := data["node"].(map[string]any)
		if !ok {
			return false, ErrMalformed
		}
		before := *st
		if err := f.walk(node, 0, st); err != nil {
			return false, err
		}
		if *st != before {
			d.Changed()
		}
	case rrweb.Incremental:
		switch d.Source {
		case rrweb.SourceMutation:
			return f.mutation(d, st)
		case rrweb.SourceInput:
			return f.input(d, st)
		}
	}
	return true, nil
}

func idOf(v any) (int64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	return jsonscan.IntString(string(n))
}

func (f *Filter) mark(id int64, fl uint8) error {
	if _, ok := f.flags[id]; !ok && len(f.flags) >= maxTracked {
		return ErrTooLarge
	}
	f.flags[id] |= fl
	return nil
}

// walk scrubs a serialised node and its children; inherited is the flag
// set a masked ancestor passes down.
func (f *Filter) walk(n map[string]any, inherited uint8, st *Stats) error {
	id, _ := idOf(n["id"])
	typ, _ := idOf(n["type"])
	switch typ {
	case rrweb.NodeElement:
		attrs, _ := n["attributes"].(map[string]any)
		if tag, _ := n["tagName"].(string); strings.EqualFold(tag, "a") || strings.EqualFold(tag, "area") {
			if href, ok := attrs["href"].(string); ok {
				if clean := f.policy.CleanURL(href); clean != href {
					attrs["href"] = clean
					st.URLs++
				}
			}
		}
		tag, _ := n["tagName"].(string)
		dropDocuments(tag, attrs, st)
		fl := inherited | f.elementFlags(tag, attrs)
		if fl&fSensitive != 0 {
			fl &^= fUnmasked
		}
		if fl != 0 {
			if err := f.mark(id, fl); err != nil {
				return err
			}
		}
		if fl&fSensitive != 0 {
			scrubAttributes(attrs, st)
		}
		children, _ := n["childNodes"].([]any)
		pass := uint8(0)
		if fl&fContainer != 0 {
			pass = fContainer | fSensitive
		}
		for _, c := range children {
			cm, ok := c.(map[string]any)
			if !ok {
				return ErrMalformed
			}
			if err := f.walk(cm, pass, st); err != nil {
				return err
			}
		}
	case rrweb.NodeText:
		if inherited&fContainer != 0 {
			if err := f.mark(id, fMaskedText); err != nil {
				return err
			}
			if maskText(n, "textContent") {
				st.Texts++
			}
		}
	default:
		children, _ := n["childNodes"].([]any)
		for _, c := range children {
			cm, ok := c.(map[string]any)
			if !ok {
				return ErrMalformed
			}
			if err := f.walk(cm, inherited, st); err != nil {
				return err
			}
		}
	}
	return nil
}

// maskText replaces a non-blank text field with Mask; it reports a change.
func maskText(m map[string]any, key string) bool {
	s, ok := m[key].(string)
	if !ok || strings.TrimSpace(s) == "" || s == Mask {
		return false
	}
	m[key] = Mask
	return true
}

// elementFlags recognises what an element's attributes make it: a masked
// or blocked container, a form field (masked unless the policy unmasks it),
// a field that is never shown.
func (f *Filter) elementFlags(tag string, attrs map[string]any) uint8 {
	var fl uint8
	lt := strings.ToLower(tag)
	_, masked := attrs["data-tomoni-mask"]
	_, blocked := attrs["data-tomoni-block"]
	if masked || blocked || f.mask.match(lt, attrs) || f.block.match(lt, attrs) {
		fl |= fContainer | fSensitive
	}
	typ := ""
	if t, ok := attrs["type"].(string); ok {
		typ = strings.ToLower(strings.TrimSpace(t))
	}
	never := sensitiveAutocomplete(attrs) || (lt == "input" && shared.neverUnmasked(typ))
	if never {
		fl |= fSensitive
	}
	ce, editable := attrs["contenteditable"].(string)
	editable = editable && !strings.EqualFold(strings.TrimSpace(ce), "false")
	var field uint8
	switch {
	case lt == "input" && !shared.buttonType(typ):
		field = fSensitive
	case shared.containerTag(lt), editable:
		field = fSensitive | fContainer
	}
	if field != 0 {
		// contenteditable is masked whatever the unmask selectors say, as
		// the SDK does: it is free text the customer writes.
		if !never && !editable && f.unmasked(lt, attrs) {
			fl |= fUnmasked
		} else {
			fl |= field
		}
	}
	return fl
}

// unmasked reports whether a field may be shown: the page marks it
// (data-tomoni-unmask), an unmask selector the server can evaluate matches
// it, or the SDK marked it unmasked under a policy whose unmask selectors
// the server cannot all evaluate.
func (f *Filter) unmasked(tag string, attrs map[string]any) bool {
	if _, ok := attrs["data-tomoni-unmask"]; ok {
		return true
	}
	if f.unmask.match(tag, attrs) {
		return true
	}
	_, marked := attrs[shared.UnmaskedMarker]
	return marked && f.unmask.unevaluable > 0
}

func sensitiveAutocomplete(attrs map[string]any) bool {
	ac, ok := attrs["autocomplete"].(string)
	if !ok {
		return false
	}
	for _, tok := range strings.Fields(strings.ToLower(ac)) {
		if shared.sensitiveToken(tok) {
			return true
		}
	}
	return false
}

// changeFlags recognises what an attribute change makes an element (the
// change does not name the tag): a field switched to type=password, a mask
// marker added, an element made editable.
func changeFlags(changed map[string]any) uint8 {
	var fl uint8
	if t, ok := changed["type"].(string); ok && shared.neverUnmasked(strings.ToLower(strings.TrimSpace(t))) {
		fl |= fSensitive
	}
	if sensitiveAutocomplete(changed) {
		fl |= fSensitive
	}
	_, masked := changed["data-tomoni-mask"]
	_, blocked := changed["data-tomoni-block"]
	if ce, ok := changed["contenteditable"].(string); masked || blocked || (ok && !strings.EqualFold(strings.TrimSpace(ce), "false")) {
		fl |= fContainer | fSensitive
	}
	return fl
}

// dropDocuments replaces documents held in attributes (an iframe's srcdoc,
// or a frame's src as a data:text/html URL) by a blank document: they
// carry a whole page, field values included, that the filter cannot see
// into. tag is "" for an attribute change, which does not name it; an
// image's SVG data URL is a picture, not a page, and stays.
func dropDocuments(tag string, attrs map[string]any, st *Stats) {
	frame := tag == ""
	switch strings.ToLower(tag) {
	case "iframe", "frame", "object", "embed":
		frame = true
	}
	for k, v := range attrs {
		s, ok := v.(string)
		if !ok {
			continue
		}
		switch {
		case shared.documentAttribute(k) && s != "" && s != shared.BlankDocument:
			attrs[k] = shared.BlankDocument
			st.Attributes++
		case frame && (k == "src" || k == "rr_src" || k == "data") && isMarkupURL(s, tag != ""):
			attrs[k] = "about:blank"
			st.Attributes++
		}
	}
}

// isMarkupURL recognises a data: URL holding a page; an SVG one counts
// only where the element is known to be a frame.
func isMarkupURL(u string, svgToo bool) bool {
	u = strings.ToLower(strings.TrimSpace(u))
	return strings.HasPrefix(u, "data:text/html") || strings.HasPrefix(u, "data:application/xhtml") || (svgToo && strings.HasPrefix(u, "data:image/svg"))
}

func scrubAttributes(attrs map[string]any, st *Stats) {
	for k, v := range attrs {
		s, ok := v.(string)
		if !ok || s == "" || s == Mask {
			continue
		}
		isData := strings.HasPrefix(k, "data-") && !strings.HasPrefix(k, "data-tomoni-")
		if k == "value" {
			attrs[k] = Mask
			st.Values++
		} else if k == "placeholder" {
			// Blank, not the mask: an empty field must not look filled.
			attrs[k] = ""
			st.Attributes++
		} else if isData || shared.userAttribute(k) {
			attrs[k] = Mask
			st.Attributes++
		}
	}
}

// markers are the substrings without which a mutation cannot make anything
// sensitive; with no sensitive node tracked either, it passes untouched.
var markers = anyof.New("password", "hidden", "data-tomoni-", "autocomplete", "input", "textarea",
	"select", "option", "output", "datalist", "contenteditable", "srcdoc", "data:")

// tagged marks a mutation that adds elements: with mask or block selectors
// in the policy, any added element may match one.
var tagged = []byte(`"tagName"`)

func (f *Filter) mutation(d *rrweb.Doc, st *Stats) (bool, error) {
	selectors := len(f.mask.list) > 0 || len(f.block.list) > 0
	if len(f.flags) == 0 && !markers.In(d.Data) && !(selectors && bytes.Contains(d.Data, tagged)) {
		return true, nil
	}
	data, err := d.Map()
	if err != nil {
		return false, ErrMalformed
	}
	before := *st
	if removes, ok := data["removes"].([]any); ok {
		for _, r := range removes {
			if rm, ok := r.(map[string]any); ok {
				if id, ok := idOf(rm["id"]); ok {
					delete(f.flags, id)
				}
			}
		}
	}
	if adds, ok := data["adds"].([]any); ok {
		for _, a := range adds {
			am, ok := a.(map[string]any)
			if !ok {
				return false, ErrMalformed
			}
			node, ok := am["node"].(map[string]any)
			if !ok {
				return false, ErrMalformed
			}
			parent, _ := idOf(am["parentId"])
			inherited := uint8(0)
			if f.flags[parent]&fContainer != 0 {
				inherited = fContainer | fSensitive
			}
			if err := f.walk(node, inherited, st); err != nil {
				return false, err
			}
		}
	}
	if attrs, ok := data["attributes"].([]any); ok {
		for _, a := range attrs {
			am, ok := a.(map[string]any)
			if !ok {
				return false, ErrMalformed
			}
			id, _ := idOf(am["id"])
			changed, _ := am["attributes"].(map[string]any)
			dropDocuments("", changed, st)
			// An attribute change can make an element sensitive (a field
			// switched to type=password, a mask marker added); once
			// sensitive it stays so, even when toggled back to text.
			if fl := changeFlags(changed); fl != 0 {
				if err := f.mark(id, fl); err != nil {
					return false, err
				}
			}
			if f.flags[id]&fSensitive != 0 {
				scrubAttributes(changed, st)
			}
		}
	}
	if texts, ok := data["texts"].([]any); ok {
		for _, t := range texts {
			tm, ok := t.(map[string]any)
			if !ok {
				return false, ErrMalformed
			}
			id, _ := idOf(tm["id"])
			if f.flags[id]&fMaskedText != 0 && maskText(tm, "value") {
				st.Texts++
			}
		}
	}
	if *st != before {
		d.Changed()
	}
	return true, nil
}

func (f *Filter) input(d *rrweb.Doc, st *Stats) (bool, error) {
	var dv [2][]byte
	if !jsonscan.Fields(dv[:], d.Data, "id", "text") {
		return false, ErrMalformed
	}
	id, ok := jsonscan.Int(dv[0])
	if !ok {
		return false, ErrMalformed
	}
	if f.flags[id]&fSensitive == 0 {
		return true, nil
	}
	// What the SDK sends for every masked field: nothing to scrub, and no
	// need to decode it to know.
	if t := string(dv[1]); t == `"`+Mask+`"` || t == `""` {
		return true, nil
	}
	data, err := d.Map()
	if err != nil {
		return false, ErrMalformed
	}
	if s, ok := data["text"].(string); ok && s != "" && s != Mask {
		data["text"] = Mask
		st.Values++
		d.Changed()
	}
	return true, nil
}

// String summarises stats for logs (counts only, never content).
func (s Stats) String() string {
	return fmt.Sprintf("values=%d texts=%d attributes=%d urls=%d excluded=%d", s.Values, s.Texts, s.Attributes, s.URLs, s.Excluded)
}
