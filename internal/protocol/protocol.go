// Package protocol defines the messages that travel over Tomoni's two WebSockets
// and the close codes that end them.
//
// Customer → server: hello, events, status, end.
// Server → staff: events (with the server's receive time), state.
// Staff → server: pointer, highlight, end, resync — and nothing else; the server
// rebuilds every staff message from validated fields, so no customer-side action
// can be smuggled through.
// Server → customer: pointer, highlight, resync, state.
package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/tomoni-cobrowse/tomoni/internal/jsonscan"
)

// StaffStream is the WebSocket subprotocol a console offers when it can
// inflate one raw deflate stream (DecompressionStream "deflate-raw"): the
// server then sends each message as a binary frame of that stream, which
// refers back to the messages before it (see internal/streamdeflate), and
// the console splits the inflated text at each 0x1E. A console that does
// not offer it gets one text frame per message.
const StaffStream = "tomoni.stream-deflate"

// Message types.
const (
	TypeHello     = "hello"
	TypeEvents    = "events"
	TypeStatus    = "status"
	TypeEnd       = "end"
	TypeState     = "state"
	TypePointer   = "pointer"
	TypeHighlight = "highlight"
	TypeResync    = "resync"
	TypeReset     = "reset"
	// A page file only the customer's browser can read: the server asks
	// (file_request, to the customer) and the SDK answers (file).
	TypeFileRequest = "file_request"
	TypeFile        = "file"
	// The part of the page a phone's customer actually sees after a pinch-zoom.
	TypeViewport = "viewport"
	// The round trip of a socket's ping, server to staff only.
	TypeLink = "link"
	// A line staff draw over the customer's page (laser trail or pen).
	TypeStroke = "stroke"
	// The customer's answer to a hand-over to another staff member.
	TypeHandover = "handover"
	// Something a console asked for was not done (server to staff only).
	TypeNotice = "notice"
	// A piece of an events message too large for one frame (customer only).
	TypePart = "part"
)

// From says which staff member a pointer, highlight or stroke came from:
// their colour on this session (By), which is also how the customer's page
// tells several staff members' marks apart, and their name. The server
// sets it; a console cannot.
type From struct {
	By   int    `json:"by"`
	Name string `json:"name"`
}

// HandoverOutcome tells a session's consoles how a hand-over or take-over
// ended (accepted, declined, lapsed, cancelled).
type HandoverOutcome struct {
	T     string `json:"t"`
	Event string `json:"event"`
	Kind  string `json:"kind"`
	To    string `json:"to"`
}

// Notice tells one console why what it sent had no effect.
type Notice struct {
	T    string `json:"t"`
	Code string `json:"code"`
}

// Stroke kinds: a laser trail fades within a second, a pen stroke after a
// few seconds. Neither is input on the customer's page.
const (
	StrokeLaser = "laser"
	StrokePen   = "pen"
)

// MaxStrokePoints bounds one stroke message.
const MaxStrokePoints = 64

// Stroke is a line staff draw over the customer's page. Each point is
// anchored to a node, at a fraction of its box, like the pointer, so it
// lands on the same thing whatever the customer's screen size:
// [node id, x fraction, y fraction].
type Stroke struct {
	T    string       `json:"t"`
	Kind string       `json:"kind"`
	Pts  [][3]float64 `json:"pts"`
	From
}

// Link tells a console how long a ping took to come back on the customer's
// socket or on its own (Side), in milliseconds.
type Link struct {
	T     string `json:"t"`
	Side  string `json:"side"`
	RTTMS int64  `json:"rtt_ms"`
}

// Hello is the customer's first message: what kind of screen it has.
type Hello struct {
	T      string `json:"t"`
	Device string `json:"device"`
	Width  int    `json:"vw"`
	Height int    `json:"vh"`
}

// StaffEvents is what the staff receives: the customer's batch of rrweb
// events, the customer's clock when sent (ct) and the server's receive time
// (st), so the console can correct for the customer's clock. The relay
// writes it with AppendStaffEvents.
type StaffEvents struct {
	T      string            `json:"t"`
	ST     int64             `json:"st"`
	CT     int64             `json:"ct"`
	Events []json.RawMessage `json:"events"`
}

// AppendStaffEvents encodes a StaffEvents message onto b. The events must
// be valid JSON (they were decoded from the customer's message); writing
// them as they are spares encoding/json re-validating every byte.
func AppendStaffEvents(b []byte, st, ct int64, events []json.RawMessage) []byte {
	b = append(b, `{"t":"events","st":`...)
	b = strconv.AppendInt(b, st, 10)
	b = append(b, `,"ct":`...)
	b = strconv.AppendInt(b, ct, 10)
	b = append(b, `,"events":[`...)
	for i, e := range events {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, e...)
	}
	return append(b, "]}"...)
}

