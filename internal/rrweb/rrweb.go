// Package rrweb names the stable parts of rrweb's event format that the
// server reads (event types, incremental sources, node types) and decodes
// and re-encodes events the way both of its readers, the privacy filter and
// the asset rewriter, need: numbers kept exactly as sent.
package rrweb

import (
	"encoding/json"
	"errors"

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

// event is an event with its data left raw, as it is encoded again.
type event struct {
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
	if !jsonscan.Fields(v[:], raw, "type", "data", "timestamp") {
		return Head{}, false
	}
	typ, ok := jsonscan.Int(v[0])
	if !ok {
		return Head{}, false
	}
	h = Head{Type: int(typ), Source: NoSource, Data: v[1], Timestamp: v[2]}
	if h.Type == Incremental {
		var d [1][]byte
		if !jsonscan.Fields(d[:], h.Data, "source") {
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

// Doc is one event on its way through the server's readers, the privacy
// filter and then the page-file rewriter: its data is decoded at most once,
// by the first reader that needs it, both change the same values, and it
// is encoded again only if one of them changed something.
type Doc struct {
	Head
	// Recycler, when set, decodes the data into maps and slices given
	// back by earlier events, which it takes back at the next Reset or
	// at Done: nothing may keep what Map returned past either.
	Recycler *jsonscan.Recycler
	raw      json.RawMessage
	data     map[string]any
	err      error
	decoded  bool
	changed  bool
}

// Reset makes d the event raw (valid JSON); ok is false when raw is not an
// event (see Peek).
func (d *Doc) Reset(raw json.RawMessage) (ok bool) {
	d.Done()
	*d = Doc{raw: raw, Recycler: d.Recycler}
	d.Head, ok = Peek(raw)
	return ok
}

// Done gives the decoded data back to the Recycler, if there is one.
func (d *Doc) Done() {
	if d.data != nil {
		d.Recycler.Release(d.data) // a nil Recycler keeps nothing
	}
	d.data, d.decoded = nil, false
}

// Map returns the event's data decoded, decoding it on the first call, with
// numbers as json.Number so that ids and timestamps come back out exactly as
// they went in. An event whose data is not an object is an error.
func (d *Doc) Map() (map[string]any, error) {
	if !d.decoded {
		d.decoded = true
		// Data is absent, or a value of the valid event Reset was given.
		var m map[string]any
		if len(d.Data) > 0 {
			// A nil Recycler decodes afresh.
			m, _ = d.Recycler.DecodeValid(d.Data).(map[string]any)
		}
		if d.data = m; m == nil {
			d.err = errors.New("rrweb: event data is not an object")
		}
	}
	return d.data, d.err
}

// Changed records that a reader changed the map Map returned.
func (d *Doc) Changed() { d.changed = true }

// Bytes returns the event as it is now: as it came unless a reader changed
// it.
func (d *Doc) Bytes() (json.RawMessage, error) {
	if !d.changed {
		return d.raw, nil
	}
	return encode(event{Type: d.Type, Data: d.Data, Timestamp: d.Timestamp}, d.data)
}

// encode re-encodes an event with new data.
func encode(ev event, data any) (json.RawMessage, error) {
	d, err := json.Marshal(data)
	if err != nil {
		return nil, err
	}
	ev.Data = d
	return json.Marshal(ev)
}
