// Package rrweb names the stable parts of rrweb's event format that the
// server reads (event types, incremental sources, node types) and decodes
// and re-encodes events the way both of its readers, the privacy filter and
// the asset rewriter, need: numbers kept exactly as sent.
package rrweb

import (
	"bytes"
	"encoding/json"

	"github.com/tomoni-cobrowse/tomoni/internal/jsonscan"
)

// Event types.
const (
	FullSnapshot = 2
	Incremental  = 3
	Meta         = 4
)

// Incremental sources.
const (
	SourceMutation           = 0
	SourceInput              = 5
	SourceStyleSheetRule     = 8
	SourceStyleDeclaration   = 13
	SourceAdoptedStyleSheets = 15
)

// Node types of a serialised node.
const (
	NodeDocument = 0
	NodeElement  = 2
	NodeText     = 3
)

// Event is an event with its data left raw.
type Event struct {
	Type      int             `json:"type"`
	Data      json.RawMessage `json:"data"`
	Timestamp json.RawMessage `json:"timestamp,omitempty"`
}

// Head is what every reader of an event needs before anything else: its
// type, the source of an incremental event, its data and timestamp (raw).
type Head struct {
	Type      int
	Source    int // NoSource unless the event is incremental
	Data      json.RawMessage
	Timestamp json.RawMessage
}

// NoSource is the Source of an event that is not incremental.
const NoSource = -1

// Peek reads an event's head the way a browser's JSON.parse reads it (exact
// keys, the last of a repeated one), without decoding the rest. raw must be
// valid JSON; ok is false when it is not an event: not an object, a type
// or an incremental source that is not an integer.
func Peek(raw []byte) (h Head, ok bool) {
	var v [3][]byte
	if !jsonscan.FieldsTo(v[:], raw, "type", "data", "timestamp") {
		return Head{}, false
	}
	typ, ok := jsonscan.Int(v[0])
	if !ok {
		return Head{}, false
	}
	h = Head{Type: int(typ), Source: NoSource, Data: v[1], Timestamp: v[2]}
	if h.Type == Incremental {
		var d [1][]byte
		if !jsonscan.FieldsTo(d[:], h.Data, "source") {
			return Head{}, false
		}
		src, ok := jsonscan.Int(d[0])
		if !ok {
			return Head{}, false
		}
		h.Source = int(src)
	}
	return h, true
}

// Event is the head as an event to re-encode with new data.
func (h Head) Event() Event { return Event{Type: h.Type, Data: h.Data, Timestamp: h.Timestamp} }

// Decode decodes b into v, keeping numbers as json.Number so that ids and
// timestamps come back out exactly as they went in.
func Decode(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return dec.Decode(v)
}

// Encode re-encodes an event with new data.
func Encode(ev Event, data any) (json.RawMessage, error) {
	d, err := json.Marshal(data)
	if err != nil {
		return nil, err
	}
	ev.Data = d
	return json.Marshal(ev)
}
