package jsonscan

import "sync"

// Recycler decodes as DecodeValid does, into maps and slices that earlier
// decoded values gave back with Release. A page's snapshot decodes into a
// map for every node and every node's attributes; made afresh for each
// page, they were three quarters of what a relay allocated, and so most of
// its garbage collections, whose pauses are its slowest deliveries. What
// is kept is bounded by sync.Pool, which lets go of it at collections.
// The zero value is ready to use; it is safe for concurrent use. A nil
// *Recycler decodes everything afresh and keeps nothing given back.
type Recycler struct {
	maps   sync.Pool // map[string]any, empty
	slices sync.Pool // *[]any, empty
}

// The largest map and slice kept for reuse: a rare huge one is left to the
// collector rather than held for the small ones that follow.
const (
	maxKeptMap   = 64
	maxKeptSlice = 1024
)

// DecodeValid is DecodeValid, with maps and slices given back earlier.
func (r *Recycler) DecodeValid(b []byte) any {
	d := decoder{b: b, s: string(b), rec: r}
	d.skip()
	return d.value()
}

// Release gives back the maps and slices of v, a value r decoded, for
// later decodes to fill: nothing may use v, or any map or slice in it,
// afterwards (strings and numbers stay valid). A map or slice must appear
// in v only once.
func (r *Recycler) Release(v any) {
	if r == nil {
		return
	}
	switch v := v.(type) {
	case map[string]any:
		if len(v) > maxKeptMap {
			return
		}
		for _, e := range v {
			r.Release(e)
		}
		clear(v)
		r.maps.Put(v)
	case []any:
		if cap(v) > maxKeptSlice {
			return
		}
		for _, e := range v {
			r.Release(e)
		}
		clear(v)
		v = v[:0]
		r.slices.Put(&v)
	}
}

func (r *Recycler) newMap() map[string]any {
	if r != nil {
		if m, ok := r.maps.Get().(map[string]any); ok {
			return m
		}
	}
	return make(map[string]any)
}

// newSlice is never nil: an empty array encodes as [], not null.
func (r *Recycler) newSlice() []any {
	if r != nil {
		if p, ok := r.slices.Get().(*[]any); ok {
			return *p
		}
	}
	return []any{}
}
