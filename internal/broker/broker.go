// Package broker moves relay messages between the node holding a session's
// customer socket and the node(s) holding its staff sockets. One node uses
// the in-memory broker; a cluster would use NATS subjects of the same names.
package broker

import (
	"context"
	"errors"
	"sync"
)

// Handler receives a published message. It is called on the publisher's
// goroutine (memory) or the broker's (NATS): it must not block and must not
// modify msg. msg is lent for the call: a publisher may reuse it once
// Publish returns, so a handler that keeps it keeps a copy.
type Handler func(msg []byte)

// Broker publishes messages on subjects and delivers them to subscribers.
type Broker interface {
	// Publish delivers msg to the subject's current subscribers. Delivery is
	// at most once; a closed broker returns ErrClosed.
	Publish(ctx context.Context, subject string, msg []byte) error
	// Subscribe registers h for subject until the subscription is cancelled.
	Subscribe(subject string, h Handler) (Subscription, error)
	Close() error
}

// Subscription is cancelled with Unsubscribe; it is safe to call twice.
type Subscription interface {
	Unsubscribe()
}

// ErrClosed is returned after Close.
var ErrClosed = errors.New("broker closed")

// ToStaff and ToCustomer name a session's two directions.
func ToStaff(sessionID string) string    { return "tomoni.s." + sessionID + ".staff" }
func ToCustomer(sessionID string) string { return "tomoni.s." + sessionID + ".customer" }

// Files carries files from a customer's browser to the nodes that asked.
func Files(sessionID string) string { return "tomoni.s." + sessionID + ".files" }

// Memory is the single-node broker.
type Memory struct {
	mu     sync.RWMutex
	subs   map[string]map[*memSub]struct{}
	closed bool
}

var _ Broker = (*Memory)(nil)

// NewMemory returns an empty in-memory broker.
func NewMemory() *Memory { return &Memory{subs: make(map[string]map[*memSub]struct{})} }

type memSub struct {
	b       *Memory
	subject string
	h       Handler
}

// Publish calls each subscriber's handler in turn, on the caller's
// goroutine. Handlers run after the lock is released: a handler may publish
// or (un)subscribe itself, and a Subscribe waiting for the write lock must
// not block a publish made from inside a delivery.
func (m *Memory) Publish(_ context.Context, subject string, msg []byte) error {
	m.mu.RLock()
	if m.closed {
		m.mu.RUnlock()
		return ErrClosed
	}
	set := m.subs[subject]
	var few [4]Handler // a session has a socket or two per subject
	hs := few[:0]
	for s := range set {
		hs = append(hs, s.h)
	}
	m.mu.RUnlock()
	for _, h := range hs {
		h(msg)
	}
	return nil
}

// Subscribe adds a handler for subject.
func (m *Memory) Subscribe(subject string, h Handler) (Subscription, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	s := &memSub{b: m, subject: subject, h: h}
	set := m.subs[subject]
	if set == nil {
		set = make(map[*memSub]struct{})
		m.subs[subject] = set
	}
	set[s] = struct{}{}
	return s, nil
}

func (s *memSub) Unsubscribe() {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	set := s.b.subs[s.subject]
	delete(set, s)
	if len(set) == 0 {
		delete(s.b.subs, s.subject)
	}
}

// Subjects reports how many subjects have subscribers (for leak tests).
func (m *Memory) Subjects() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.subs)
}

// Close stops delivery.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	m.subs = make(map[string]map[*memSub]struct{})
	return nil
}
