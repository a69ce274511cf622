package privacy

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/tomoni-cobrowse/tomoni/internal/policy"
	"github.com/tomoni-cobrowse/tomoni/internal/rrweb"
)

func raw(ss ...string) []json.RawMessage {
	out := make([]json.RawMessage, len(ss))
	for i, s := range ss {
		out[i] = json.RawMessage(s)
	}
	return out
}

func joined(evs []json.RawMessage) string {
	var b strings.Builder
	for _, e := range evs {
		b.Write(e)
	}
	return b.String()
}

const meta = `{"type":4,"data":{"href":"http://bank.test/login.html","width":1280,"height":800},"timestamp":1}`

// A full snapshot as the SDK would send it with its masking turned off.
const unmaskedSnapshot = `{"type":2,"timestamp":2,"data":{"initialOffset":{"left":0,"top":0},"node":{"type":0,"id":1,"childNodes":[
 {"type":2,"tagName":"html","id":2,"attributes":{},"childNodes":[{"type":2,"tagName":"body","id":3,"attributes":{},"childNodes":[
  {"type":2,"tagName":"input","id":10,"attributes":{"type":"password","value":"pw-SECRET-1","placeholder":"pw-SECRET-2"},"childNodes":[]},
  {"type":2,"tagName":"input","id":11,"attributes":{"type":"hidden","value":"hidden-SECRET-3","data-user":"data-SECRET-4"},"childNodes":[]},
  {"type":2,"tagName":"input","id":12,"attributes":{"type":"text","autocomplete":"one-time-code","value":"otp-SECRET-5"},"childNodes":[]},
  {"type":2,"tagName":"div","id":13,"attributes":{"data-tomoni-mask":"","title":"title-SECRET-6"},"childNodes":[
    {"type":3,"id":14,"textContent":"text-SECRET-7"},
    {"type":2,"tagName":"span","id":15,"attributes":{"aria-label":"aria-SECRET-8"},"isShadowHost":true,"childNodes":[{"type":3,"id":16,"textContent":"shadow-SECRET-9","isShadow":true}]}]},
  {"type":2,"tagName":"input","id":20,"attributes":{"type":"text","value":"visible-ok","data-tomoni-unmask":""},"childNodes":[]},
  {"type":3,"id":21,"textContent":"public heading"}
 ]}]}]}}}`

func TestFilterScrubsRecognisableFields(t *testing.T) {
	f := NewFilter(ptr(policy.Default()))
	out, st, err := process(f, raw(meta, unmaskedSnapshot,
		`{"type":3,"timestamp":3,"data":{"source":5,"id":10,"text":"typed-SECRET-10","isChecked":false}}`,
		`{"type":3,"timestamp":4,"data":{"source":5,"id":20,"text":"typed-visible","isChecked":false}}`,
		`{"type":3,"timestamp":5,"data":{"source":0,"texts":[{"id":14,"value":"text-SECRET-11"}],"attributes":[{"id":12,"attributes":{"value":"otp-SECRET-12"}}],"removes":[],"adds":[{"parentId":13,"nextId":null,"node":{"type":3,"id":30,"textContent":"added-SECRET-13"}}]}}`,
		// A password field toggled to text stays masked.
		`{"type":3,"timestamp":6,"data":{"source":0,"texts":[],"attributes":[{"id":10,"attributes":{"type":"text"}}],"removes":[],"adds":[]}}`,
		`{"type":3,"timestamp":7,"data":{"source":5,"id":10,"text":"shown-SECRET-14","isChecked":false}}`,
		// An id written as a float is the same node to a browser.
		`{"type":3,"timestamp":7,"data":{"source":5,"id":10.0,"text":"float-id-SECRET-16","isChecked":false}}`,
		// Keys match exactly: "Type" does not make this a mouse move to the filter.
		`{"type":3,"Type":2,"timestamp":7,"data":{"source":5,"id":10,"text":"case-SECRET-17"}}`,
		// A field switched to password becomes sensitive.
		`{"type":3,"timestamp":8,"data":{"source":0,"texts":[],"attributes":[{"id":20,"attributes":{"type":"password"}}],"removes":[],"adds":[]}}`,
		`{"type":3,"timestamp":9,"data":{"source":5,"id":20,"text":"now-SECRET-15","isChecked":false}}`,
	))
	if err != nil {
		t.Fatal(err)
	}
	s := joined(out)
	if strings.Contains(s, "SECRET") {
		t.Fatalf("secret survived the filter:\n%s", s)
	}
	for _, want := range []string{"visible-ok", "typed-visible", "public heading", Mask} {
		if !strings.Contains(s, want) {
			t.Errorf("filter removed %q, which is not sensitive", want)
		}
	}
	if st.Scrubbed() < 15 {
		t.Errorf("counted %d scrubs (%s), want at least 15", st.Scrubbed(), st)
	}
}

