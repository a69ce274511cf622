//go:build !unix

package trywrite

import (
	"errors"
	"syscall"
)

const canTry = false

func writeNow(syscall.RawConn, []byte) (int, error) { return 0, errNotTried }

var errNotTried = errors.New("trywrite: writes cannot be tried here")
