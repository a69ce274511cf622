package ratelimit

import "time"

// Pace bounds what one socket sends: messages per second and bytes per
// second, each a token bucket. It is read only by the goroutine that reads
// the socket, so it takes no lock, and it reads the clock once per message
// for both budgets: on a busy relay these checks run for every message,
// and Bucket's locked limiter cost four times as much for the same answer.
type Pace struct {
	now   func() time.Time
	at    time.Time // when the budgets were last brought up to date
	msgs  bucket
	bytes bucket
}

// bucket is a token bucket without a clock of its own: Pace advances both.
type bucket struct {
	rate, burst, tokens float64
}

func (b *bucket) advance(d time.Duration) {
	if d > 0 {
		b.tokens = min(b.burst, b.tokens+d.Seconds()*b.rate)
	}
}

// NewPace returns full budgets: msgRate messages a second up to msgBurst,
// byteRate bytes a second up to byteBurst.
func NewPace(msgRate float64, msgBurst int, byteRate float64, byteBurst int, now func() time.Time) *Pace {
	if now == nil {
		now = time.Now
	}
	return &Pace{
		now:   now,
		at:    now(),
		msgs:  bucket{rate: msgRate, burst: float64(msgBurst), tokens: float64(msgBurst)},
		bytes: bucket{rate: byteRate, burst: float64(byteBurst), tokens: float64(byteBurst)},
	}
}

// Message takes one message from the budget, reporting false (and taking
// nothing) when there is none left.
func (p *Pace) Message() bool {
	now := p.now()
	d := now.Sub(p.at)
	p.at = now
	p.msgs.advance(d)
	p.bytes.advance(d)
	if p.msgs.tokens < 1 {
		return false
	}
	p.msgs.tokens--
	return true
}

// Bytes takes n bytes, going into debt when there are too few, and says
// how long the caller must wait until the debt is paid. When that would be
// longer than max, or n exceeds the burst, it takes nothing and reports
// false. It counts time only up to the last Message: a message's bytes are
// charged as of its arrival, so handling it never earns it a refill.
func (p *Pace) Bytes(n int, max time.Duration) (time.Duration, bool) {
	if float64(n) > p.bytes.burst {
		return 0, false
	}
	left := p.bytes.tokens - float64(n)
	var wait time.Duration
	if left < 0 {
		if p.bytes.rate <= 0 {
			return 0, false
		}
		// Rounded up, so that after the wait the debt is paid.
		wait = time.Duration(-left / p.bytes.rate * float64(time.Second))
		wait++
	}
	if wait > max {
		return 0, false
	}
	p.bytes.tokens = left
	return wait, true
}
