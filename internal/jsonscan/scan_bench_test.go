package jsonscan

import (
	"bytes"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
)

// fieldsJSONText is fields written on the JSON tokenizer of
// go-json-experiment (jsontext), kept to compare the two: the scanner in
// scan.go stays only while it is the faster (see docs/benchmarks.md).
func fieldsJSONText(b []byte, want ...string) ([][]byte, bool) {
	vals := make([][]byte, len(want))
	d := jsontext.NewDecoder(bytes.NewReader(b), jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	if tok, err := d.ReadToken(); err != nil || tok.Kind() != '{' {
		return nil, false
	}
	for d.PeekKind() != '}' {
		k, err := d.ReadToken()
		if err != nil {
			return nil, false
		}
		key := k.String()
		v, err := d.ReadValue()
		if err != nil {
			return nil, false
		}
		for i, w := range want {
			if key == w {
				vals[i] = append([]byte(nil), v...)
			}
		}
	}
	return vals, true
}

var benchEvent = []byte(`{"type":3,"data":{"source":0,"texts":[],"attributes":[{"id":88,"attributes":{"class":"card open","aria-expanded":"true"}}],"removes":[],"adds":[{"parentId":88,"nextId":null,"node":{"type":2,"tagName":"p","attributes":{"class":"answer"},"childNodes":[],"id":412}},{"parentId":412,"nextId":null,"node":{"type":3,"textContent":"担当者に見えるのは、このサイトを表示しているブラウザのタブだけです。","id":413}}]},"timestamp":1795784882795}`)

func TestJSONTextVariantAgrees(t *testing.T) {
	a, okA := fields(benchEvent, "type", "data", "timestamp")
	b, okB := fieldsJSONText(benchEvent, "type", "data", "timestamp")
	if !okA || !okB {
		t.Fatalf("ok %v %v", okA, okB)
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			t.Fatalf("field %d: %s vs %s", i, a[i], b[i])
		}
	}
}

func BenchmarkFields(b *testing.B) {
	b.Run("scanner", func(b *testing.B) {
		b.SetBytes(int64(len(benchEvent)))
		var v [3][]byte
		for b.Loop() {
			Fields(v[:], benchEvent, "type", "data", "timestamp")
		}
	})
	b.Run("jsontext", func(b *testing.B) {
		b.SetBytes(int64(len(benchEvent)))
		for b.Loop() {
			fieldsJSONText(benchEvent, "type", "data", "timestamp")
		}
	})
}
