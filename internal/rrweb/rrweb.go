// Package rrweb names the stable parts of rrweb's event format that the
// server reads (event types, incremental sources, node types) and decodes
// and re-encodes events the way both of its readers, the privacy filter and
// the asset rewriter, need: numbers kept exactly as sent.
package rrweb

import (
	"bytes"
	"encoding/json"
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
