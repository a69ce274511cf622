package assets

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/tomoni-cobrowse/tomoni/internal/anyof"
	"github.com/tomoni-cobrowse/tomoni/internal/rrweb"
)

// Rewriter rewrites the URLs in one customer connection's events so that
// every file the replayed page needs is fetched from Tomoni. It remembers
// the page URL (relative references resolve against it) and which nodes are
// stylesheet text or elements whose href is fetched; it is not safe for
// concurrent use, like the connection it serves.
type Rewriter struct {
	reg  *registry
	base *url.URL
	// Node ids whose later changes need their kind: style text nodes, and
	// elements whose href fetches (link, SVG image and use) or whose src
	// must not load (iframe).
	kinds map[int64]nodeKind
}

type nodeKind uint8

const (
	kindStyleText nodeKind = iota + 1
	kindFetchHref
	kindFrame
	kindCanvasImage
)

// maxKinds bounds the per-connection memory of the rewriter.
const maxKinds = 200_000

// mayHoldURL are the bytes that the data of every event holding a
// fetchable reference contains; events without any are passed on without
// being decoded.
var mayHoldURL = anyof.New(`"canvas"`, `rr_dataURL`, `"src`, `href"`, `"poster"`, `"background"`, `"data":"`, `url(`, `URL(`, `@import`, `"srcdoc"`, `"style"`, `isStyle`)

// Event rewrites one event in d. Only a page's meta and snapshot, DOM
// mutations and stylesheet changes can name a file; the mouse moves,
// scrolls and input that are most of a live page's events pass without a
// look.
func (rw *Rewriter) Event(d *rrweb.Doc) error {
	switch {
	case d.Type == rrweb.Meta:
		if meta, err := d.Map(); err == nil {
			href, _ := meta["href"].(string)
			rw.base, _ = url.Parse(href)
		}
		return nil
	case d.Type == rrweb.FullSnapshot:
	case d.Type == rrweb.Incremental && (d.Source == rrweb.SourceMutation || d.Source == rrweb.SourceStyleSheetRule ||
		d.Source == rrweb.SourceStyleDeclaration || d.Source == rrweb.SourceAdoptedStyleSheets):
	default:
		return nil
	}
	// The data as the page sent it: what the filter changed in it masks
	// values and never adds a reference.
	if !mayHoldURL.In(d.Data) {
		return nil
	}
	data, err := d.Map()
	if err != nil {
		return fmt.Errorf("asset rewrite: %w", err)
	}
	changed := false
	if d.Type == rrweb.FullSnapshot {
		clear(rw.kinds)
		if n, ok := data["node"].(map[string]any); ok {
			changed = rw.node(n)
		}
	} else {
		changed = rw.incremental(data)
	}
	if changed {
		d.Changed()
	}
	return nil
}

func (rw *Rewriter) incremental(data map[string]any) bool {
	source, _ := intOf(data["source"])
	changed := false
	switch source {
	case rrweb.SourceMutation:
		for _, a := range objects(data["adds"]) {
			if n, ok := a["node"].(map[string]any); ok && rw.node(n) {
				changed = true
			}
		}
		for _, a := range objects(data["attributes"]) {
			id, _ := intOf(a["id"])
			attrs, ok := a["attributes"].(map[string]any)
			if ok && rw.attributes(rw.kinds[id], attrs) {
				changed = true
			}
		}
		for _, t := range objects(data["texts"]) {
			id, _ := intOf(t["id"])
			if v, ok := t["value"].(string); ok && rw.kinds[id] == kindStyleText {
				if out := rw.css(v); out != v {
					t["value"] = out
					changed = true
				}
			}
		}
	case rrweb.SourceStyleSheetRule:
		for _, a := range objects(data["adds"]) {
			if v, ok := a["rule"].(string); ok {
				if out := rw.css(v); out != v {
					a["rule"] = out
					changed = true
				}
			}
		}
	case rrweb.SourceStyleDeclaration:
		if set, ok := data["set"].(map[string]any); ok {
			if v, ok := set["value"].(string); ok {
				if out := rw.css(v); out != v {
					set["value"] = out
					changed = true
				}
			}
		}
	case rrweb.SourceAdoptedStyleSheets:
		for _, st := range objects(data["styles"]) {
			for _, r := range objects(st["rules"]) {
				if v, ok := r["rule"].(string); ok {
					if out := rw.css(v); out != v {
						r["rule"] = out
						changed = true
					}
				}
			}
		}
	}
	return changed
}

