package ratelimit

import (
	"testing"
	"time"
)

func TestPaceAllowsABurstOfMessagesThenRefills(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	p := NewPace(2, 3, 1000, 1000, clk.Now)
	for i := range 3 {
		if !p.Message() {
			t.Fatalf("message %d refused within the burst", i)
		}
	}
	if p.Message() {
		t.Fatal("fourth message allowed beyond the burst")
	}
	clk.Add(500 * time.Millisecond) // one message's worth at 2/s
	if !p.Message() {
		t.Fatal("refused after a refill")
	}
	if p.Message() {
		t.Fatal("allowed more than was refilled")
	}
	// A long silence refills up to the burst, not beyond.
	clk.Add(time.Hour)
	for i := range 3 {
		if !p.Message() {
			t.Fatalf("message %d refused after a long silence", i)
		}
	}
	if p.Message() {
		t.Fatal("a long silence earned more than the burst")
	}
}

func TestPaceBytesGoIntoDebtAndSayHowLongToWait(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	p := NewPace(100, 100, 1000, 2000, clk.Now)
	p.Message()
	if wait, ok := p.Bytes(1500, time.Second); !ok || wait != 0 {
		t.Fatalf("1500 of a 2000-byte burst: wait %v ok %v, want no wait", wait, ok)
	}
	// 500 left; 1000 more is 500 in debt: half a second at 1000 B/s.
	wait, ok := p.Bytes(1000, time.Second)
	if !ok || wait < 500*time.Millisecond || wait > 501*time.Millisecond {
		t.Fatalf("500 B of debt at 1000 B/s: wait %v ok %v, want 0.5 s", wait, ok)
	}
	// Already 500 in debt: another 1000 would be a 1.5 s wait, over the
	// limit, and is refused without being charged.
	if _, ok := p.Bytes(1000, time.Second); ok {
		t.Fatal("a wait over the limit was accepted")
	}
	if wait, ok := p.Bytes(0, time.Second); !ok || wait < 500*time.Millisecond || wait > 501*time.Millisecond {
		t.Fatalf("the refused message was charged: the debt now needs %v", wait)
	}
	// More than the burst can never be paid.
	clk.Add(time.Hour)
	p.Message()
	if _, ok := p.Bytes(2001, time.Hour); ok {
		t.Fatal("a message larger than the byte burst was accepted")
	}
	if wait, ok := p.Bytes(2000, 0); !ok || wait != 0 {
		t.Fatalf("a full budget refused its whole burst: wait %v ok %v", wait, ok)
	}
}

// Bytes are charged as of the message's arrival: time spent handling it
// earns no refill.
func TestPaceChargesBytesAsOfTheMessage(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	p := NewPace(100, 100, 1000, 1000, clk.Now)
	p.Message()
	p.Bytes(1000, 0)
	clk.Add(time.Second)
	if wait, ok := p.Bytes(1000, 2*time.Second); !ok || wait < time.Second {
		t.Fatalf("the handling time refilled the budget: wait %v ok %v", wait, ok)
	}
}

func BenchmarkPace(b *testing.B) {
	p := NewPace(50, 100, 1<<20, 4<<20, nil)
	for b.Loop() {
		if !p.Message() {
			p.msgs.tokens = p.msgs.burst
		}
		if _, ok := p.Bytes(300, time.Second); !ok {
			p.bytes.tokens = p.bytes.burst
		}
	}
}

func BenchmarkBucketPair(b *testing.B) {
	msgs, bytes := NewBucket(50, 100, nil), NewBucket(1<<20, 4<<20, nil)
	for b.Loop() {
		msgs.Allow()
		bytes.Debit(300, time.Second)
	}
}
