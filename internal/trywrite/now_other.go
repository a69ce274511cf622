//go:build !unix

package trywrite

import "errors"

const canTry = false

// tryFD is never called where writes cannot be tried (New leaves raw nil).
func (c *Conn) tryFD(uintptr) bool {
	c.tryErr = errNotTried
	return true
}

var errNotTried = errors.New("trywrite: writes cannot be tried here")
