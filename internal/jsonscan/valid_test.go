package jsonscan

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestValidAgreesWithEncodingJSON(t *testing.T) {
	for _, in := range []string{
		``, ` `, `{}`, `[]`, `{"a":1}`, `{"a":1,}`, `[1,]`, `[,1]`, `{"a" 1}`, `{a:1}`, `{"a":1}}`, `[[]`, `"\u00e9"`, `"\u00g9"`,
		`"\x"`, "\"a\tb\"", `"a\/b"`, `-0`, `-`, `01`, `1.`, `1.5e`, `1.5e+3`, `1E-0`, `.5`, `+1`, `truex`, `tru`, `null `,
		` {"t":"events","ct":1,"events":[{"type":3,"data":{"source":1}}]} `, `{"a":[1,{"b":[true,false,null]}]}`, `1 2`, `{"a":"b"`,
		`"unterminated`, `"\`, `{"":""}`, "[\n1\r,\t2]", `[1 2]`, `{"a":1 "b":2}`, `"\u12"`, `[-]`, `[-a]`, `0e5`, `1e05`,
		strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth),
		strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1),
		strings.Repeat(`{"a":`, 100) + "1" + strings.Repeat("}", 100),
	} {
		if got, want := Valid([]byte(in)), json.Valid([]byte(in)); got != want {
			t.Errorf("Valid(%.40q) = %v, encoding/json says %v", in, got, want)
		}
	}
}

// FuzzValid: the validator accepts exactly what encoding/json accepts.
func FuzzValid(f *testing.F) {
	for _, s := range []string{`{"t":"events","ct":1,"events":[{"type":3}]}`, `[1,-2.5e3,"a\u00e9\n",true,false,null,{}]`, `{"a":{"b":[]}}`, `"\ud800"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := Valid(b), json.Valid(b); got != want {
			t.Fatalf("Valid(%q) = %v, encoding/json says %v", b, got, want)
		}
	})
}

func TestEachGivesEveryElement(t *testing.T) {
	var got []string
	if !Each([]byte(` [ {"a":[1,2]} , "x,]" ,3,[ ]] `), func(e []byte) { got = append(got, string(e)) }) {
		t.Fatal("not an array")
	}
	if strings.Join(got, "|") != `{"a":[1,2]}|"x,]"|3|[ ]` {
		t.Fatalf("elements %q", got)
	}
	n := 0
	if !Each([]byte(`[]`), func([]byte) { n++ }) || n != 0 {
		t.Fatal("an empty array")
	}
	if Each([]byte(`{"a":1}`), func([]byte) {}) || Each([]byte(`null`), func([]byte) {}) {
		t.Fatal("not arrays, taken for arrays")
	}
}

// FuzzEach: on any valid array, Each gives what encoding/json decodes.
func FuzzEach(f *testing.F) {
	f.Add([]byte(`[1,"a",{"b":[2]},null]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var ref []json.RawMessage
		if !json.Valid(b) || json.Unmarshal(b, &ref) != nil || ref == nil {
			return
		}
		var got [][]byte
		if !Each(b, func(e []byte) { got = append(got, e) }) {
			t.Fatalf("%q: not taken for an array", b)
		}
		if len(got) != len(ref) {
			t.Fatalf("%q: %d elements, encoding/json says %d", b, len(got), len(ref))
		}
		for i := range got {
			if string(got[i]) != string(ref[i]) {
				t.Fatalf("%q: element %d = %q, want %q", b, i, got[i], ref[i])
			}
		}
	})
}

func BenchmarkValid(b *testing.B) {
	msg := []byte(`{"t":"events","ct":1795784882810,"events":[` + string(benchEvent) + `,` + string(benchEvent) + `]}`)
	b.Run("jsonscan", func(b *testing.B) {
		b.SetBytes(int64(len(msg)))
		for b.Loop() {
			Valid(msg)
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		b.SetBytes(int64(len(msg)))
		for b.Loop() {
			json.Valid(msg)
		}
	})
}
