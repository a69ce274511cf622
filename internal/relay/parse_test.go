package relay

import (
	"encoding/json"
	"testing"

	"github.com/tomoni-cobrowse/tomoni/internal/protocol"
)

// The fast path reads an events message as encoding/json does wherever the
// two agree on what the message says (exact keys, each once).
func TestParseCustomerReadsEventsAsEncodingJSON(t *testing.T) {
	for _, in := range []string{
		`{"t":"events","ct":1795784882810,"events":[{"type":3,"data":{"source":1}},{"type":4,"data":{"href":"x"}}]}`,
		`{"t":"events","events":[]}`,
		`{"t":"events","ct":5,"events":[ 1 , "a,]" , {"b":[2]} ]}`,
		`{"t":"events", "ct" : 7 , "events" : [{"type":2}] }`,
	} {
		var fast, slow customerMessage
		if err := parseCustomer([]byte(in), &fast); err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if err := json.Unmarshal([]byte(in), &slow); err != nil {
			t.Fatal(err)
		}
		if fast.T != slow.T || fast.CT != slow.CT || len(fast.Events) != len(slow.Events) {
			t.Fatalf("%s: fast %+v, encoding/json %+v", in, fast, slow)
		}
		for i := range fast.Events {
			if string(fast.Events[i]) != string(slow.Events[i]) {
				t.Fatalf("%s: event %d = %s, want %s", in, i, fast.Events[i], slow.Events[i])
			}
		}
	}
	// What the fast path does not take is left to encoding/json: the same
	// errors as before.
	for _, bad := range []string{`{"t":"events","ct":1.5,"events":[]}`, `{"t":"events","ct":1,"events":[1,]}`, `{"t":"events","events":{}}`, `{"t":"events"`} {
		var m customerMessage
		if err := parseCustomer([]byte(bad), &m); err == nil {
			t.Errorf("%s: accepted, events %q", bad, m.Events)
		}
	}
}

// Whatever a customer sends, an events message the parser accepts has
// events that are each one valid JSON value, so what reaches staff is
// valid JSON.
func FuzzParseCustomer(f *testing.F) {
	f.Add([]byte(`{"t":"events","ct":1,"events":[{"type":3,"data":{"source":1}}]}`))
	f.Add([]byte(`{"t":"events","ct":1,"events":[1,"x",null,{"a":[{}]}],"t":"events"}`))
	f.Add([]byte(`{"t":"part","seq":0,"last":true,"part":"{}"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var m customerMessage
		if parseCustomer(b, &m) != nil || m.T != protocol.TypeEvents {
			return
		}
		for _, ev := range m.Events {
			if !json.Valid(ev) {
				t.Fatalf("%q: event %q is not one JSON value", b, ev)
			}
		}
		if out := protocol.AppendStaffEvents(nil, 1, m.CT, m.Events); !json.Valid(out) {
			t.Fatalf("%q: staff would get %q", b, out)
		}
	})
}
