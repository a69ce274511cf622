package relay

import (
	"context"
	"sync"
	"time"

	"github.com/tomoni-cobrowse/tomoni/internal/ratelimit"
)

// departures records in the session state that a session's last socket
// of one side left this node. When thousands go at once (a node restart,
// a network cut) the records are written at a pace, so the sessions still
// live keep their share of the machine; the grace period, a minute,
// starts a moment later for some. A side that came back meanwhile is not
// marked gone.
type departures struct {
	r    *Relay
	pace *ratelimit.Bucket

	mu      sync.Mutex
	queue   []departure
	queued  map[departure]bool
	wake    chan struct{}
	stopped chan struct{}
	stopOne sync.Once
	idle    *sync.Cond // broadcast when the queue is empty
}

type departure struct {
	session  string
	customer bool
}

// departurePace is how many departures a second are written when many
// come at once, after a burst written at once.
const (
	departureRate  = 200
	departureBurst = 50
)

func newDepartures(r *Relay) *departures {
	d := &departures{
		r: r, pace: ratelimit.NewBucket(departureRate, departureBurst, nil),
		queued: make(map[departure]bool), wake: make(chan struct{}, 1), stopped: make(chan struct{}),
	}
	d.idle = sync.NewCond(&d.mu)
	go d.run()
	return d
}

// add queues the departure of a session's side; it never blocks.
func (d *departures) add(session string, customer bool) {
	k := departure{session, customer}
	d.mu.Lock()
	if !d.queued[k] {
		d.queued[k] = true
		d.queue = append(d.queue, k)
	}
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func (d *departures) run() {
	for {
		d.mu.Lock()
		if len(d.queue) == 0 {
			d.idle.Broadcast()
			d.mu.Unlock()
			select {
			case <-d.wake:
				continue
			case <-d.stopped:
				return
			}
		}
		k := d.queue[0]
		d.queue = d.queue[1:]
		delete(d.queued, k)
		d.mu.Unlock()
		if wait, ok := d.pace.Debit(1, time.Minute); ok && wait > 0 {
			time.Sleep(wait)
		}
		if d.r.gone(k.session, k.customer) {
			d.r.sessions.SetConnected(k.session, k.customer, false)
		}
	}
}

// flush waits until every queued departure is written, or ctx ends.
func (d *departures) flush(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		d.mu.Lock()
		for len(d.queue) > 0 {
			d.idle.Wait()
		}
		d.mu.Unlock()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// stop ends the worker (what is still queued is dropped).
func (d *departures) stop() { d.stopOne.Do(func() { close(d.stopped) }) }

// gone reports whether a session's side has no socket on this node now.
func (r *Relay) gone(session string, customer bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if customer {
		return r.customers[session] == nil
	}
	return len(r.staff[session]) == 0
}