// node rewrites a serialised node and its children.
func (rw *Rewriter) node(n map[string]any) bool {
	changed := false
	typ, _ := intOf(n["type"])
	id, _ := intOf(n["id"])
	switch typ {
	case rrweb.NodeText:
		if isStyle, _ := n["isStyle"].(bool); isStyle {
			rw.remember(id, kindStyleText)
			if v, ok := n["textContent"].(string); ok {
				if out := rw.css(v); out != v {
					n["textContent"] = out
					changed = true
				}
			}
		}
	case rrweb.NodeElement:
		tag, _ := n["tagName"].(string)
		if strings.EqualFold(tag, "canvas") {
			// The replay runs in a frame without scripts, where a canvas
			// shows only its fallback content and collapses.
			attrs, _ := n["attributes"].(map[string]any)
			if attrs == nil {
				attrs = map[string]any{}
				n["attributes"] = attrs
			}
			if _, blocked := attrs["rr_width"]; blocked {
				// Not shown (the default): a box of the same size keeps the layout.
				n["tagName"] = "span"
				attrs["style"] = "display:inline-block;vertical-align:baseline"
			} else {
				// Opted in by the policy: an image of it, which the SDK
				// sends as rr_dataURL whenever it changes.
				n["tagName"] = "img"
				attrs["src"] = placeholderImage
				if u, ok := attrs["rr_dataURL"].(string); ok && hasPrefixFold(u, "data:image/") {
					attrs["src"] = u
				}
				delete(attrs, "rr_dataURL")
				rw.remember(id, kindCanvasImage)
			}
			changed = true
		}
		kind := kindOfTag(strings.ToLower(tag))
		if kind != 0 {
			rw.remember(id, kind)
		}
		if attrs, ok := n["attributes"].(map[string]any); ok && rw.attributes(kind, attrs) {
			changed = true
		}
	}
	for _, c := range objects(n["childNodes"]) {
		if rw.node(c) {
			changed = true
		}
	}
	return changed
}

func kindOfTag(tag string) nodeKind {
	switch tag {
	case "link", "image", "use", "feimage":
		return kindFetchHref
	case "iframe", "frame":
		return kindFrame
	}
	return 0
}

// attributes rewrites the attributes of an element of the given kind.
func (rw *Rewriter) attributes(kind nodeKind, attrs map[string]any) bool {
	changed := false
	set := func(k, v string) {
		if attrs[k] != v {
			attrs[k] = v
			changed = true
		}
	}
	for k, v := range attrs {
		s, ok := v.(string)
		if !ok {
			continue
		}
		switch k {
		case "src":
			if kind == kindFrame {
				// Frames are replayed from what rrweb recorded of them; a
				// src would make the staff browser load the page itself.
				delete(attrs, k)
				changed = true
				continue
			}
			set(k, rw.ref(s))
		case "srcdoc":
			// A whole document in an attribute, with references of its own.
			delete(attrs, k)
			changed = true
		case "poster", "background", "data":
			set(k, rw.ref(s))
		case "srcset", "imagesrcset":
			set(k, rw.srcset(s))
		case "href", "xlink:href":
			if kind == kindFetchHref {
				set(k, rw.ref(s))
			}
		case "style", "_cssText":
			set(k, rw.css(s))
		case "rr_dataURL":
			if kind == kindCanvasImage && hasPrefixFold(s, "data:image/") {
				delete(attrs, k)
				attrs["src"] = s
				changed = true
			}
		}
	}
	return changed
}

// ref is the URL the staff browser uses for a reference on the page.
func (rw *Rewriter) ref(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || hasPrefixFold(s, "data:") || strings.HasPrefix(s, "#") {
		return s
	}
	abs, ok := resolve(rw.base, s)
	if !ok {
		return placeholderImage
	}
	return rw.reg.path(abs)
}

func (rw *Rewriter) css(s string) string {
	return rewriteCSS(s, rw.base, rw.reg.path)
}

// srcset rewrites each candidate of "url descriptor, url descriptor".
func (rw *Rewriter) srcset(s string) string {
	parts := strings.Split(s, ",")
	for i, p := range parts {
		f := strings.Fields(p)
		if len(f) == 0 {
			continue
		}
		f[0] = rw.ref(f[0])
		parts[i] = strings.Join(f, " ")
	}
	return strings.Join(parts, ", ")
}

func (rw *Rewriter) remember(id int64, k nodeKind) {
	if len(rw.kinds) < maxKinds {
		rw.kinds[id] = k
	}
}

func objects(v any) []map[string]any {
	a, _ := v.([]any)
	out := make([]map[string]any, 0, len(a))
	for _, x := range a {
		if m, ok := x.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func intOf(v any) (int64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	i, err := n.Int64()
	return i, err == nil
}
