package streamdeflate

import (
	"bytes"
	"compress/flate"
	"errors"

	"fmt"
	"io"
)

// Reader inflates, one by one, the messages an Encoder wrote. It keeps the
// inflater's whole state (a 32 KB window): it is for tools and tests, where
// a browser would use DecompressionStream.
type Reader struct {
	in  bytes.Buffer
	fr  io.Reader
	out []byte
}

// Next inflates the next compressed message. The result is valid until the
// next call.
func (r *Reader) Next(compressed []byte) ([]byte, error) {
	if r.fr == nil {
		// A bytes.Buffer is an io.ByteReader, so the inflater reads no
		// further than it needs: what a message ends with stays for it.
		r.fr = flate.NewReader(&r.in)
	}
	r.in.Write(compressed)
	r.in.WriteString(Tail)
	r.out = r.out[:0]
	for {
		if len(r.out) == cap(r.out) {
			r.out = append(r.out, make([]byte, max(512, cap(r.out)))...)[:len(r.out)]
		}
		from := len(r.out)
		n, err := r.fr.Read(r.out[from:cap(r.out)])
		r.out = r.out[:from+n]
		if k := bytes.IndexByte(r.out[from:], Sep); k >= 0 {
			// After the separator only the block's end and the flush may
			// remain: a 7-bit end code, a 3-bit header and padding (at most
			// two bytes), then Tail. Another message would need more.
			// (An inflater stops short of the block's end when its window
			// fills at the separator.)
			if from+k != len(r.out)-1 || r.in.Len() > len(Tail)+2 {
				return nil, errors.New("streamdeflate: a frame holds more than one message")
			}
			return r.out[:from+k], nil
		}
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("streamdeflate: inflate: %w", err)
		}
	}
}
