package rrweb

import "testing"

func TestMapOfAnEventWithoutData(t *testing.T) {
	for _, raw := range []string{`{"type":4}`, `{"type":4,"data":null}`, `{"type":4,"data":[1]}`, `{"type":4,"data":"x"}`} {
		var d Doc
		if !d.Reset([]byte(raw)) {
			continue
		}
		if _, err := d.Map(); err == nil {
			t.Errorf("%s: data that is not an object decoded without an error", raw)
		}
	}
	var d Doc
	d.Reset([]byte(`{"type":4,"data":{"href":"https://example.jp/","width":1}}`))
	if m, err := d.Map(); err != nil || m["href"] != "https://example.jp/" {
		t.Errorf("meta data: %v, %v", m, err)
	}
}
