package streamdeflate

import (
	"bufio"
	"bytes"
	"compress/flate"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

// visit is the demo bank's recorded stream: the messages a console hears.
func visit(t testing.TB) [][]byte {
	t.Helper()
	f, err := os.Open("../../cmd/tomoni-bench/testdata/demo-stream.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var msgs [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		msgs = append(msgs, bytes.Clone(sc.Bytes()))
	}
	if len(msgs) < 10 {
		t.Fatalf("only %d messages in the recording", len(msgs))
	}
	return msgs
}

// roundTrip encodes msgs in order and checks that both Reader and a plain
// inflater over the whole stream give them back.
func roundTrip(t *testing.T, msgs [][]byte) (raw, wire int) {
	t.Helper()
	var e Encoder
	var r Reader
	var stream, want bytes.Buffer
	for i, m := range msgs {
		out, err := e.Encode(nil, m)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		got, err := r.Next(out)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if !bytes.Equal(got, m) {
			t.Fatalf("message %d came back as %.80q, want %.80q", i, got, m)
		}
		stream.Write(out)
		stream.WriteString(Tail)
		want.Write(m)
		want.WriteByte(Sep)
		raw += len(m)
		wire += len(out)
	}
	all, err := io.ReadAll(flate.NewReader(&stream))
	if err != io.ErrUnexpectedEOF || !bytes.Equal(all, want.Bytes()) {
		t.Fatalf("the stream as a whole inflates to %d bytes (%v), want %d", len(all), err, want.Len())
	}
	return raw, wire
}

func TestMessagesComeBackInOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cases := map[string][][]byte{
		"empty":      {{}, []byte("{}"), {}},
		"one byte":   {[]byte("a"), []byte("a"), []byte("b")},
		"high bytes": {[]byte("口座番号の確認"), []byte("口座番号の確認です"), {0xff, 0xfe, 0x90, 0x8f}},
		"long runs":  {bytes.Repeat([]byte("a"), 10000), bytes.Repeat([]byte("ab"), 3000)},
	}
	// Sizes around the window and the piece, in text that repeats.
	for _, n := range []int{Window - 1, Window, Window + 1, 2*Window + 3, 100_000} {
		var b strings.Builder
		for b.Len() < n {
			b.WriteString(`{"type":3,"data":{"source":1,"positions":[{"x":`)
			b.WriteString(strings.Repeat("7", rng.IntN(5)))
			b.WriteString(`}]}}`)
		}
		cases[fmt.Sprintf("repeating %d", n)] = [][]byte{[]byte(b.String()[:n]), []byte(b.String()[:n/2])}
	}
	// Many short messages, as a session makes them: the inflater's 32 KB
	// window fills again and again, anywhere in a message.
	var batches [][]byte
	for len(batches) < 8000 {
		batches = append(batches, fmt.Appendf(nil, `{"t":"events","ct":%d,"events":[{"type":3,"data":{"source":1,"positions":[{"x":%d,"y":%d,"id":%d,"timeOffset":-%d}]}}]}`,
			rng.Int64N(1e13), rng.IntN(2000), rng.IntN(900), rng.IntN(99), rng.IntN(99)))
		if rng.IntN(10) == 0 {
			batches = append(batches, noise(rng, rng.IntN(40)))
		}
	}
	cases["many short"] = batches
	// Random bytes: nothing to match, every kind of literal.
	var random [][]byte
	for range 50 {
		random = append(random, noise(rng, rng.IntN(3000)))
	}
	cases["noise"] = random
	for name, msgs := range cases {
		t.Run(name, func(t *testing.T) { roundTrip(t, msgs) })
	}
}

// noise is n random bytes without Sep: nothing to match, and literals of
// both code lengths.
func noise(rng *rand.Rand, n int) []byte {
	m := make([]byte, n)
	for i := range m {
		if m[i] = byte(rng.Uint32()); m[i] == Sep {
			m[i] = 0
		}
	}
	return m
}

// A console on a visit's traffic gets less than half of the text's bytes:
// the reason the stream exists.
func TestAVisitShrinksToLessThanHalf(t *testing.T) {
	raw, wire := roundTrip(t, visit(t))
	ratio := float64(wire) / float64(raw)
	t.Logf("%d bytes of messages, %d compressed: %.3f", raw, wire, ratio)
	if ratio > 0.45 {
		t.Fatalf("compressed to %.3f of the text, want at most 0.45", ratio)
	}
}

func TestAMessageHoldingTheSeparatorIsRefused(t *testing.T) {
	var e Encoder
	var r Reader
	first, _ := e.Encode(nil, []byte(`{"t":"a"}`))
	if _, err := r.Next(first); err != nil {
		t.Fatal(err)
	}
	if out, err := e.Encode([]byte("x"), []byte("{\x1e}")); err != ErrSep || string(out) != "x" {
		t.Fatalf("Encode = %q, %v; want dst unchanged and ErrSep", out, err)
	}
	// The stream goes on as if the message had not been offered.
	next, _ := e.Encode(nil, []byte(`{"t":"a"}`))
	if got, err := r.Next(next); err != nil || string(got) != `{"t":"a"}` {
		t.Fatalf("next message = %q, %v", got, err)
	}
}

func TestReaderRefusesBrokenInput(t *testing.T) {
	var r Reader
	if _, err := r.Next([]byte{0xff, 0xff, 0xff}); err == nil {
		t.Fatal("garbage inflated without an error")
	}
	var r2 Reader
	var e Encoder
	two, _ := e.Encode(nil, []byte("one"))
	two = append(two, Tail...)
	more, _ := e.Encode(nil, []byte("two"))
	if _, err := r2.Next(append(two, more...)); err == nil {
		t.Fatal("a frame with two messages was read as one")
	}
}

func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte(`{"t":"events","events":[{"type":3}]}|{"t":"events","events":[{"type":3}]}`), uint8(3))
	f.Add(bytes.Repeat([]byte("ab|"), 3000), uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, window uint8) {
		msgs := bytes.Split(bytes.ReplaceAll(data, []byte{Sep}, []byte{0}), []byte("|"))
		// Grow a message past the window now and then.
		if window%4 == 0 && len(msgs) > 0 {
			msgs[0] = bytes.Repeat(msgs[0], Window/max(1, len(msgs[0]))+2)
		}
		roundTrip(t, msgs)
	})
}

func BenchmarkEncode(b *testing.B) {
	msgs := visit(b)
	var e Encoder
	var out []byte
	n, raw, wire := 0, 0, 0
	for b.Loop() {
		m := msgs[n%len(msgs)]
		n++
		out, _ = e.Encode(out[:0], m)
		raw += len(m)
		wire += len(out)
	}
	b.SetBytes(int64(raw / n))
	b.ReportMetric(float64(wire)/float64(raw), "wire/raw")
}
