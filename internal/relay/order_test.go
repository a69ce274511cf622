package relay

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// Messages reach a console in the order they were sent, with the console
// reading in bursts so that its queue fills and empties.
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
	next := 0
	for next < n {
		_, b, err := st.Read(ctx)
		if err != nil {
			t.Fatalf("after %d messages: %v", next, err)
		}
		var m struct {
			T string `json:"t"`
		}
		json.Unmarshal(b, &m)
		if m.T != "events" {
			continue
		}
		want := fmt.Sprintf("seq-%04d-", next)
		if !bytes.Contains(b, []byte(want)) {
			t.Fatalf("message %d: got %.80s", next, b)
		}
		next++
		if next%50 == 0 {
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
