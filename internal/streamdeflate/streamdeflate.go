// Package streamdeflate compresses the messages of one connection as a
// single raw deflate stream (RFC 1951) that remembers only a small window.
//
// permessage-deflate either compresses every message alone, which gains
// nothing on the short messages a co-browsing session is made of (mouse
// moves, scrolls, small mutations of 100–300 bytes), or keeps a full
// compressor per connection (about 1.2 MB in the WebSocket library). Here
// a connection keeps only the last Window bytes it sent and a small hash
// table of them, so a message can refer to the one before it, and each
// message ends with a sync flush so the reader can decode it on arrival.
// Any inflater reads the stream: a browser's DecompressionStream
// ("deflate-raw"), Go's compress/flate. A reader may get the inflated text
// in chunks of any size, so each message is followed by Sep.
package streamdeflate

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/bits"
)

const (
	// Window is how far back a match may reach, and so how much of what
	// was sent an Encoder keeps.
	Window = 2048

	tableBits = 9
	minMatch  = 4
	maxMatch  = 258
	// piece bounds how much of a message is matched at once, so the
	// working buffer stays Window+piece bytes whatever the message size.
	piece = Window
)

// Sep follows each message in the inflated stream: the ASCII record
// separator, which JSON text never holds raw.
const Sep = 0x1e

// ErrSep is returned for a message that holds Sep itself.
var ErrSep = errors.New("streamdeflate: message holds the separator byte")

// Tail is what a sync flush ends with: 00 00 ff ff. Encode leaves it out,
// as permessage-deflate does; the reader adds it after each message.
const Tail = "\x00\x00\xff\xff"

// Encoder compresses one connection's messages in the order they are sent.
// The zero value is ready to use; it is not safe for concurrent use.
type Encoder struct {
	// buf holds what was encoded last (at least Window bytes of it, when
	// there was as much), then the piece being encoded. It is allocated
	// on first use and slid only when full, so most messages are not
	// copied twice.
	buf   []byte
	base  uint32 // stream position of buf[0]
	table [1 << tableBits]uint16
}

// Encode appends msg, compressed, to dst and returns the result. Inflated
// after everything encoded before it, and with Tail added, it gives msg
// then Sep. A message that holds Sep is refused and changes nothing.
func (e *Encoder) Encode(dst, msg []byte) ([]byte, error) {
	if bytes.IndexByte(msg, Sep) >= 0 {
		return dst, ErrSep
	}
	if e.buf == nil {
		e.buf = make([]byte, 0, Window+piece+1)
	}
	w := bitWriter{out: dst}
	// A fixed-Huffman block: its codes need no table in the stream,
	// which is what short messages can afford.
	w.put(0, 1) // not the final block
	w.put(1, 2) // fixed Huffman
	for {
		n := min(len(msg), piece)
		if len(e.buf)+n+1 > cap(e.buf) {
			e.slide()
		}
		from := len(e.buf)
		e.buf = append(e.buf, msg[:n]...)
		if n == len(msg) {
			e.buf = append(e.buf, Sep)
		}
		e.encode(&w, from)
		msg = msg[n:]
		if len(msg) == 0 {
			break
		}
	}
	w.putCode(endOfBlock)
	// The sync flush: an empty stored block, which aligns to a byte.
	w.put(0, 3)
	w.align()
	return w.out, nil // the stored block's 00 00 ff ff is Tail, left out
}

// slide keeps the last Window bytes of buf, for what follows to refer to.
func (e *Encoder) slide() {
	if drop := len(e.buf) - Window; drop > 0 {
		copy(e.buf, e.buf[drop:])
		e.buf = e.buf[:Window]
		e.base += uint32(drop)
	}
}

func hash(v uint32) uint32 { return (v * 2654435761) >> (32 - tableBits) }

// encode writes buf[from:] as literals and matches into the Window before
// each position, greedily. The bit stream's state stays in local variables
// (in registers) while a piece is encoded, and a match goes out as one
// code of at most 27 bits, its length and distance looked up together.
func (e *Encoder) encode(w *bitWriter, from int) {
	b := e.buf
	end := len(b)
	last := end - minMatch // the last position with minMatch bytes to hash
	acc, nb, out := w.bits, w.n, w.out
	for i := from; i < end; {
		if i > last {
			c := fixedLit[b[i]]
			acc, nb, out = put(acc, nb, out, uint32(c.code), uint(c.len))
			i++
			continue
		}
		v := binary.LittleEndian.Uint32(b[i:])
		h := hash(v)
		pos := uint16(e.base + uint32(i))
		// The table holds only 16 bits of a position, so a stale entry can
		// point anywhere: a match is used only once its bytes are compared.
		dist := int(pos - e.table[h])
		e.table[h] = pos
		if dist == 0 || dist > Window || dist > i || binary.LittleEndian.Uint32(b[i-dist:]) != v {
			c := fixedLit[b[i]]
			acc, nb, out = put(acc, nb, out, uint32(c.code), uint(c.len))
			i++
			continue
		}
		n := i + minMatch
		limit := i + min(maxMatch, end-i)
		for n+8 <= limit {
			if x := binary.LittleEndian.Uint64(b[n:]) ^ binary.LittleEndian.Uint64(b[n-dist:]); x != 0 {
				n += bits.TrailingZeros64(x) >> 3
				goto matched
			}
			n += 8
		}
		for n < limit && b[n] == b[n-dist] {
			n++
		}
	matched:
		n -= i
		lc, dc := lengthOut[n], distOut[dist]
		acc, nb, out = put(acc, nb, out, lc.bits|dc.bits<<lc.n, uint(lc.n+dc.n))
		// Later text often repeats what lies inside this match: remember
		// its positions too, every other one, which finds as many matches
		// (the demo bank's visit compresses as well or a little better)
		// for half the hashing.
		for j := i + 1; j < i+n && j <= last; j += 2 {
			e.table[hash(binary.LittleEndian.Uint32(b[j:]))] = uint16(e.base + uint32(j))
		}
		i += n
	}
	w.bits, w.n, w.out = acc, nb, out
}

