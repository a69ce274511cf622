package assets

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Files only the customer's browser can read (behind the customer's own
// cookies, on an intranet, blob: URLs) are asked of the customer's SDK,
// which reads them in the page and sends them over its socket. They live
// in the session's memory only and go with it.

// Asker sends a file request to a session's customer; the relay provides it.
type Asker func(sessionID string, id int64, url string) error

// ErrNoCustomerFile means the customer's browser could not or would not
// send the file.
var ErrNoCustomerFile = errors.New("the customer's browser did not send the file")

// customerFiles is one session's files from the customer's browser and the
// requests still waiting for an answer.
type customerFiles struct {
	mu      sync.Mutex
	nextID  int64
	waiting map[int64]chan file
	byURL   map[string]file
	bytes   int64
}

func newCustomerFiles() *customerFiles {
	return &customerFiles{waiting: make(map[int64]chan file), byURL: make(map[string]file)}
}

// askCustomer gets raw from the customer's browser, waiting at most
// CustomerWait; answers are kept for the session within CustomerBytes.
func (s *Service) askCustomer(ctx context.Context, sessionID string, reg *registry, raw string) (file, error) {
	s.mu.Lock()
	ask := s.ask
	s.mu.Unlock()
	if ask == nil {
		return file{}, ErrNoCustomerFile
	}
	cf := reg.customer
	cf.mu.Lock()
	if f, ok := cf.byURL[raw]; ok {
		cf.mu.Unlock()
		return f, nil
	}
	if len(cf.waiting) >= maxWaitingFiles {
		cf.mu.Unlock()
		return file{}, ErrNoCustomerFile
	}
	cf.nextID++
	id := cf.nextID
	ch := make(chan file, 1)
	cf.waiting[id] = ch
	cf.mu.Unlock()
	defer func() {
		cf.mu.Lock()
		delete(cf.waiting, id)
		cf.mu.Unlock()
	}()
	if err := ask(sessionID, id, raw); err != nil {
		return file{}, err
	}
	t := time.NewTimer(s.cfg.CustomerWait)
	defer t.Stop()
	select {
	case f := <-ch:
		if f.body == nil {
			return file{}, ErrNoCustomerFile
		}
		f.url = raw
		cf.mu.Lock()
		if cf.bytes+int64(len(f.body)) <= s.cfg.CustomerBytes {
			cf.byURL[raw] = f
			cf.bytes += int64(len(f.body))
		}
		cf.mu.Unlock()
		return f, nil
	case <-t.C:
		return file{}, ErrNoCustomerFile
	case <-ctx.Done():
		return file{}, ctx.Err()
	}
}

// maxWaitingFiles bounds the requests one session has out at once.
const maxWaitingFiles = 16

// SetAsker connects the service to the customers' sockets.
func (s *Service) SetAsker(a Asker) {
	s.mu.Lock()
	s.ask = a
	s.mu.Unlock()
}

// Deliver hands the customer's answer to request id of a session: the
// file's type and bytes, or nil bytes when the browser could not read it.
// Answers nobody waits for, or of a type a page may not use, are dropped.
func (s *Service) Deliver(sessionID string, id int64, ctype string, body []byte) {
	reg := s.registry(sessionID)
	if reg == nil {
		return
	}
	if body != nil && (!allowedType(ctype) || int64(len(body)) > s.cfg.Fetch.MaxBytes) {
		body = nil
	}
	cf := reg.customer
	cf.mu.Lock()
	ch := cf.waiting[id]
	cf.mu.Unlock()
	if ch == nil {
		return
	}
	select {
	case ch <- file{ctype: ctype, body: body}:
	default:
	}
}
