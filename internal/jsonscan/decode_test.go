package jsonscan

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// stdDecode is what Decode must agree with: encoding/json with UseNumber.
func stdDecode(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() || dec.InputOffset() != int64(len(bytes.TrimRight(b, " \t\r\n"))) {
		return nil, ErrInvalid
	}
	return v, nil
}

var decodeSeeds = []string{
	`{"type":2,"data":{"node":{"type":0,"childNodes":[{"type":2,"tagName":"input","attributes":{"type":"password","value":"••••••"},"childNodes":[],"id":12}],"id":1},"initialOffset":{"left":0,"top":-0.5e3}},"timestamp":1732888888888}`,
	`{"a":1,"a":2,"b":{"a":[]},"c":{}}`, `[]`, `[1,[2,[3,{}]]]`, `"x"`, `-0`, `1E+2`, `true`, `false`, `null`, ` { "k" : [ true , null ] } `,
	`"\u00e9\n\t\"\\\/\b\f\r"`, `"\ud83d\ude00"`, `"\ud83d"`, `"\ude00\ud83d"`, `"\ud83d\u0041"`, `"\ud83d\ud83d\ude00"`, `"\ud83dx"`,
	"\"\xff\xfe ok\"", "\"caf\xc3\xa9\"", "\"\xed\xa0\x80\"", `{"\u006b":"\u0000"}`, "{\"k\xff\":1}", `"日本語の\u30c6キスト"`,
}

func TestDecodeAgreesWithEncodingJSON(t *testing.T) {
	for _, in := range decodeSeeds {
		got, err := Decode([]byte(in))
		want, werr := stdDecode([]byte(in))
		if (err != nil) != (werr != nil) || !reflect.DeepEqual(got, want) {
			t.Errorf("Decode(%q) = %#v, %v; encoding/json gives %#v, %v", in, got, err, want, werr)
		}
	}
	for _, in := range []string{``, `{`, `{"a":1,}`, `[1 2]`, `1 2`, `"\x"`} {
		if _, err := Decode([]byte(in)); err == nil {
			t.Errorf("Decode(%q) took invalid JSON", in)
		}
	}
}

// FuzzDecode: on every input Decode gives exactly what encoding/json
// gives, or refuses what it refuses.
func FuzzDecode(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := Decode(b)
		want, werr := stdDecode(b)
		if (err != nil) != (werr != nil) {
			t.Fatalf("Decode(%q): error %v, encoding/json's %v", b, err, werr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Decode(%q) = %#v, encoding/json gives %#v", b, got, want)
		}
		if err != nil {
			return
		}
		// Decoded into maps and slices another value gave back, and
		// while a third value is still in use, it reads the same.
		var rec Recycler
		live := rec.DecodeValid(b)
		rec.Release(rec.DecodeValid(b))
		if again := rec.DecodeValid(b); !reflect.DeepEqual(again, want) {
			t.Fatalf("Recycler.DecodeValid(%q) = %#v, encoding/json gives %#v", b, again, want)
		}
		if !reflect.DeepEqual(live, want) {
			t.Fatalf("a value still in use was changed by a later decode: %#v, want %#v", live, want)
		}
	})
}

// A page's maps given back are filled again by the next page, and only
// once: two values decoded after one release share none of them, and a
// value kept is not touched by what is decoded after it.
func TestRecycledMapsAreLentOnce(t *testing.T) {
	var rec Recycler
	page := []byte(`{"node":{"type":0,"childNodes":[{"type":2,"tagName":"input","attributes":{"type":"password","value":"x"},"childNodes":[],"id":2}],"id":1}}`)
	other := []byte(`{"node":{"type":0,"childNodes":[{"type":3,"textContent":"残高","id":5},{"type":3,"textContent":"明細","id":6}],"id":4}}`)
	for range 50 {
		rec.Release(rec.DecodeValid(page))
	}
	a := rec.DecodeValid(page)
	b := rec.DecodeValid(other)
	wantA, _ := stdDecode(page)
	wantB, _ := stdDecode(other)
	if !reflect.DeepEqual(a, wantA) || !reflect.DeepEqual(b, wantB) {
		t.Fatalf("decoded %#v and %#v, want %#v and %#v", a, b, wantA, wantB)
	}
	rec.Release(b)
	for range 50 {
		rec.Release(rec.DecodeValid(other))
	}
	if !reflect.DeepEqual(a, wantA) {
		t.Fatalf("a value in use changed to %#v after others were decoded and given back", a)
	}
	// What is given back is empty: nothing of a page stays reachable
	// through the pool.
	m := rec.newMap()
	if len(m) != 0 {
		t.Fatalf("a recycled map holds %v", m)
	}
	if s := rec.newSlice(); len(s) != 0 || s == nil {
		t.Fatalf("a recycled slice is %#v, want empty and not nil (it encodes as [])", s)
	}
}

func BenchmarkDecode(b *testing.B) {
	snap := bytes.Repeat([]byte(`{"type":2,"tagName":"div","attributes":{"class":"row","data-x":"y"},"childNodes":[{"type":3,"textContent":"口座番号の確認","id":7}],"id":6},`), 100)
	doc := append(append([]byte(`{"node":{"type":0,"childNodes":[`), snap[:len(snap)-1]...), `],"id":1}}`...)
	b.Run("jsonscan", func(b *testing.B) {
		b.SetBytes(int64(len(doc)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Decode(doc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(doc)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := stdDecode(doc); err != nil {
				b.Fatal(err)
			}
		}
	})
}
