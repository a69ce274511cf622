// Package natsbroker carries relay messages between the nodes of a cluster
// over NATS subjects. NATS keeps one publisher's messages to one subject in
// order and delivers at most once; a gap is repaired by the relay's resync.
package natsbroker

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tomoni-cobrowse/tomoni/internal/broker"
)

// Headers of a message sent in parts. A message small enough for one NATS
// payload goes without headers, as it is.
const (
	hdrMsg  = "Tomoni-Msg"  // publisher-unique id of the whole message
	hdrPart = "Tomoni-Part" // "i/n", counted from 0
)

// Config bounds what a broker holds.
type Config struct {
	// MaxMessage is the largest message a subscriber reassembles; larger
	// ones are dropped. Zero is 64 MiB.
	MaxMessage int
	// PendingBytes is how much a subscription may hold undelivered before
	// NATS drops its messages (a stuck handler). Zero is 2×MaxMessage.
	PendingBytes int
}

// Broker publishes on a NATS connection it does not own: the node shares
// the connection with its session state.
type Broker struct {
	nc     *nats.Conn
	cfg    Config
	nextID atomic.Uint64
	prefix string // makes message ids unique among publishers

	mu     sync.Mutex
	subs   map[*sub]struct{}
	closed bool
}

var _ broker.Broker = (*Broker)(nil)

// New returns a broker on nc.
func New(nc *nats.Conn, cfg Config) *Broker {
	if cfg.MaxMessage <= 0 {
		cfg.MaxMessage = 64 << 20
	}
	if cfg.PendingBytes <= 0 {
		cfg.PendingBytes = 2 * cfg.MaxMessage
	}
	return &Broker{
		nc:     nc,
		cfg:    cfg,
		prefix: nats.NewInbox()[len(nats.InboxPrefix):] + ".",
		subs:   make(map[*sub]struct{}),
	}
}

// partSize leaves room for the headers under the server's payload limit.
func (b *Broker) partSize() int {
	n := int(b.nc.MaxPayload()) - 256
	if n < 1024 {
		n = 1024
	}
	return n
}

// Publish sends msg, in parts when it exceeds the server's payload limit.
// While NATS is unreachable the client buffers what it can and the rest is
// lost: the relay's resync repairs the gap.
func (b *Broker) Publish(_ context.Context, subject string, msg []byte) error {
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	if closed {
		return broker.ErrClosed
	}
	size := b.partSize()
	if len(msg) <= size {
		return b.wrap(b.nc.Publish(subject, msg))
	}
	id := b.prefix + strconv.FormatUint(b.nextID.Add(1), 36)
	n := (len(msg) + size - 1) / size
	for i := range n {
		part := msg[i*size : min(len(msg), (i+1)*size)]
		m := &nats.Msg{Subject: subject, Data: part, Header: nats.Header{}}
		m.Header.Set(hdrMsg, id)
		m.Header.Set(hdrPart, strconv.Itoa(i)+"/"+strconv.Itoa(n))
		if err := b.wrap(b.nc.PublishMsg(m)); err != nil {
			return err
		}
	}
	return nil
}

func (b *Broker) wrap(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, nats.ErrConnectionClosed):
		return fmt.Errorf("%w: %v", broker.ErrClosed, err)
	default:
		return fmt.Errorf("nats publish: %w", err)
	}
}

// Subscribe registers h. It returns once the server knows of the
// subscription (when NATS is reachable), so a reply to a message published
// after it cannot be missed.
func (b *Broker) Subscribe(subject string, h broker.Handler) (broker.Subscription, error) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, broker.ErrClosed
	}
	s := &sub{b: b, h: h, max: b.cfg.MaxMessage}
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	ns, err := b.nc.Subscribe(subject, s.deliver)
	if err != nil {
		b.forget(s)
		return nil, b.wrap(err)
	}
	b.mu.Lock()
	if _, ok := b.subs[s]; !ok {
		// Close came meanwhile and could not end this subscription yet.
		b.mu.Unlock()
		ns.Unsubscribe()
		return nil, broker.ErrClosed
	}
	s.ns = ns
	b.mu.Unlock()
	if err := ns.SetPendingLimits(-1, b.cfg.PendingBytes); err != nil {
		ns.Unsubscribe()
		b.forget(s)
		return nil, fmt.Errorf("nats subscribe %s: %w", subject, err)
	}
	// While NATS is away the client resubscribes by itself on reconnect;
	// only a closed connection is an error here.
	if err := b.nc.FlushTimeout(2 * time.Second); errors.Is(err, nats.ErrConnectionClosed) {
		ns.Unsubscribe()
		b.forget(s)
		return nil, b.wrap(err)
	}
	return s, nil
}

func (b *Broker) forget(s *sub) {
	b.mu.Lock()
	delete(b.subs, s)
	b.mu.Unlock()
}

// Subjects reports how many subscriptions are open (for leak tests).
func (b *Broker) Subjects() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}

// Close ends every subscription; the connection stays open for its owner.
func (b *Broker) Close() error {
	b.mu.Lock()
	b.closed = true
	subs := b.subs
	b.subs = make(map[*sub]struct{})
	b.mu.Unlock()
	for s := range subs {
		s.Unsubscribe()
	}
	return nil
}

// sub reassembles messages sent in parts. NATS calls deliver on one
// goroutine per subscription, so the partial messages need no lock.
type sub struct {
	b    *Broker
	ns   *nats.Subscription // guarded by b.mu
	h    broker.Handler
	max  int
	once sync.Once

	partial map[string]*partial
	held    int // bytes in partial
}

type partial struct {
	next, n int
	buf     []byte
}

// maxPartial bounds messages being reassembled at once per subscription:
// publishers of one subject are few (a customer socket, a file request).
const maxPartial = 8

func (s *sub) deliver(m *nats.Msg) {
	id := m.Header.Get(hdrMsg)
	if id == "" {
		s.h(m.Data)
		return
	}
	i, n, ok := parsePart(m.Header.Get(hdrPart))
	if !ok {
		return
	}
	if s.partial == nil {
		s.partial = make(map[string]*partial)
	}
	p := s.partial[id]
	if p == nil {
		if i != 0 || len(s.partial) >= maxPartial {
			return // its start was lost, or too many at once: at most once
		}
		p = &partial{n: n}
		s.partial[id] = p
	}
	if i != p.next || n != p.n || len(p.buf)+len(m.Data) > s.max {
		s.drop(id, p)
		return
	}
	p.buf = append(p.buf, m.Data...)
	s.held += len(m.Data)
	p.next++
	if p.next == p.n {
		s.drop(id, p)
		s.h(p.buf)
	}
}

func (s *sub) drop(id string, p *partial) {
	s.held -= len(p.buf)
	delete(s.partial, id)
}

func parsePart(v string) (i, n int, ok bool) {
	for k := 0; k < len(v); k++ {
		if v[k] == '/' {
			a, err1 := strconv.Atoi(v[:k])
			b, err2 := strconv.Atoi(v[k+1:])
			return a, b, err1 == nil && err2 == nil && a >= 0 && b > a
		}
	}
	return 0, 0, false
}

// Unsubscribe stops delivery; it is safe to call twice.
func (s *sub) Unsubscribe() {
	s.once.Do(func() {
		s.b.mu.Lock()
		ns := s.ns // set under the lock by Subscribe, which Close may overtake
		s.b.mu.Unlock()
		if ns != nil {
			ns.Unsubscribe()
		}
		s.b.forget(s)
	})
}
