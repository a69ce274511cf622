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
	})
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
