package main

import (
	"bytes"
	"testing"
)

// With a dwell, a session sends each page's snapshot once, then only what
// was done on that page, then the next page's snapshot: as a real visit.
func TestAVisitDwellsOnEachPage(t *testing.T) {
	stream := bytes.Split(bytes.TrimSpace(demoStream), []byte("\n"))
	v := newVisit(stream, 50)
	if len(v.pages) < 4 {
		t.Fatalf("the recording has %d pages, want the demo bank's four or more", len(v.pages))
	}
	next := v.start()
	var snapshots, sent int
	last := -1
	for range 50 * len(v.pages) * 2 {
		b := next()
		sent++
		if bytes.Contains(b, fullSnapshot) {
			if last >= 0 && sent-last != 50 {
				t.Fatalf("a snapshot came %d batches after the last one, want 50", sent-last)
			}
			snapshots++
			last = sent
		}
	}
	if snapshots < 2*len(v.pages)-1 {
		t.Fatalf("%d snapshots in %d batches", snapshots, sent)
	}
	// Without one, the recording as it is.
	whole := newVisit(stream, 0)
	next = whole.start()
	first := next()
	for range len(stream) - 1 {
		next()
	}
	if !bytes.Equal(next(), first) {
		t.Fatal("the recording did not loop")
	}
}