// With the SDK's masking off, the server masks every form field and every
// user-data attribute on it, as the SDK would; documents in attributes are
// replaced; only fields the policy unmasks stay visible.
func TestFilterMasksEveryFieldByDefault(t *testing.T) {
	pol := policy.Default()
	pol.MaskSelectors = []string{".account-number"}
	pol.BlockSelectors = []string{"#secret-panel"}
	pol.UnmaskSelectors = []string{"input[name=q]"} // all evaluable: a forged marker is not believed
	pol.Compile()
	f := NewFilter(&pol)
	el := func(id int, tag, attrs string, kids ...string) string {
		return fmt.Sprintf(`{"type":2,"tagName":%q,"id":%d,"attributes":{%s},"childNodes":[%s]}`, tag, id, attrs, strings.Join(kids, ","))
	}
	text := func(id int, s string) string { return fmt.Sprintf(`{"type":3,"id":%d,"textContent":%q}`, id, s) }
	body := []string{
		el(10, "input", `"type":"text","value":"text-SECRET-1","title":"title-SECRET-2","aria-description":"desc-SECRET-3"`),
		el(11, "input", `"type":"email","value":"mail-SECRET-4","placeholder":"ph-SECRET-5"`),
		el(12, "input", `"type":"date","value":"date-SECRET-6"`),
		el(13, "textarea", `"value":"ta-SECRET-7"`, text(14, "ta-text-SECRET-8")),
		el(15, "select", `"value":"sel-SECRET-9"`, el(16, "option", `"value":"opt-SECRET-10","label":"label-SECRET-11","selected":true`, text(17, "opt-text-SECRET-12"))),
		el(18, "div", `"contenteditable":"true"`, text(19, "edit-SECRET-13")),
		el(20, "output", `"for":"a"`, text(21, "output-SECRET-14")),
		el(22, "datalist", `"id":"dl"`, el(23, "option", `"value":"dl-SECRET-15"`)),
		el(24, "iframe", `"srcdoc":"<input type=password value='srcdoc-SECRET-16'>","width":"300"`),
		el(25, "iframe", `"rr_src":"data:text/html,<p>dataurl-SECRET-17"`),
		el(26, "span", `"class":"account-number big"`, text(27, "acct-SECRET-18")),
		el(28, "div", `"id":"secret-panel"`, text(29, "panel-SECRET-19")),
		el(30, "input", `"type":"password","name":"q","value":"pw-SECRET-20","data-tomoni-unmasked":""`),
		el(31, "input", `"type":"search","name":"other","value":"forged-SECRET-21","data-tomoni-unmasked":""`),
		el(32, "input", `"type":"search","name":"q","value":"visible-query","data-tomoni-unmasked":""`),
		el(33, "input", `"type":"submit","value":"送信する"`),
		el(34, "div", `"contenteditable":"false"`, text(35, "plain text")),
		el(36, "img", `"src":"data:image/svg+xml,<svg id='icon-kept'/>"`),
	}
	snap := `{"type":2,"timestamp":2,"data":{"node":{"type":0,"id":1,"childNodes":[` + el(2, "html", "", el(3, "body", "", body...)) + `]}}}`
	out, st, err := process(f, raw(meta, snap,
		`{"type":3,"timestamp":3,"data":{"source":5,"id":11,"text":"typed-SECRET-22"}}`,
		`{"type":3,"timestamp":4,"data":{"source":5,"id":13,"text":"typed-ta-SECRET-23"}}`,
		`{"type":3,"timestamp":5,"data":{"source":0,"texts":[{"id":21,"value":"output-later-SECRET-24"}],"attributes":[{"id":24,"attributes":{"srcdoc":"<p>later-SECRET-25"}},{"id":12,"attributes":{"value":"date-later-SECRET-26"}}],"removes":[],"adds":[{"parentId":22,"nextId":null,"node":`+el(40, "option", `"value":"dl-later-SECRET-27"`)+`},{"parentId":3,"nextId":null,"node":`+el(41, "input", `"value":"added-SECRET-28"`)+`}]}}`,
		`{"type":3,"timestamp":6,"data":{"source":5,"id":32,"text":"typed-visible-query"}}`,
		// An unmasked field switched to a password field is masked from then on.
		`{"type":3,"timestamp":7,"data":{"source":0,"texts":[],"attributes":[{"id":32,"attributes":{"type":"password"}}],"removes":[],"adds":[]}}`,
		`{"type":3,"timestamp":8,"data":{"source":5,"id":32,"text":"now-pw-SECRET-29"}}`,
	))
	if err != nil {
		t.Fatal(err)
	}
	s := joined(out)
	if strings.Contains(s, "SECRET") {
		t.Fatalf("secret survived the filter:\n%s", s)
	}
	for _, want := range []string{"visible-query", "typed-visible-query", "送信する", "plain text", `"width":"300"`, "icon-kept"} {
		if !strings.Contains(s, want) {
			t.Errorf("filter removed %q, which is not user data", want)
		}
	}
	if st.Scrubbed() < 29 {
		t.Errorf("counted %d scrubs (%s), want at least 29", st.Scrubbed(), st)
	}
}

