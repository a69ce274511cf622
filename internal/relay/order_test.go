package relay

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
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

// A message that waits in a console's queue is the queue's own copy: the
// relay writes each message for the consoles into room it reuses for the
// next one, so a queued message that shared that room would show the
// events of a later one.
func TestQueuedMessagesKeepTheirOwnEvents(t *testing.T) {
	f := newFixture(t, Config{CustomerRate: 1e6, CustomerBurst: 1 << 20, CustomerBytesRate: 1 << 30, CustomerBytesBurst: 1 << 30,
		QueueMessages: 1 << 16, QueueBytes: 1 << 30})
	st := f.staff()
	readType(t, st, "state")
	cu := f.customer()
	// 400 messages of 20 KB while the console reads nothing: far more than
	// the loopback socket takes, so most of them wait in the queue.
	const n = 400
	payload := func(i int) string { return strings.Repeat(fmt.Sprintf("%04d", i), 5000) }
	for i := range n {
		b, _ := json.Marshal(events(payload(i)))
		if err := cu.Write(context.Background(), websocket.MessageText, b); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := 0; i < n; {
		_, b, err := st.Read(ctx)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		var m struct {
			T      string `json:"t"`
			Events []struct {
				Data struct {
					X string `json:"x"`
				} `json:"data"`
			} `json:"events"`
		}
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		switch m.T {
		case "reset":
			t.Fatalf("the console was resynced at message %d: the queue was to hold them all", i)
		case "events":
		default:
			continue
		}
		if len(m.Events) != 1 || m.Events[0].Data.X != payload(i) {
			got := ""
			if len(m.Events) > 0 {
				got = m.Events[0].Data.X
			}
			t.Fatalf("message %d arrived as %.40s…", i, got)
		}
		i++
	}
}
