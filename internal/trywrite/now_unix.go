//go:build unix

package trywrite

import (
	"errors"
	"syscall"
)

const canTry = true

// tryFD writes c.tryBuf to fd without waiting, for raw.Write: it reports
// done at once, also when the socket's buffer is full (EAGAIN).
func (c *Conn) tryFD(fd uintptr) bool {
	p := c.tryBuf[c.tryN:]
	for len(p) > 0 {
		m, err := syscall.Write(int(fd), p)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if errors.Is(err, syscall.EAGAIN) {
			return true
		}
		if err != nil {
			c.tryErr = err
			return true
		}
		if m <= 0 {
			return true
		}
		c.tryN += m
		p = p[m:]
	}
	return true
}
