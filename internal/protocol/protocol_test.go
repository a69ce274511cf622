package protocol

import (
	"encoding/json"
	"errors"
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
