package relay

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// A compressed message is capped at what it inflates to: a few KB on the
// wire that would grow past the message cap are refused (1009) where they
// are read, not parsed.
func TestCompressedMessagesAreCappedInflated(t *testing.T) {
	f := newFixture(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cu, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(f.srv.URL, "http")+"/customer?token="+f.token,
		&websocket.DialOptions{CompressionMode: websocket.CompressionNoContextTakeover, CompressionThreshold: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer cu.CloseNow()
	readType(t, cu, "state")
	big, _ := json.Marshal(events(strings.Repeat("a", int(f.relay.cfg.MaxCustomerMessage))))
	if err := cu.Write(ctx, websocket.MessageText, big); err != nil {
		t.Fatal(err)
	}
	for {
		if _, _, err := cu.Read(ctx); err != nil {
			if got := websocket.CloseStatus(err); got != websocket.StatusMessageTooBig {
				t.Fatalf("closed with %v (%d), want %d", err, got, websocket.StatusMessageTooBig)
			}
			return
		}
	}
}

// A customer sending more bytes a second than its budget is read more
// slowly (TCP back-pressure), not faster than the budget refills. A message
// is relayed, then paid for, so 6 messages of 200 KB with a 256 KiB burst at
// 512 KiB/s take at least the time to pay for the first five beyond the
// burst: (1,000,500 − 262,144) / 524,288 ≈ 1.4 s (without the budget, a few
// ms). A lower bound: a slow machine cannot make this fail.
func TestCustomerBytesAreThrottled(t *testing.T) {
	f := newFixture(t, Config{MaxCustomerMessage: 256 << 10, CustomerBytesBurst: 256 << 10, CustomerBytesRate: 512 << 10})
	st := f.staff()
	readType(t, st, "state")
	cu := f.customer()
	readType(t, cu, "state")
	payload := strings.Repeat("x", 200_000)
	start := time.Now()
	go func() {
		for range 6 {
			b, _ := json.Marshal(events(payload))
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			cu.Write(ctx, websocket.MessageText, b)
			cancel()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for got := 0; got < 6; {
		_, b, err := st.Read(ctx)
		if err != nil {
			t.Fatalf("after %d messages: %v", got, err)
		}
		if strings.HasPrefix(string(b), `{"t":"events"`) {
			got++
		}
	}
	if took := time.Since(start); took < 1300*time.Millisecond {
		t.Fatalf("6 × 200 KB relayed in %s: the byte budget did not slow the sender", took)
	}
}

// BenchmarkLatencyBesideAnAbuser measures one ordinary session's relay
// latency (customer send → staff receive, a typical 1.3 KB batch every
// 25 ms, within the message rate) while, in abuse=1, another session's customer sends 4 MiB
// snapshots that compress to a few KB as fast as its socket is read.
// It reports p50 and p99 in ms; docs/benchmarks.md records them.
func BenchmarkLatencyBesideAnAbuser(b *testing.B) {
	for _, tc := range []struct {
		name      string
		abuse     bool
		unlimited bool // no byte budget, as before it existed
	}{{"alone", false, false}, {"beside_abuser", true, false}, {"beside_abuser_no_byte_budget", true, true}} {
		abuse := tc.abuse
		b.Run(tc.name, func(b *testing.B) {
			cfg := Config{QueueMessages: 4096, QueueBytes: 1 << 30}
			if tc.unlimited {
				cfg.CustomerBytesRate, cfg.CustomerBytesBurst = 1<<40, 1<<40
			}
			f := newFixture(b, cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			if abuse {
				bad := f.joinAnother()
				ab, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(f.srv.URL, "http")+"/customer?token="+bad.token,
					&websocket.DialOptions{CompressionMode: websocket.CompressionNoContextTakeover, CompressionThreshold: 1})
				if err != nil {
					b.Fatal(err)
				}
				defer ab.CloseNow()
				go drain(ctx, ab)
				snap, _ := json.Marshal(events(strings.Repeat("a", int(f.relay.cfg.MaxCustomerMessage)-1024)))
				go func() {
					for ctx.Err() == nil {
						if ab.Write(ctx, websocket.MessageText, snap) != nil {
							return
						}
					}
				}()
			}
			st := f.dial("/staff?id=" + f.sess.ID)
			// The console hears the session's state once it is subscribed:
			// a batch sent before that would never reach it.
			readType(b, st, "state")
			cu := f.customer()
			go drain(ctx, cu)
			msg := typicalBatch()
			var lat []time.Duration
			b.ResetTimer()
			for range b.N {
				for range 20 {
					start := time.Now()
					if err := cu.Write(ctx, websocket.MessageText, msg); err != nil {
						b.Fatal(err)
					}
					for {
						_, m, err := st.Read(ctx)
						if err != nil {
							b.Fatal(err)
						}
						if strings.HasPrefix(string(m), `{"t":"events"`) {
							break
						}
					}
					lat = append(lat, time.Since(start))
					time.Sleep(25 * time.Millisecond)
				}
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50_ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99_ms")
		})
	}
}

// drain reads and drops what the server sends, which also answers its pings.
func drain(ctx context.Context, c *websocket.Conn) {
	for {
		if _, _, err := c.Read(ctx); err != nil {
			return
		}
	}
}

// Staff hear the round trip of the customer's socket and of their own, for
// the console's connection badge.
func TestStaffHearBothLinksRoundTrips(t *testing.T) {
	f := newFixture(t, Config{PingInterval: 100 * time.Millisecond})
	st := f.staff()
	cu := f.customer()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go drain(ctx, cu) // a customer page answers pings while it reads
	seen := map[string]bool{}
	for !seen["customer"] || !seen["staff"] {
		_, b, err := st.Read(ctx)
		if err != nil {
			t.Fatalf("heard %v before %v", seen, err)
		}
		var m struct {
			T     string `json:"t"`
			Side  string `json:"side"`
			RTTMS *int64 `json:"rtt_ms"`
		}
		json.Unmarshal(b, &m)
		if m.T == "link" {
			if m.RTTMS == nil || *m.RTTMS < 0 {
				t.Fatalf("link message without a round trip: %s", b)
			}
			seen[m.Side] = true
		}
	}
}
