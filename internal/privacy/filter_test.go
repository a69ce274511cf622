package privacy

import (
	"github.com/tomoni-cobrowse/tomoni/internal/policy"

	"encoding/json"
	"strings"
	"testing"
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
  {"type":2,"tagName":"input","id":20,"attributes":{"type":"text","value":"visible-ok"},"childNodes":[]},
  {"type":3,"id":21,"textContent":"public heading"}
 ]}]}]}}}`

func TestFilterScrubsRecognisableFields(t *testing.T) {
	f := NewFilter(ptr(policy.Default()))
	out, st, err := f.Process(raw(meta, unmaskedSnapshot,
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

func TestFilterCountsNothingWhenTheSDKMasked(t *testing.T) {
	f := NewFilter(ptr(policy.Default()))
	masked := strings.NewReplacer("pw-SECRET-1", Mask, "hidden-SECRET-3", Mask, "otp-SECRET-5", Mask, "text-SECRET-7", Mask, "shadow-SECRET-9", Mask,
		"pw-SECRET-2", Mask, "data-SECRET-4", Mask, "title-SECRET-6", Mask, "aria-SECRET-8", Mask).Replace(unmaskedSnapshot)
	_, st, err := f.Process(raw(meta, masked, `{"type":3,"timestamp":3,"data":{"source":5,"id":10,"text":"`+Mask+`"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if st.Scrubbed() != 0 {
		t.Fatalf("filter scrubbed %s of an already masked page", st)
	}
}

func TestFilterDropsExcludedPages(t *testing.T) {
	f := NewFilter(ptr(policy.Default()))
	out, st, err := f.Process(raw(
		`{"type":4,"data":{"href":"http://bank.test/privacy.html","width":1,"height":1},"timestamp":1}`,
		`{"type":2,"data":{"node":{"type":0,"id":1,"childNodes":[{"type":3,"id":2,"textContent":"privacy-SECRET"}]}},"timestamp":2}`,
		`{"type":3,"data":{"source":1,"positions":[]},"timestamp":3}`,
	))
	if err != nil || len(out) != 0 || st.Excluded != 3 {
		t.Fatalf("out %s, stats %s, err %v", joined(out), st, err)
	}
	out, _, _ = f.Process(raw(meta, `{"type":3,"data":{"source":1,"positions":[]},"timestamp":4}`))
	if len(out) != 2 {
		t.Fatalf("allowed page after excluded one: %d events relayed", len(out))
	}
}

func TestFilterStripsURLQuery(t *testing.T) {
	f := NewFilter(ptr(policy.Default()))
	out, st, _ := f.Process(raw(`{"type":4,"data":{"href":"http://bank.test/a?email=me%40x.test","width":1,"height":1},"timestamp":1}`))
	if strings.Contains(joined(out), "email") || st.URLs != 1 {
		t.Fatalf("query kept: %s", joined(out))
	}
}

// Events the filter must read (here: after a page with sensitive fields)
// are rejected when they are not in rrweb's shape.
func TestFilterRejectsMalformed(t *testing.T) {
	for _, bad := range []string{`1`, `{"type":"x"}`, `{"data":{}}`, `{"type":2,"data":{"node":5}}`, `{"type":3,"data":{}}`, `{"type":3,"data":{"source":0,"adds":[5]}}`} {
		f := NewFilter(ptr(policy.Default()))
		if _, _, err := f.Process(raw(meta, unmaskedSnapshot, bad)); err == nil {
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
		out, _, err := flt.Process(evs)
		if err == nil && len(out) > len(evs) {
			t.Fatalf("filter produced more events than it got")
		}
		if len(flt.flags) > maxTracked {
			t.Fatalf("tracking %d nodes", len(flt.flags))
		}
	})
}
