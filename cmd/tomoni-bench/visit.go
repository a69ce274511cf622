package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
)

// visit is the recorded stream cut into pages: a page is a batch with a
// full snapshot and the batches after it, up to the next snapshot.
type visit struct {
	all   [][]byte // the recording as it is
	pages []page
	// dwell is how many batches a session sends on each page before it
	// moves on; 0 replays the recording as it is.
	dwell int
}

type page struct {
	snapshot []byte
	rest     [][]byte // what the customer did there: moves, scrolls, typing
}

// fullSnapshot marks an rrweb full-snapshot event (type 2 with its node).
var fullSnapshot = []byte(`{"type":2,"data":{"node":`)

func newVisit(stream [][]byte, dwell int) *visit {
	v := &visit{all: stream, dwell: dwell}
	var spare [][]byte // batches before the first snapshot
	for _, b := range stream {
		switch {
		case bytes.Contains(b, fullSnapshot):
			v.pages = append(v.pages, page{snapshot: b})
		case len(v.pages) == 0:
			spare = append(spare, b)
		default:
			p := &v.pages[len(v.pages)-1]
			p.rest = append(p.rest, b)
		}
	}
	var rest [][]byte
	for _, p := range v.pages {
		rest = append(rest, p.rest...)
	}
	rest = append(rest, spare...)
	for i := range v.pages {
		// A page left at once (a redirect) still gets the visit's ordinary
		// traffic while the session stays on it.
		if len(v.pages[i].rest) == 0 {
			v.pages[i].rest = rest
		}
	}
	if len(v.pages) == 0 || len(rest) == 0 {
		v.dwell = 0 // nothing to cut: replay as recorded
	}
	return v
}

// start returns one session's source of batches, starting at a random
// point of the visit so that sessions do not load pages in step.
func (v *visit) start() func() []byte {
	if v.dwell == 0 {
		i := rand.IntN(len(v.all))
		return func() []byte {
			b := v.all[i%len(v.all)]
			i++
			return b
		}
	}
	p, i := rand.IntN(len(v.pages)), rand.IntN(v.dwell)
	return func() []byte {
		if i == v.dwell {
			p, i = (p+1)%len(v.pages), 0
		}
		pg := v.pages[p]
		i++
		if i == 1 {
			return pg.snapshot
		}
		return pg.rest[(i-2)%len(pg.rest)]
	}
}

func (v *visit) String() string {
	raw, lo, hi := 0, len(v.all[0]), 0
	for _, b := range v.all {
		raw += len(b)
		lo, hi = min(lo, len(b)), max(hi, len(b))
	}
	s := fmt.Sprintf("%d recorded batches of the demo bank, %d–%d B, mean %d B", len(v.all), lo, hi, raw/len(v.all))
	if v.dwell == 0 {
		return s + ", replayed as recorded"
	}
	return s + fmt.Sprintf("; %d pages, %d batches on each (a full snapshot, then what was done there)", len(v.pages), v.dwell)
}
