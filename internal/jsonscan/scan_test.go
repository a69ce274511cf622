package jsonscan

import (
	"bytes"
	"encoding/json"
	"testing"
)

// fields is Fields with a slice of its own.
func fields(b []byte, want ...string) ([][]byte, bool) {
	vals := make([][]byte, len(want))
	return vals, Fields(vals, b, want...)
}

func TestFieldsTakesExactKeysLastWins(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string // type, data
	}{
		{`{"type":3,"data":{"source":1}}`, []string{"3", `{"source":1}`}},
		{`{"type":2,"Type":3}`, []string{"2", ""}},
		{`{"type":2,"type":3}`, []string{"3", ""}},
		{`{"\u0074ype":4}`, []string{"4", ""}},
		{` { "data" : [1, {"type":9}, "]}\"" ] , "type" : 1 } `, []string{"1", `[1, {"type":9}, "]}\"" ]`}},
		{`{}`, []string{"", ""}},
	} {
		got, ok := fields([]byte(tc.in), "type", "data")
		if !ok {
			t.Errorf("%s: not an object", tc.in)
			continue
		}
		for i := range tc.want {
			if string(got[i]) != tc.want[i] {
				t.Errorf("%s: field %d = %q, want %q", tc.in, i, got[i], tc.want[i])
			}
		}
	}
	for _, bad := range []string{`[1]`, `3`, `"x"`} {
		if _, ok := fields([]byte(bad), "type"); ok {
			t.Errorf("%s accepted as an object", bad)
		}
	}
}

// FuzzFields: on any valid JSON object, fields agrees with encoding/json
// decoding into a map (exact keys, last one wins).
func FuzzFields(f *testing.F) {
	f.Add([]byte(`{"type":3,"data":{"source":1},"timestamp":12}`))
	f.Add([]byte(`{"type":2,"type":"x","data":"a\"b","t\u0079pe":[1,2]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var ref map[string]json.RawMessage
		// "null" decodes into a nil map without error, but it is not an
		// object; only inputs that decode to a map are objects.
		if json.Unmarshal(b, &ref) != nil || ref == nil || !json.Valid(b) {
			return
		}
		got, ok := fields(b, "type", "data", "timestamp")
		if !ok {
			t.Fatalf("valid object %q not scanned", b)
		}
		for i, k := range []string{"type", "data", "timestamp"} {
			want, present := ref[k]
			if !present {
				if got[i] != nil {
					t.Fatalf("%q: %s found %q, absent in encoding/json", b, k, got[i])
				}
				continue
			}
			var a, c bytes.Buffer
			json.Compact(&a, want)
			json.Compact(&c, got[i])
			if a.String() != c.String() {
				t.Fatalf("%q: %s = %q, encoding/json says %q", b, k, got[i], want)
			}
		}
	})
}