// put adds the n low bits of v (n ≤ 32) to the bit stream held in acc and
// nb, moving whole 32-bit words of it to out.
func put(acc uint64, nb uint, out []byte, v uint32, n uint) (uint64, uint, []byte) {
	acc |= uint64(v) << nb
	nb += n
	if nb >= 32 {
		out = binary.LittleEndian.AppendUint32(out, uint32(acc))
		acc >>= 32
		nb -= 32
	}
	return acc, nb, out
}

const endOfBlock = 256

// bitWriter packs deflate's bit stream: least significant bit first.
type bitWriter struct {
	out  []byte
	bits uint64
	n    uint
}

func (w *bitWriter) put(v uint32, n uint) {
	w.bits, w.n, w.out = put(w.bits, w.n, w.out, v, n)
}

func (w *bitWriter) align() {
	for w.n > 0 {
		w.out = append(w.out, byte(w.bits))
		w.bits >>= 8
		w.n -= min(w.n, 8)
	}
	w.bits = 0
}

// putCode writes literal or length symbol s with the fixed Huffman code.
func (w *bitWriter) putCode(s int) {
	c := fixedLit[s]
	w.put(uint32(c.code), uint(c.len))
}

// codeBits is a code with its extra bits, ready for the stream.
type codeBits struct {
	bits uint32
	n    uint8
}

// lengthOut and distOut are the codes, extra bits included, of each match
// length (minMatch–maxMatch) and each distance (1–Window).
var (
	lengthOut = buildLengthOut()
	distOut   = buildDistOut()
)

func buildLengthOut() (t [maxMatch + 1]codeBits) {
	for l := minMatch; l <= maxMatch; l++ {
		lc := lengthCodes[l-minMatch]
		c := fixedLit[lc.sym]
		t[l] = codeBits{uint32(c.code) | (uint32(l)-uint32(lc.base))<<c.len, c.len + lc.extra}
	}
	return t
}

// buildDistOut: distance codes 0–3 are 1–4; above, each pair of codes
// halves a power-of-two range, with log2 extra bits.
func buildDistOut() (t [Window + 1]codeBits) {
	for d := 1; d <= Window; d++ {
		v := uint32(d - 1)
		if v < 4 {
			t[d] = codeBits{uint32(reverse(uint16(v), 5)), 5}
			continue
		}
		n := uint(bits.Len32(v))
		code := uint16(2*(n-1)) + uint16((v>>(n-2))&1)
		t[d] = codeBits{uint32(reverse(code, 5)) | (v&(1<<(n-2)-1))<<5, uint8(5 + n - 2)}
	}
	return t
}

type huffCode struct {
	code uint16 // bit-reversed, ready for the LSB-first stream
	len  uint8
}

type lengthCode struct {
	sym   uint16
	base  uint16
	extra uint8
}

// The fixed literal/length code (RFC 1951, 3.2.6) and the length symbols
// (3.2.5), as lookup tables built once; they are never written to after.
var (
	fixedLit    = buildFixedLit()
	lengthCodes = buildLengthCodes()
)

func buildFixedLit() (t [288]huffCode) {
	for s := range t {
		var code, n uint16
		switch {
		case s < 144:
			code, n = 0x30+uint16(s), 8
		case s < 256:
			code, n = 0x190+uint16(s-144), 9
		case s < 280:
			code, n = uint16(s-256), 7
		default:
			code, n = 0xc0+uint16(s-280), 8
		}
		t[s] = huffCode{reverse(code, uint(n)), uint8(n)}
	}
	return t
}

// buildLengthCodes maps each match length from minMatch to maxMatch to its
// symbol, the symbol's base length and its count of extra bits.
func buildLengthCodes() (t [maxMatch - minMatch + 1]lengthCode) {
	base := []uint16{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	extra := []uint8{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	for l := minMatch; l <= maxMatch; l++ {
		k := len(base) - 1
		for l < int(base[k]) {
			k--
		}
		t[l-minMatch] = lengthCode{sym: uint16(257 + k), base: base[k], extra: extra[k]}
	}
	return t
}

func reverse(v uint16, n uint) uint16 { return bits.Reverse16(v) >> (16 - n) }
