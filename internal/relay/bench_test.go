package relay

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tomoni-cobrowse/tomoni/internal/broker"
	"github.com/tomoni-cobrowse/tomoni/internal/privacy"
	"github.com/tomoni-cobrowse/tomoni/internal/session/sessiontest"
	"github.com/tomoni-cobrowse/tomoni/internal/streamdeflate"
)

// typicalBatch is a 50 ms batch during live use: mouse positions, a scroll
// and a small DOM mutation (about 1.3 KB).
func typicalBatch() []byte {
	evs := []string{
		`{"type":3,"data":{"source":1,"positions":[{"x":412,"y":233,"id":52,"timeOffset":-40},{"x":418,"y":236,"id":52,"timeOffset":-20},{"x":425,"y":240,"id":52,"timeOffset":0}]},"timestamp":1795784882790}`,
		`{"type":3,"data":{"source":3,"id":1,"x":0,"y":640},"timestamp":1795784882791}`,
		`{"type":3,"data":{"source":0,"texts":[],"attributes":[{"id":88,"attributes":{"class":"card open","aria-expanded":"true"}}],"removes":[],"adds":[{"parentId":88,"nextId":null,"node":{"type":2,"tagName":"p","attributes":{"class":"answer"},"childNodes":[],"id":412}},{"parentId":412,"nextId":null,"node":{"type":3,"textContent":"担当者に見えるのは、このサイトを表示しているブラウザのタブだけです。","id":413}}]},"timestamp":1795784882795}`,
		`{"type":3,"data":{"source":2,"type":1,"id":52,"x":425,"y":240,"pointerType":0},"timestamp":1795784882799}`,
		`{"type":3,"data":{"source":5,"text":"••••••","isChecked":false,"id":61},"timestamp":1795784882801}`,
	}
	return []byte(`{"t":"events","ct":1795784882810,"events":[` + strings.Join(evs, ",") + `]}`)
}

// BenchmarkRelayPath measures the server's work per customer message: parse,
// stamp, publish through the broker, enqueue for one staff console.
func BenchmarkRelayPath(b *testing.B) {
	br := broker.NewMemory()
	m := mustManager(b)
	r, err := New(withDefaults(Config{QueueMessages: 1 << 20, QueueBytes: 1 << 40}), m, mustAssets(b), br, prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	s, _ := m.Create(1, "A")
	s, _, _ = sessiontest.Join(m, s.Code, "pc")
	wake := make(chan struct{}, 1)
	q := newOutQueue(1<<20, 1<<40, func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	})
	sub, _ := br.Subscribe(broker.ToStaff(s.ID), func(msg []byte) { q.push(item{data: bytes.Clone(msg)}) })
	defer sub.Unsubscribe()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-wake:
			}
			for {
				if _, ok := q.next(); !ok {
					break
				}
			}
		}
	}()
	// The demo bank's first page as the load tool replays it: its meta
	// and full snapshot, which the filter and the rewriter both read.
	visit, err := os.ReadFile("../../cmd/tomoni-bench/testdata/demo-stream.jsonl")
	if err != nil {
		b.Fatal(err)
	}
	page, rest, _ := bytes.Cut(visit, []byte("\n"))
	// Most of a visit's batches: one mouse position (156 B).
	mouseMove, _, _ := bytes.Cut(rest, []byte("\n"))
	for _, c := range []struct {
		name string
		msg  []byte
	}{{"typical", typicalBatch()}, {"mousemove", mouseMove}, {"snapshot", page}} {
		b.Run(c.name, func(b *testing.B) {
			filter := privacy.NewFilter(r.cfg.Policy)
			rewriter, err := r.assets.Rewriter(s.ID)
			if err != nil {
				b.Fatal(err)
			}
			cs := r.newCustomerSocket(s.ID, filter, rewriter)
			b.SetBytes(int64(len(c.msg)))
			b.ReportAllocs()
			start := time.Now()
			for b.Loop() {
				if err := r.handleCustomer(ctx, cs, c.msg); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
		})
	}
}

// BenchmarkRelayWebSocket measures a customer message over real loopback
// WebSockets until the staff socket has read it: a console on the
// compressed stream, as browsers have it, and one on text frames with the
// library's compression.
func BenchmarkRelayWebSocket(b *testing.B) {
	for _, stream := range []bool{true, false} {
		name := "text"
		if stream {
			name = "stream"
		}
		b.Run(name, func(b *testing.B) {
			f := newFixture(b, Config{CustomerRate: 1e9, CustomerBurst: 1 << 30})
			cu := f.customer()
			var st *websocket.Conn
			var inflate *streamdeflate.Reader
			if stream {
				st, inflate = dialStream(b, f, new(atomic.Int64)), new(streamdeflate.Reader)
			} else {
				st = f.staff()
			}
			ctx := context.Background()
			readUntil := func(typ string) {
				for {
					_, data, err := st.Read(ctx)
					if err == nil && inflate != nil {
						data, err = inflate.Next(data)
					}
					if err != nil {
						b.Fatal(err)
					}
					var env struct{ T string }
					json.Unmarshal(data, &env)
					if env.T == typ {
						return
					}
				}
			}
			// The console's first message comes once its subscription is in
			// place; a batch sent before that would reach no one.
			readUntil("state")
			msg := typicalBatch()
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for b.Loop() {
				if err := cu.Write(ctx, websocket.MessageText, msg); err != nil {
					b.Fatal(err)
				}
				readUntil("events")
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
		})
	}
}

// BenchmarkStaffPointer measures the server's work per staff pointer move
// (a console sends one every few tens of milliseconds while the staff
// point): parse against the allow-list, check who presents, rebuild,
// publish to the customer.
func BenchmarkStaffPointer(b *testing.B) {
	br := broker.NewMemory()
	m := mustManager(b)
	r, err := New(withDefaults(Config{}), m, mustAssets(b), br, prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	s, _ := m.Create(1, "A")
	s, _, _ = sessiontest.Join(m, s.Code, "pc")
	got := 0
	sub, _ := br.Subscribe(broker.ToCustomer(s.ID), func([]byte) { got++ })
	defer sub.Unsubscribe()
	msg := []byte(`{"t":"pointer","id":52,"x":0.25,"y":0.75}`)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := r.handleStaff(ctx, s.ID, 1, msg); err != nil {
			b.Fatal(err)
		}
	}
	if got == 0 {
		b.Fatal("no pointer reached the customer")
	}
}