// Status reports a customer-side pause or resume.
type Status struct {
	T      string `json:"t"`
	State  string `json:"state"`
	Reason string `json:"reason,omitempty"`
}

// State tells either side the session's current state.
type State struct {
	T         string `json:"t"`
	Session   string `json:"session"`
	State     string `json:"state"`
	Reason    string `json:"reason,omitempty"`
	Device    string `json:"device,omitempty"`
	Connected bool   `json:"connected"`
	Seen      bool   `json:"seen"` // the customer has connected at least once
	StaffName string `json:"staff_name,omitempty"`
}

// Pointer places the staff's circle at a node, at a fraction of its box.
// ID 0 hides the pointer.
type Pointer struct {
	T  string  `json:"t"`
	ID int64   `json:"id"`
	X  float64 `json:"x"`
	Y  float64 `json:"y"`
	From
}

// Highlight outlines one node; ID 0 clears it.
type Highlight struct {
	T  string `json:"t"`
	ID int64  `json:"id"`
	From
}

// Viewport is the customer's visual viewport (pinch-zoom): its offset and
// size in CSS pixels of the layout viewport, and its scale.
type Viewport struct {
	T string  `json:"t"`
	X float64 `json:"x"`
	Y float64 `json:"y"`
	W float64 `json:"w"`
	H float64 `json:"h"`
	S float64 `json:"s"`
}

// CleanViewport checks a visual viewport the customer's page reported and
// returns it rebuilt, or false when it is not a plausible one.
func CleanViewport(x, y, w, h, s float64) (Viewport, bool) {
	ok := func(v, lo, hi float64) bool { return !math.IsNaN(v) && v >= lo && v <= hi }
	if !ok(x, 0, 100_000) || !ok(y, 0, 100_000) || !ok(w, 1, 100_000) || !ok(h, 1, 100_000) || !ok(s, 0.05, 20) {
		return Viewport{}, false
	}
	return Viewport{T: TypeViewport, X: x, Y: y, W: w, H: h, S: s}, true
}

// FileRequest asks the customer's SDK for a page file the server cannot
// fetch itself (behind the customer's cookies, on an intranet, a blob: URL).
type FileRequest struct {
	T   string `json:"t"`
	ID  int64  `json:"id"`
	URL string `json:"url"`
}

// Simple is a message with only a type (end, resync, reset).
type Simple struct {
	T string `json:"t"`
}

// ErrForbidden means the staff sent a type outside the allow-list.
var ErrForbidden = errors.New("message type not allowed")

// ErrMalformed means the message could not be parsed into an allowed shape.
var ErrMalformed = errors.New("malformed message")

// maxNodeID bounds node ids to what rrweb can produce in a browser.
const maxNodeID = 1 << 31

// ParseStaff validates a staff message against the allow-list and returns a
// freshly built message: fields not in the schema are never forwarded.
func ParseStaff(data []byte) (any, error) {
	var raw staffMessage
	if !raw.pointer(data) {
		raw = staffMessage{}
		if err := json.Unmarshal(data, &raw); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
	}
	switch raw.T {
	case TypePointer:
		if raw.ID == nil {
			return nil, fmt.Errorf("%w: pointer without id", ErrMalformed)
		}
		p := Pointer{T: TypePointer, ID: *raw.ID}
		if p.ID < 0 || p.ID > maxNodeID {
			return nil, fmt.Errorf("%w: pointer id out of range", ErrMalformed)
		}
		if p.ID != 0 {
			if raw.X == nil || raw.Y == nil || !fraction(*raw.X) || !fraction(*raw.Y) {
				return nil, fmt.Errorf("%w: pointer offset must be within [0,1]", ErrMalformed)
			}
			p.X, p.Y = *raw.X, *raw.Y
		}
		return p, nil
	case TypeHighlight:
		if raw.ID == nil || *raw.ID < 0 || *raw.ID > maxNodeID {
			return nil, fmt.Errorf("%w: highlight id", ErrMalformed)
		}
		return Highlight{T: TypeHighlight, ID: *raw.ID}, nil
	case TypeStroke:
		if raw.Kind != StrokeLaser && raw.Kind != StrokePen {
			return nil, fmt.Errorf("%w: stroke kind", ErrMalformed)
		}
		if len(raw.Pts) == 0 || len(raw.Pts) > MaxStrokePoints {
			return nil, fmt.Errorf("%w: a stroke has 1 to %d points", ErrMalformed, MaxStrokePoints)
		}
		st := Stroke{T: TypeStroke, Kind: raw.Kind, Pts: make([][3]float64, 0, len(raw.Pts))}
		for _, p := range raw.Pts {
			if len(p) != 3 || p[0] < 1 || p[0] > maxNodeID || p[0] != math.Trunc(p[0]) || !fraction(p[1]) || !fraction(p[2]) {
				return nil, fmt.Errorf("%w: a stroke point is [node id, x, y] with x and y within [0,1]", ErrMalformed)
			}
			st.Pts = append(st.Pts, [3]float64{p[0], p[1], p[2]})
		}
		return st, nil
	case TypeEnd, TypeResync:
		return Simple{T: raw.T}, nil
	case "":
		return nil, fmt.Errorf("%w: no type", ErrMalformed)
	default:
		return nil, fmt.Errorf("%w: %q", ErrForbidden, truncate(raw.T, 32))
	}
}

