//go:build unix

package trywrite

import (
	"errors"
	"syscall"
)

const canTry = true

// writeNow writes what the socket's buffer takes without waiting; a full
// buffer is not an error, it takes nothing.
func writeNow(raw syscall.RawConn, p []byte) (int, error) {
	var n int
	var werr error
	err := raw.Write(func(fd uintptr) bool {
		for len(p) > 0 {
			m, err := syscall.Write(int(fd), p)
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			if errors.Is(err, syscall.EAGAIN) {
				return true
			}
			if err != nil {
				werr = err
				return true
			}
			if m <= 0 {
				return true
			}
			n += m
			p = p[m:]
		}
		return true
	})
	if err != nil {
		return n, err
	}
	return n, werr
}
