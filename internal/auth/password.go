// Package auth hashes staff passwords with argon2id and mints the random
// tokens used for staff login cookies and CSRF.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id cost parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
}

// DefaultParams follow the RFC 9106 second recommended option (64 MiB, t=3).
func DefaultParams() Params { return Params{Memory: 64 * 1024, Time: 3, Threads: 2} }

// HashPassword returns a PHC-format argon2id hash of password.
func HashPassword(password string, p Params) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, 32)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// ErrBadHash means a stored hash is not in the expected format.
var ErrBadHash = errors.New("unrecognised password hash")

// VerifyPassword reports whether password matches hash, in constant time.
func VerifyPassword(password, hash string) (bool, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, ErrBadHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, ErrBadHash
	}
	var p Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return false, ErrBadHash
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return false, ErrBadHash
	}
	want, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(want) == 0 {
		return false, ErrBadHash
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// NewToken returns 32 random bytes, URL-safe base64.
func NewToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("new token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// HashToken is how tokens are stored: a leaked database holds no usable token.
func HashToken(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:])
}

// passwordAlphabet leaves out characters that are easy to confuse when read
// aloud or written down (l, o, B, I, O, 0, 1).
const passwordAlphabet = "abcdefghijkmnpqrstuvwxyzACDEFGHJKLMNPQRSTUVWXYZ23456789"

// passwordLength gives log2(55^16) ≈ 92 bits.
const passwordLength = 16

// NewPassword returns a random password that is easy to read out and type.
func NewPassword() (string, error) { return newPassword(rand.Reader) }

// newPassword draws each character uniformly from r. A byte modulo the
// alphabet's size would favour its first 36 characters; bytes past the last
// whole multiple of the size are drawn again instead.
func newPassword(r io.Reader) (string, error) {
	const limit = 256 / len(passwordAlphabet) * len(passwordAlphabet)
	out := make([]byte, 0, passwordLength)
	buf := make([]byte, passwordLength)
	for len(out) < passwordLength {
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", fmt.Errorf("new password: %w", err)
		}
		for _, b := range buf {
			if int(b) < limit && len(out) < passwordLength {
				out = append(out, passwordAlphabet[int(b)%len(passwordAlphabet)])
			}
		}
	}
	return string(out), nil
}
