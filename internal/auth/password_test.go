package auth

import (
	"bytes"
	"strings"
	"testing"
)

var fast = Params{Memory: 1024, Time: 1, Threads: 1}

func TestPasswordRoundTrip(t *testing.T) {
	h, err := HashPassword("correct horse", fast)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$") {
		t.Fatalf("hash %q is not argon2id PHC", h)
	}
	if ok, err := VerifyPassword("correct horse", h); !ok || err != nil {
		t.Fatalf("right password rejected: %v", err)
	}
	if ok, _ := VerifyPassword("correct horsf", h); ok {
		t.Fatal("wrong password accepted")
	}
	h2, _ := HashPassword("correct horse", fast)
	if h == h2 {
		t.Fatal("same hash twice: salt not random")
	}
}

func TestVerifyRejectsGarbage(t *testing.T) {
	for _, h := range []string{"", "plain", "$argon2i$v=19$m=1,t=1,p=1$AA$AA", "$argon2id$v=19$m=x$AA$AA"} {
		if ok, err := VerifyPassword("x", h); ok || err == nil {
			t.Errorf("hash %q: ok=%v err=%v", h, ok, err)
		}
	}
}

// Bytes at or past the last whole multiple of the alphabet's size are drawn
// again: mapping them with a modulo would make some characters likelier.
func TestNewPasswordRejectsBiasedBytes(t *testing.T) {
	limit := 256 / len(passwordAlphabet) * len(passwordAlphabet)
	biased := bytes.Repeat([]byte{byte(limit)}, passwordLength)
	fair := make([]byte, passwordLength)
	for i := range fair {
		fair[i] = byte(len(passwordAlphabet) + i) // maps to passwordAlphabet[i]
	}
	pw, err := newPassword(bytes.NewReader(append(biased, fair...)))
	if err != nil {
		t.Fatal(err)
	}
	if want := passwordAlphabet[:passwordLength]; pw != want {
		t.Fatalf("password %q, want %q: biased bytes were used", pw, want)
	}
}

func TestNewPasswordIsUniform(t *testing.T) {
	counts := make(map[rune]int)
	const n = 20_000
	for range n {
		pw, err := NewPassword()
		if err != nil {
			t.Fatal(err)
		}
		if len(pw) != passwordLength {
			t.Fatalf("password %q has length %d", pw, len(pw))
		}
		for _, c := range pw {
			counts[c]++
		}
	}
	// 320,000 draws over 55 characters: about 5,818 each, σ ≈ 75. With a
	// modulo the first 36 characters come up about 6,250 times and the
	// others 5,000, both outside ±8% (±6σ).
	want := float64(n*passwordLength) / float64(len(passwordAlphabet))
	for _, c := range passwordAlphabet {
		if got := float64(counts[c]); got < want*0.92 || got > want*1.08 {
			t.Errorf("character %q drawn %v times, want about %.0f", c, got, want)
		}
	}
}

// BenchmarkVerifyDefault is the cost of one login's hash with the product's
// parameters; docs/security.md sizes the login concurrency from it.
func BenchmarkVerifyDefault(b *testing.B) {
	h, err := HashPassword("a-staff-password", DefaultParams())
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		VerifyPassword("a-wrong-password", h)
	}
}
