package anyof

import (
	"bytes"
	"strings"
	"testing"
)

// The markers the filter and the rewriter look for, as they use them.
var markerSets = [][]string{
	{"password", "hidden", "data-tomoni-", "autocomplete", "input", "textarea", "select", "option", "output", "datalist", "contenteditable", "srcdoc", "data:"},
	{`"canvas"`, `rr_dataURL`, `"src`, `href"`, `"poster"`, `"background"`, `"data":"`, `url(`, `URL(`, `@import`, `"srcdoc"`, `"style"`, `isStyle`},
	{"ab", "abc", "xx"},
}

func naive(b []byte, strs []string) bool {
	for _, s := range strs {
		if bytes.Contains(b, []byte(s)) {
			return true
		}
	}
	return false
}

func TestInAgreesWithContains(t *testing.T) {
	cases := []string{
		``, `a`, `ab`, `xab`, `xa`, `x`, `passwor`, `password`, `PASSWORD`, `xpassword`, `…password…`,
		`{"type":3,"data":{"source":0,"texts":[],"attributes":[{"id":88,"attributes":{"class":"card open"}}],"removes":[],"adds":[]}}`,
		`{"attributes":[{"id":5,"attributes":{"type":"password"}}]}`,
		`{"adds":[{"node":{"tagName":"img","attributes":{"src":"/a.png"}}}]}`,
		`{"texts":[{"id":3,"value":"a { background: url(x.png) }"}]}`,
		`data:`, `dat`, `"data":"`, `"data":`, `rr_dataUR`, `@impor`, `@import`, `isStyl`, `isStyle`,
	}
	for _, strs := range markerSets {
		set := New(strs...)
		for _, c := range cases {
			if got, want := set.In([]byte(c)), naive([]byte(c), strs); got != want {
				t.Errorf("In(%q) = %v, bytes.Contains says %v (set %q)", c, got, want, strs)
			}
		}
		// Every string is found anywhere in a text, also at its very end.
		for _, s := range strs {
			for _, text := range []string{s, "x" + s, s + "x", strings.Repeat("·", 100) + s} {
				if !set.In([]byte(text)) {
					t.Errorf("In(%q) missed %q", text, s)
				}
			}
		}
	}
}

func TestNewRefusesAStringTooShort(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("New took a one-byte string")
		}
	}()
	New("ok", "x")
}

func FuzzIn(f *testing.F) {
	for _, s := range []string{`{"type":"password"}`, `data-tomoni-mask`, `url(`, `"src":"x"`, `hidde`, `isStyle`} {
		f.Add([]byte(s))
	}
	sets := make([]*Set, len(markerSets))
	for i, strs := range markerSets {
		sets[i] = New(strs...)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for i, strs := range markerSets {
			if got, want := sets[i].In(b), naive(b, strs); got != want {
				t.Fatalf("In(%q) = %v, bytes.Contains says %v (set %q)", b, got, want, strs)
			}
		}
	})
}

func BenchmarkIn(b *testing.B) {
	// A mutation that holds none of the filter's markers: the whole text is read.
	text := []byte(`{"source":0,"texts":[],"attributes":[{"id":88,"attributes":{"class":"card open","aria-expanded":"true"}}],"removes":[],"adds":[{"parentId":88,"nextId":null,"node":{"type":2,"tagName":"p","attributes":{"class":"answer"},"childNodes":[],"id":412}},{"parentId":412,"nextId":null,"node":{"type":3,"textContent":"担当者に見えるのは、このサイトを表示しているブラウザのタブだけです。","id":413}}]}`)
	strs := markerSets[0]
	b.Run("set", func(b *testing.B) {
		set := New(strs...)
		b.SetBytes(int64(len(text)))
		for b.Loop() {
			if set.In(text) {
				b.Fatal("found a marker")
			}
		}
	})
	b.Run("contains", func(b *testing.B) {
		b.SetBytes(int64(len(text)))
		for b.Loop() {
			if naive(text, strs) {
				b.Fatal("found a marker")
			}
		}
	})
}
