package relay

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// Messages reach a console in the order they were sent, with the console
// reading in bursts so that its queue fills and empties. None is skipped
// unless the console was resynced: a queue that overflowed is replaced by a
// reset, and the messages after it follow in order again.
func TestConsoleGetsMessagesInOrder(t *testing.T) {
	f := newFixture(t, Config{CustomerRate: 1e6, CustomerBurst: 1 << 20})
	st := f.staff()
	readType(t, st, "state")
	cu := f.customer()
	const n = 400
	sent := make(chan error, 1)
	go func() {
		for i := range n {
			b, _ := json.Marshal(events(fmt.Sprintf("seq-%04d-", i) + string(bytes.Repeat([]byte("x"), i*7%3000))))
			if err := cu.Write(context.Background(), websocket.MessageText, b); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	seqOf := regexp.MustCompile(`seq-(\d{4})-`)
	last, got, reset := -1, 0, false
	for last < n-1 {
		_, b, err := st.Read(ctx)
		if err != nil {
			t.Fatalf("after seq %d: %v", last, err)
		}
		var m struct {
			T string `json:"t"`
		}
		json.Unmarshal(b, &m)
		switch m.T {
		case "reset":
			reset = true
			continue
		case "events":
		default:
			continue
		}
		match := seqOf.FindSubmatch(b)
		if match == nil {
			t.Fatalf("an events message without a sequence number: %.120s", b)
		}
		seq, _ := strconv.Atoi(string(match[1]))
		if seq <= last || (seq != last+1 && !reset) {
			t.Fatalf("seq %d after seq %d (reset before it: %v)", seq, last, reset)
		}
		last, reset = seq, false
		if got++; got%50 == 0 {
			time.Sleep(30 * time.Millisecond) // let the server's writes back up
		}
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
}

// A console that stops reading never holds up its customer's socket, also
// with the small messages of a live page: the customer keeps being read and
// the console is resynced.
func TestConsoleThatStopsReadingDoesNotHoldUpTheCustomer(t *testing.T) {
	f := newFixture(t, Config{QueueMessages: 8, QueueBytes: 256 << 10, CustomerRate: 1e6, CustomerBurst: 1 << 20, CustomerBytesRate: 1 << 40, CustomerBytesBurst: 1 << 40, WriteTimeout: time.Minute})
	cu := f.customer()
	readType(t, cu, "state")
	_ = f.staff() // never read from

	payload := string(bytes.Repeat([]byte("abcdefghij"), 1000)) // 10 KB
	deadline := time.Now().Add(10 * time.Second)
	sent := 0
	for testutil.ToFloat64(f.relay.metrics.Resyncs) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no resync after %d messages to a console that reads nothing", sent)
		}
		send(t, cu, events(payload))
		sent++
	}
	readType(t, cu, "resync")
}
