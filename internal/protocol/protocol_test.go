package protocol

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestParseStaff(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want any
		err  error
	}{
		{`{"t":"pointer","id":12,"x":0.5,"y":1}`, Pointer{T: "pointer", ID: 12, X: 0.5, Y: 1}, nil},
		{`{"t":"pointer","id":0}`, Pointer{T: "pointer"}, nil},
		{`{"t":"pointer","id":12,"x":0.5,"y":1,"text":"typed"}`, Pointer{T: "pointer", ID: 12, X: 0.5, Y: 1}, nil},
		{`{"t":"highlight","id":3}`, Highlight{T: "highlight", ID: 3}, nil},
		{`{"t":"end"}`, Simple{T: "end"}, nil},
		{`{"t":"resync"}`, Simple{T: "resync"}, nil},
		{`{"t":"input","id":3,"text":"x"}`, nil, ErrForbidden},
		{`{"t":"click","id":3}`, nil, ErrForbidden},
		{`{"t":"events","events":[]}`, nil, ErrForbidden},
		{`{"t":"pointer","id":3,"x":-0.1,"y":0}`, nil, ErrMalformed},
		{`{"t":"pointer","id":3}`, nil, ErrMalformed},
		{`{"t":"pointer","id":-1,"x":0,"y":0}`, nil, ErrMalformed},
		{`{"t":"pointer","id":99999999999,"x":0,"y":0}`, nil, ErrMalformed},
		{`{"t":"highlight"}`, nil, ErrMalformed},
		{`{}`, nil, ErrMalformed},
		{`[1,2]`, nil, ErrMalformed},
		{`nonsense`, nil, ErrMalformed},
	} {
		got, err := ParseStaff([]byte(tc.in))
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("%s: err %v, want %v", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: got %#v, %v; want %#v", tc.in, got, err, tc.want)
		}
	}
}

func TestAppendStaffEventsMatchesEncodingJSON(t *testing.T) {
	evs := []json.RawMessage{json.RawMessage(`{"type":3,"data":{"source":1}}`), json.RawMessage(`{"type":4,"data":{"href":"x"}}`)}
	got := AppendStaffEvents(nil, 1795784882790, 1795784882700, evs)
	want, _ := json.Marshal(StaffEvents{T: TypeEvents, ST: 1795784882790, CT: 1795784882700, Events: evs})
	if string(got) != string(want) {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if empty := AppendStaffEvents(nil, 1, 2, nil); !json.Valid(empty) {
		t.Fatalf("invalid JSON for no events: %s", empty)
	}
}

func TestBrowserFromUA(t *testing.T) {
	for ua, want := range map[string]string{
		"Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1": "Safari / iOS",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0":           "Edge / Windows",
		"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36":                   "Chrome / Android",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15":                   "Safari / macOS",
		"Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0 Mobile/15E148 Safari/604.1":           "Chrome / iOS",
		"<script>alert(1)</script>": "other",
		"":                          "other",
	} {
		if got := BrowserFromUA(ua); got != want {
			t.Errorf("%.40q: %q, want %q", ua, got, want)
		}
	}
}

func TestStrokes(t *testing.T) {
	m, err := ParseStaff([]byte(`{"t":"stroke","kind":"pen","pts":[[12,0.5,0.25],[13,1,0]],"script":"x"}`))
	st, ok := m.(Stroke)
	if err != nil || !ok || len(st.Pts) != 2 || st.Pts[0] != [3]float64{12, 0.5, 0.25} {
		t.Fatalf("%#v %v", m, err)
	}
	if b, _ := json.Marshal(st); strings.Contains(string(b), "script") {
		t.Fatalf("an unknown field was forwarded: %s", b)
	}
	many := `{"t":"stroke","kind":"laser","pts":[` + strings.TrimSuffix(strings.Repeat(`[1,0,0],`, MaxStrokePoints+1), ",") + `]}`
	for _, bad := range []string{
		`{"t":"stroke","kind":"brush","pts":[[1,0,0]]}`,
		`{"t":"stroke","kind":"pen","pts":[]}`,
		`{"t":"stroke","kind":"pen","pts":[[1,0]]}`,
		`{"t":"stroke","kind":"pen","pts":[[0,0,0]]}`,
		`{"t":"stroke","kind":"pen","pts":[[1.5,0,0]]}`,
		`{"t":"stroke","kind":"pen","pts":[[1,2,0]]}`,
		`{"t":"stroke","kind":"pen","pts":[[1,0,-0.1]]}`,
		`{"t":"stroke","kind":"pen","pts":"x"}`,
		many,
	} {
		if _, err := ParseStaff([]byte(bad)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%.60s: %v, want malformed", bad, err)
		}
	}
}

// The console's pointer moves are read without encoding/json; whatever that
// reading accepts, encoding/json reads the same way.
func FuzzPointerReadsAsEncodingJSON(f *testing.F) {
	for _, s := range []string{
		`{"t":"pointer","id":12,"x":0.25,"y":0.5}`, `{"t":"pointer","id":0,"x":0,"y":0}`, `{"t":"pointer","id":3,"x":1e-7,"y":1E+0}`,
		`{"t":"pointer","id":-1,"x":-0.5,"y":2}`, `{"t":"pointer","id":01,"x":0.5,"y":0.5}`, `{"t":"pointer","id":1,"x":.5,"y":0.5}`,
		`{"t":"pointer","id":1,"x":0.5,"y":0.5,"id":2}`, `{"t":"pointer","id":1,"x":Infinity,"y":0}`, `{"t":"pointer","id":99999999999999999999,"x":0,"y":0}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var fast staffMessage
		if !fast.pointer(data) {
			return
		}
		var slow staffMessage
		if err := json.Unmarshal(data, &slow); err != nil {
			t.Fatalf("read %q, which encoding/json refuses: %v", data, err)
		}
		if slow.T != fast.T || slow.ID == nil || *slow.ID != *fast.ID || slow.X == nil || *slow.X != *fast.X || slow.Y == nil || *slow.Y != *fast.Y || slow.Kind != "" || slow.Pts != nil {
			t.Fatalf("%q: read as %+v, encoding/json reads %+v", data, fast, slow)
		}
	})
}

func TestPointerFastPathTakesOnlyTheConsolesForm(t *testing.T) {
	for s, want := range map[string]bool{
		`{"t":"pointer","id":12,"x":0.25,"y":0.5}`:         true,
		`{"t":"pointer","id":12,"x":0.25,"y":0.5,"id":13}`: false, // encoding/json would take the last id
		`{"t":"pointer","id":01,"x":0.25,"y":0.5}`:         false,
		`{"t":"pointer","id":12,"x":Inf,"y":0.5}`:          false,
		`{"t":"pointer","id":12,"x":0x1p-2,"y":0.5}`:       false,
		`{"t":"pointer", "id":12,"x":0.25,"y":0.5}`:        false,
		`{"t":"pointer","id":12,"x":0.25,"y":0.5}x`:        false,
		`{"t":"pointer","id":12,"x":0.25,"y":}`:            false,
	} {
		var m staffMessage
		if got := m.pointer([]byte(s)); got != want {
			t.Errorf("%s: fast path %v, want %v", s, got, want)
		}
	}
}
