package assets

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tomoni-cobrowse/tomoni/internal/broker"
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

// customerFiles is one session's files from the customer's browser that
// this node asked for, and its requests still waiting for an answer.
type customerFiles struct {
	mu      sync.Mutex
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
	// Ids are random: several nodes may ask the same customer at once,
	// and the answer reaches all of them.
	id := randomID()
	ch := make(chan file, 1)
	cf.waiting[id] = ch
	cf.mu.Unlock()
	defer func() {
		cf.mu.Lock()
		delete(cf.waiting, id)
		cf.mu.Unlock()
	}()
	sub, err := s.files.Subscribe(broker.Files(sessionID), func(msg []byte) {
		if got, f, ok := decodeFile(msg); ok && got == id {
			select {
			case ch <- f:
			default:
			}
		}
	})
	if err != nil {
		return file{}, fmt.Errorf("customer file: %w", err)
	}
	defer sub.Unsubscribe()
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

// Deliver hands the customer's answer to request id of a session (the
// file's type and bytes, or nil bytes when the browser could not read it)
// to the node that asked, which may be another. Answers nobody waits for,
// or of a type a page may not use, are dropped.
func (s *Service) Deliver(sessionID string, id int64, ctype string, body []byte) {
	if body != nil && (!allowedType(ctype) || int64(len(body)) > s.cfg.Fetch.MaxBytes) {
		body = nil
	}
	if err := s.files.Publish(context.Background(), broker.Files(sessionID), encodeFile(id, ctype, body)); err != nil {
		s.log.Warn("customer file not passed on", "session", sessionID, "err", err)
	}
}

// randomID draws a request id that JavaScript numbers hold exactly.
func randomID() int64 {
	var b [8]byte
	rand.Read(b[:])
	return int64(binary.BigEndian.Uint64(b[:]) >> 11)
}

// encodeFile frames an answer: id, whether the browser read it, its type,
// its bytes.
func encodeFile(id int64, ctype string, body []byte) []byte {
	out := make([]byte, 0, 11+len(ctype)+len(body))
	out = binary.BigEndian.AppendUint64(out, uint64(id))
	read := byte(0)
	if body != nil {
		read = 1
	}
	out = append(out, read)
	out = binary.BigEndian.AppendUint16(out, uint16(min(len(ctype), 1<<16-1)))
	out = append(out, ctype[:min(len(ctype), 1<<16-1)]...)
	return append(out, body...)
}

func decodeFile(msg []byte) (int64, file, bool) {
	if len(msg) < 11 {
		return 0, file{}, false
	}
	id := int64(binary.BigEndian.Uint64(msg))
	read := msg[8] == 1
	n := int(binary.BigEndian.Uint16(msg[9:]))
	if len(msg) < 11+n {
		return 0, file{}, false
	}
	f := file{ctype: string(msg[11 : 11+n])}
	if read {
		f.body = append([]byte{}, msg[11+n:]...)
	}
	return id, f, true
}
