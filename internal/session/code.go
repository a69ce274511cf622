package session

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
)

// newCode draws a 6-digit code uniformly from r (crypto/rand in production).
// Rejection sampling avoids the bias a plain modulo would add.
func newCode(r io.Reader) (string, error) {
	const limit = (1 << 32) / 1_000_000 * 1_000_000
	var b [4]byte
	for {
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return "", fmt.Errorf("read random code: %w", err)
		}
		v := binary.BigEndian.Uint32(b[:])
		if v < limit {
			return fmt.Sprintf("%06d", v%1_000_000), nil
		}
	}
}

// newToken returns a random 256-bit token, URL-safe.
func newToken(r io.Reader) (string, error) {
	var b [32]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", fmt.Errorf("read random token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// hashToken keys tokens in memory by hash so a heap dump does not hand out
// usable tokens.
func hashToken(tok string) [32]byte { return sha256.Sum256([]byte(tok)) }

// validCodeFormat reports whether s is exactly six ASCII digits.
func validCodeFormat(s string) bool {
	if len(s) != 6 {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