// staffMessage is every staff message shape in one.
type staffMessage struct {
	T    string      `json:"t"`
	ID   *int64      `json:"id"`
	X    *float64    `json:"x"`
	Y    *float64    `json:"y"`
	Kind string      `json:"kind"`
	Pts  [][]float64 `json:"pts"`
}

// pointer reads a pointer move written exactly as the console writes it,
// {"t":"pointer","id":N,"x":X,"y":Y}, with what encoding/json would make of
// it; it reports false for anything else, which encoding/json then reads.
// A presenter's pointer moves many times a second.
func (m *staffMessage) pointer(b []byte) bool {
	const head = `{"t":"pointer","id":`
	if !bytes.HasPrefix(b, []byte(head)) || b[len(b)-1] != '}' {
		return false
	}
	b = b[len(head) : len(b)-1]
	n := jsonscan.Number(b)
	id, err := strconv.ParseInt(string(b[:n]), 10, 64)
	if n == 0 || err != nil {
		return false
	}
	b = b[n:]
	var xy [2]float64
	for i, key := range []string{`,"x":`, `,"y":`} {
		if !bytes.HasPrefix(b, []byte(key)) {
			return false
		}
		b = b[len(key):]
		n := jsonscan.Number(b)
		if n == 0 {
			return false
		}
		if xy[i], err = strconv.ParseFloat(string(b[:n]), 64); err != nil {
			return false
		}
		b = b[n:]
	}
	if len(b) != 0 {
		return false
	}
	m.T, m.ID, m.X, m.Y = TypePointer, &id, &xy[0], &xy[1]
	return true
}

func fraction(f float64) bool { return !math.IsNaN(f) && f >= 0 && f <= 1 }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// CleanDevice maps anything but the known device classes to "unknown": the
// value is audited and shown to staff, so it must not carry free text.
func CleanDevice(d string) string {
	switch d {
	case "pc", "tablet", "phone":
		return d
	}
	return "unknown"
}

// CleanPauseReason keeps the reasons a customer page may report; anything
// else becomes "site", since the reason is audited and shown to staff.
func CleanPauseReason(r string) string {
	switch r {
	case "excluded_page", "secure_input", "site", "hidden", "too_large":
		return r
	}
	return "site"
}

// BrowserFromUA names the browser and system of a User-Agent for the staff
// deciding whom to admit ("Safari / iOS"): a few fixed words, never the
// header itself, so nothing a client writes reaches the console verbatim.
func BrowserFromUA(ua string) string {
	var browser string
	switch {
	case strings.Contains(ua, "Edg/"), strings.Contains(ua, "EdgA/"), strings.Contains(ua, "EdgiOS/"):
		browser = "Edge"
	case strings.Contains(ua, "SamsungBrowser/"):
		browser = "Samsung Internet"
	case strings.Contains(ua, "Firefox/"), strings.Contains(ua, "FxiOS/"):
		browser = "Firefox"
	case strings.Contains(ua, "Chrome/"), strings.Contains(ua, "CriOS/"):
		browser = "Chrome"
	case strings.Contains(ua, "Safari/"):
		browser = "Safari"
	default:
		browser = "other"
	}
	var system string
	switch {
	case strings.Contains(ua, "iPhone"), strings.Contains(ua, "iPad"), strings.Contains(ua, "iPod"):
		system = "iOS"
	case strings.Contains(ua, "Android"):
		system = "Android"
	case strings.Contains(ua, "Windows"):
		system = "Windows"
	case strings.Contains(ua, "Mac OS X"), strings.Contains(ua, "Macintosh"):
		system = "macOS"
	case strings.Contains(ua, "CrOS"):
		system = "ChromeOS"
	case strings.Contains(ua, "Linux"):
		system = "Linux"
	default:
		return browser
	}
	return browser + " / " + system
}
