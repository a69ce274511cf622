package relay

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tomoni-cobrowse/tomoni/internal/protocol"
)

// bigSnapshot is an events message holding one full snapshot of a page
// with a text of n bytes (a long statement): one event larger than a frame.
func bigSnapshot(n int) []byte {
	line := "明細 2026-11-29 振込 ¥1,234 "
	text := strings.Repeat(line, n/len(line)+1)
	ev := `{"type":2,"timestamp":1,"data":{"node":{"type":0,"id":1,"childNodes":[{"type":2,"id":2,"tagName":"html","attributes":{},"childNodes":[{"type":2,"id":3,"tagName":"body","attributes":{},"childNodes":[{"type":2,"id":4,"tagName":"p","attributes":{},"childNodes":[{"type":3,"id":5,"textContent":` + mustJSONString(text) + `}]}]}]}]},"initialOffset":{"left":0,"top":0}}}`
	b, _ := json.Marshal(map[string]any{"t": "events", "ct": time.Now().UnixMilli(), "events": []json.RawMessage{json.RawMessage(ev)}})
	return b
}

func mustJSONString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// sendParts sends msg as parts of at most size bytes, cut on rune
// boundaries as the SDK cuts on UTF-16 ones.
func sendParts(t testing.TB, c *websocket.Conn, msg []byte, size int) int {
	t.Helper()
	s := string(msg)
	n := 0
	for len(s) > 0 {
		cut := min(size, len(s))
		for cut < len(s) && !utf8RuneStart(s[cut]) {
			cut--
		}
		send(t, c, map[string]any{"t": "part", "seq": n, "last": cut == len(s), "part": s[:cut]})
		s = s[cut:]
		n++
	}
	return n
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// A page too large for one frame goes in parts; the server joins them,
// filters the whole and relays it to staff as one batch.
func TestALargePageArrivesInParts(t *testing.T) {
	f := newFixture(t, Config{MaxCustomerMessage: 1 << 20})
	cu := f.customer()
	readType(t, cu, "state")
	st := f.staff()
	readType(t, st, "state")
	// 3 MB, three times the 1 MiB a message may carry here
	// (BenchmarkLargePage sends 10 MB through the default caps).
	msg := bigSnapshot(3 << 20)
	if parts := sendParts(t, cu, msg, 256<<10); parts < 10 {
		t.Fatalf("a 3 MB page went in %d parts", parts)
	}
	got := readTypeWithin(t, st, "events", time.Minute)
	evs := got["events"].([]any)
	b, _ := json.Marshal(evs[0])
	if len(evs) != 1 || len(b) < 3<<20 || !strings.Contains(string(b), "明細 2026-11-29") {
		t.Fatalf("staff got %d events, %d bytes", len(evs), len(b))
	}
	// The socket goes on: an ordinary batch after it flows as before.
	send(t, cu, events("after"))
	if m := readType(t, st, "events"); !strings.Contains(mustMarshal(t, m), "after") {
		t.Fatalf("after the page: %v", m)
	}
}

func mustMarshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Parts out of order, parts that join into something else than events and
// a page above the cap are refused with a clear close, and nothing of them
// reaches staff.
func TestPagePartsAreChecked(t *testing.T) {
	for _, c := range []struct {
		name string
		send func(t *testing.T, c *websocket.Conn)
		want websocket.StatusCode
	}{
		{"out of order", func(t *testing.T, c *websocket.Conn) {
			send(t, c, map[string]any{"t": "part", "seq": 0, "part": `{"t":"ev`})
			send(t, c, map[string]any{"t": "part", "seq": 2, "part": `ents"}`})
		}, protocol.CloseMalformed},
		{"not events", func(t *testing.T, c *websocket.Conn) {
			send(t, c, map[string]any{"t": "part", "seq": 0, "part": `{"t":"end"`})
			send(t, c, map[string]any{"t": "part", "seq": 1, "last": true, "part": `}`})
		}, protocol.CloseMalformed},
		{"empty part", func(t *testing.T, c *websocket.Conn) {
			send(t, c, map[string]any{"t": "part", "seq": 0, "part": ``})
		}, protocol.CloseMalformed},
		{"above the page cap", func(t *testing.T, c *websocket.Conn) {
			sendParts(t, c, bigSnapshot(3<<20), 512<<10)
		}, protocol.CloseTooLarge},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, Config{MaxCustomerMessage: 1 << 20, MaxPageBytes: 2 << 20})
			cu := f.customer()
			readType(t, cu, "state")
			c.send(t, cu)
			if got := closeCode(t, cu); got != c.want {
				t.Fatalf("closed with %d, want %d", got, c.want)
			}
		})
	}
}

// BenchmarkLargePage measures a 10 MB page's snapshot, sent in parts of
// 512 KiB over loopback WebSockets, until the staff socket has read it.
func BenchmarkLargePage(b *testing.B) {
	// No byte budget here: it would hold back every page after the third.
	f := newFixture(b, Config{CustomerBytesRate: 1 << 30})
	cu := f.customer()
	readType(b, cu, "state")
	st := f.staff()
	readType(b, st, "state")
	msg := bigSnapshot(10 << 20)
	b.SetBytes(int64(len(msg)))
	b.ResetTimer()
	for b.Loop() {
		sendParts(b, cu, msg, 512<<10)
		readTypeWithin(b, st, "events", time.Minute)
	}
}