func TestFilterCountsNothingWhenTheSDKMasked(t *testing.T) {
	f := NewFilter(ptr(policy.Default()))
	masked := strings.NewReplacer("pw-SECRET-1", Mask, "hidden-SECRET-3", Mask, "otp-SECRET-5", Mask, "text-SECRET-7", Mask, "shadow-SECRET-9", Mask,
		"pw-SECRET-2", Mask, "data-SECRET-4", Mask, "title-SECRET-6", Mask, "aria-SECRET-8", Mask).Replace(unmaskedSnapshot)
	_, st, err := process(f, raw(meta, masked, `{"type":3,"timestamp":3,"data":{"source":5,"id":10,"text":"`+Mask+`"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if st.Scrubbed() != 0 {
		t.Fatalf("filter scrubbed %s of an already masked page", st)
	}
}

func TestFilterDropsExcludedPages(t *testing.T) {
	f := NewFilter(ptr(policy.Default()))
	out, st, err := process(f, raw(
		`{"type":4,"data":{"href":"http://bank.test/privacy.html","width":1,"height":1},"timestamp":1}`,
		`{"type":2,"data":{"node":{"type":0,"id":1,"childNodes":[{"type":3,"id":2,"textContent":"privacy-SECRET"}]}},"timestamp":2}`,
		`{"type":3,"data":{"source":1,"positions":[]},"timestamp":3}`,
	))
	if err != nil || len(out) != 0 || st.Excluded != 3 {
		t.Fatalf("out %s, stats %s, err %v", joined(out), st, err)
	}
	out, _, _ = process(f, raw(meta, `{"type":3,"data":{"source":1,"positions":[]},"timestamp":4}`))
	if len(out) != 2 {
		t.Fatalf("allowed page after excluded one: %d events relayed", len(out))
	}
}

func TestFilterStripsURLQuery(t *testing.T) {
	f := NewFilter(ptr(policy.Default()))
	out, st, _ := process(f, raw(`{"type":4,"data":{"href":"http://bank.test/a?email=me%40x.test","width":1,"height":1},"timestamp":1}`))
	if strings.Contains(joined(out), "email") || st.URLs != 1 {
		t.Fatalf("query kept: %s", joined(out))
	}
}

// Events the filter must read (here: after a page with sensitive fields)
// are rejected when they are not in rrweb's shape.
func TestFilterRejectsMalformed(t *testing.T) {
	for _, bad := range []string{`1`, `{"type":"x"}`, `{"data":{}}`, `{"type":2,"data":{"node":5}}`, `{"type":3,"data":{}}`, `{"type":3,"data":{"source":0,"adds":[5]}}`} {
		f := NewFilter(ptr(policy.Default()))
		if _, _, err := process(f, raw(meta, unmaskedSnapshot, bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// FuzzFilter: hostile events never panic and never make the filter track
// more than its bound.
func FuzzFilter(f *testing.F) {
	f.Add([]byte(`[` + meta + `,` + unmaskedSnapshot + `]`))
	f.Add([]byte(`[{"type":3,"data":{"source":0,"adds":[{"parentId":13,"node":{"type":2,"id":5,"attributes":{"data-tomoni-mask":""},"childNodes":[]}}],"attributes":[{"id":5,"attributes":{"type":"password"}}],"texts":[{"id":5,"value":"x"}],"removes":[{"id":5}]}}]`))
	f.Add([]byte(`[{"type":3,"data":{"source":5,"id":1e99,"text":null}}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var evs []json.RawMessage
		if json.Unmarshal(data, &evs) != nil {
			return
		}
		flt := NewFilter(ptr(policy.Default()))
		out, _, err := process(flt, evs)
		if err == nil && len(out) > len(evs) {
			t.Fatalf("filter produced more events than it got")
		}
		if len(flt.flags) > maxTracked {
			t.Fatalf("tracking %d nodes", len(flt.flags))
		}
	})
}

func TestServerSelectors(t *testing.T) {
	s := parseSelectors([]string{".account-number", "input[name=q], #panel", `div[data-x="1"].a.b`, "form > input", "a:hover", ""})
	if s.unevaluable != 3 || len(s.list) != 4 {
		t.Fatalf("parsed %d, %d unevaluable", len(s.list), s.unevaluable)
	}
	attrs := func(kv ...string) map[string]any {
		m := map[string]any{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		tag   string
		attrs map[string]any
		want  bool
	}{
		{"span", attrs("class", "x account-number"), true},
		{"span", attrs("class", "account-numbers"), false},
		{"INPUT", attrs("name", "q"), true},
		{"textarea", attrs("name", "q"), false},
		{"div", attrs("id", "panel"), true},
		{"div", attrs("data-x", "1", "class", "b a"), true},
		{"div", attrs("data-x", "2", "class", "a b"), false},
	} {
		if got := s.match(strings.ToLower(tc.tag), tc.attrs); got != tc.want {
			t.Errorf("%s %v: %v, want %v", tc.tag, tc.attrs, got, tc.want)
		}
	}
}

// FuzzFilterNeverLeaksFieldData: a secret planted in the value or a
// user-data attribute of any form field, or in text inside a field or a
// masked element, in a snapshot, an added node, an attribute change or an
// input event, never survives the filter.
func FuzzFilterNeverLeaksFieldData(f *testing.F) {
	f.Add(uint8(0), uint8(0), uint8(0), uint8(0), "abc")
	f.Add(uint8(3), uint8(5), uint8(2), uint8(1), "x y")
	f.Fuzz(func(t *testing.T, tagI, typeI, attrI, whereI uint8, salt string) {
		tags := []string{"input", "textarea", "select", "output", "datalist", "div contenteditable", "span data-tomoni-mask", "option in select", "iframe"}
		types := []string{"text", "email", "tel", "number", "date", "search", "password", "hidden", "", "url", "range", "checkbox", "TEXT", " text "}
		attrNames := []string{"value", "placeholder", "title", "aria-label", "aria-valuetext", "aria-description", "alt", "label", "data-note", "srcdoc"}
		secret := "SECRET" + strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, salt)
		tag := tags[int(tagI)%len(tags)]
		attr := attrNames[int(attrI)%len(attrNames)]
		if tag == "iframe" {
			attr = "srcdoc"
		}
		extra := ""
		name := tag
		switch tag {
		case "input":
			extra = fmt.Sprintf(`,"type":%q`, types[int(typeI)%len(types)])
		case "div contenteditable":
			name, extra = "div", `,"contenteditable":""`
		case "span data-tomoni-mask":
			name, extra = "span", `,"data-tomoni-mask":""`
		}
		node := fmt.Sprintf(`{"type":2,"tagName":%q,"id":10,"attributes":{%q:%q%s},"childNodes":[{"type":3,"id":11,"textContent":%q}]}`, name, attr, secret, extra, secret)
		if tag == "input" || tag == "iframe" {
			node = fmt.Sprintf(`{"type":2,"tagName":%q,"id":10,"attributes":{%q:%q%s},"childNodes":[]}`, name, attr, secret, extra)
		}
		if tag == "option in select" {
			node = fmt.Sprintf(`{"type":2,"tagName":"select","id":9,"attributes":{},"childNodes":[{"type":2,"tagName":"option","id":10,"attributes":{%q:%q},"childNodes":[{"type":3,"id":11,"textContent":%q}]}]}`, attr, secret, secret)
		}
		body := `{"type":2,"tagName":"body","id":3,"attributes":{},"childNodes":[%s]}`
		snap := func(kids string) string {
			return `{"type":2,"timestamp":2,"data":{"node":{"type":0,"id":1,"childNodes":[` + fmt.Sprintf(body, kids) + `]}}}`
		}
		var evs []string
		switch whereI % 4 {
		case 0: // in the first snapshot
			evs = []string{meta, snap(node)}
		case 1: // added later
			evs = []string{meta, snap(""), `{"type":3,"timestamp":3,"data":{"source":0,"texts":[],"attributes":[],"removes":[],"adds":[{"parentId":3,"nextId":null,"node":` + node + `}]}}`}
		case 2: // typed, and changed later (as rrweb reports them: input
			// events for fields, text changes for nodes that have text)
			clean := strings.ReplaceAll(node, secret, "x")
			evs = []string{meta, snap(clean)}
			if tag == "input" || tag == "textarea" || tag == "select" {
				evs = append(evs, fmt.Sprintf(`{"type":3,"timestamp":3,"data":{"source":5,"id":10,"text":%q}}`, secret))
			}
			texts := ""
			if tag != "input" && tag != "iframe" {
				texts = fmt.Sprintf(`{"id":11,"value":%q}`, secret)
			}
			evs = append(evs, fmt.Sprintf(`{"type":3,"timestamp":4,"data":{"source":0,"texts":[%s],"attributes":[{"id":10,"attributes":{%q:%q}}],"removes":[],"adds":[]}}`, texts, attr, secret))
		case 3: // in a later full snapshot
			evs = []string{meta, snap(""), snap(node)}
		}
		flt := NewFilter(ptr(policy.Default()))
		out, _, err := process(flt, raw(evs...))
		if err != nil {
			t.Fatalf("%v on %s", err, strings.Join(evs, "\n"))
		}
		got := joined(out)
		// Buttons are not fields; a checkbox's typed "text" is not user data
		// rrweb ever records, but its value attribute is masked all the same.
		if strings.Contains(got, secret) {
			t.Fatalf("%q survived (tag %s, attribute %s, case %d):\n%s", secret, tag, attr, whereI%4, got)
		}
	})
}

// process filters a batch the way the relay does, event by event, and
// returns the events it would relay.
func process(f *Filter, events []json.RawMessage) ([]json.RawMessage, Stats, error) {
	var st Stats
	out := events[:0:0]
	var d rrweb.Doc
	for _, raw := range events {
		if !d.Reset(raw) {
			return nil, st, ErrMalformed
		}
		keep, err := f.Event(&d, &st)
		if err != nil {
			return nil, st, err
		}
		if !keep {
			continue
		}
		ev, err := d.Bytes()
		if err != nil {
			return nil, st, ErrMalformed
		}
		out = append(out, ev)
	}
	return out, st, nil
}
