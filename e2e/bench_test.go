package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/heapprofiler"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/coder/websocket"

	"github.com/tomoni-cobrowse/tomoni/internal/config"
	"github.com/tomoni-cobrowse/tomoni/internal/session/sessiontest"
)

// Browser benchmarks: numbers, not pass or fail (docs/benchmarks.md has
// the results and the commands). CI runs each once, briefly.

// BenchmarkMutationToStaffView measures a change on the customer's page to
// the same change in the staff's view, both tabs in one headless Chromium
// on loopback, through the real server: each op is one change, 100 ms
// after the last. Run with -benchtime 200x for the documented numbers.
func BenchmarkMutationToStaffView(b *testing.B) {
	e := start(b)
	e.staffLogin()
	e.join("index.html")
	e.waitStaffSees("くらしに、そっと寄りそう銀行。", 10*time.Second)
	// Both tabs read the same clock: performance.timeOrigin + now() is the
	// machine's time in both.
	e.exec(e.customer, `window.__mark = document.body.appendChild(document.createElement('p')); window.__mark.id = 'lat-mark'; window.__mark.textContent = 'm-start'; window.__sent = {}`)
	e.waitStaffSees("m-start", 5*time.Second)
	e.exec(e.staff, `(() => {
		window.__seen = {};
		const now = () => performance.timeOrigin + performance.now();
		const watch = (doc) => new MutationObserver(() => {
			const t = doc.getElementById('lat-mark')?.textContent;
			if (t && !(t in window.__seen)) window.__seen[t] = now();
		}).observe(doc, { subtree: true, childList: true, characterData: true });
		watch(document.querySelector('#view iframe').contentDocument);
	})()`)
	n := b.N
	b.ResetTimer()
	e.exec(e.customer, fmt.Sprintf(`(() => {
		let i = 0;
		const now = () => performance.timeOrigin + performance.now();
		const t = setInterval(() => {
			const key = 'm-' + i;
			window.__mark.textContent = key;
			window.__sent[key] = now();
			if (++i === %d) clearInterval(t);
		}, 100);
	})()`, n))
	last := fmt.Sprintf("m-%d", n-1)
	e.waitJS(e.staff, "the last change in the staff view", fmt.Sprintf(`%q in window.__seen`, last), time.Duration(n)*100*time.Millisecond+20*time.Second)
	b.StopTimer()
	sent := evalAs[map[string]float64](e, e.customer, `window.__sent`)
	seen := evalAs[map[string]float64](e, e.staff, `window.__seen`)
	var lat []float64
	for k, t := range sent {
		if s, ok := seen[k]; ok {
			lat = append(lat, s-t)
		}
	}
	if len(lat) == 0 {
		b.Fatal("no change was seen in the staff view")
	}
	slices.Sort(lat)
	q := func(p float64) float64 { return lat[int(p*float64(len(lat)-1))] }
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.95), "p95-ms")
	b.ReportMetric(lat[len(lat)-1], "max-ms")
	b.ReportMetric(float64(len(sent)-len(lat)), "unseen")
}

// BenchmarkConsoleHeap feeds a staff console a long session, time
// compressed: a customer socket (in Go) sends ten events a second of
// session time as fast as the console takes them, with the recorder's
// full snapshot every ten minutes of session time, as the SDK does. Each
// op is one minute of session; -benchtime 120x is two hours. It reports
// the console's JavaScript heap after the first snapshot period and at the
// end (after a garbage collection): flat means the live view keeps only
// what it needs since the last snapshot.
func BenchmarkConsoleHeap(b *testing.B) {
	e := start(b, func(c *config.Config) {
		// The socket sends far faster than a page: its limits must not be
		// what is measured.
		c.Bounds.CustomerRate, c.Bounds.CustomerBurst = 100_000, 100_000
	})
	st, err := e.store.StaffByUsername(context.Background(), staffUser)
	if err != nil {
		b.Fatal(err)
	}
	s, err := e.app.Sessions.Create(st.ID, staffName)
	if err != nil {
		b.Fatal(err)
	}
	s, tok, err := sessiontest.Join(e.app.Sessions, s.Code, "pc")
	if err != nil {
		b.Fatal(err)
	}
	snapshot, textID := recordedSnapshot(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.url, "http")+"/api/customer/ws?token="+tok, &websocket.DialOptions{HTTPHeader: map[string][]string{"Origin": {e.demoURL}}})
	if err != nil {
		b.Fatal(err)
	}
	defer ws.CloseNow()
	resync := make(chan struct{}, 1)
	go func() { // the page reads what the server sends it
		for {
			_, msg, err := ws.Read(ctx)
			if err != nil {
				return
			}
			// A console that (re)connects asks for a full snapshot.
			if strings.HasPrefix(string(msg), `{"t":"resync"`) {
				select {
				case resync <- struct{}{}:
				default:
				}
			}
		}
	}()
	send := func(events string) {
		msg := fmt.Sprintf(`{"t":"events","ct":%d,"events":[%s]}`, time.Now().UnixMilli(), events)
		if err := ws.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			b.Fatalf("customer socket: %v", err)
		}
	}
	full := func() {
		now := time.Now().UnixMilli()
		send(strings.NewReplacer("@TS@", strconv.FormatInt(now, 10)).Replace(snapshot))
	}
	e.staffLogin()
	open := fmt.Sprintf(`[...document.querySelectorAll('#session-list li')].find((li) => li.dataset.id === %q || li.textContent.includes(%q))`, s.ID, s.ID[:6])
	e.waitJS(e.staff, "the session in the list", `document.querySelector('#session-list li')`, 10*time.Second)
	e.exec(e.staff, `(`+open+` || document.querySelector('#session-list li')).click()`)
	select {
	case <-resync:
	case <-time.After(10 * time.Second):
		b.Fatal("the console did not ask for a snapshot")
	}
	full()
	e.waitJS(e.staff, "the replay", `document.querySelector('#view iframe')?.contentDocument?.body`, 10*time.Second)

	heap := func() float64 {
		if _, err := chromedp.Call(e.staff, heapprofiler.CollectGarbage, cdp.Empty{}); err != nil {
			b.Fatalf("collect garbage: %v", err)
		}
		u, err := chromedp.Call(e.staff, cdpruntime.GetHeapUsage, cdp.Empty{})
		if err != nil {
			b.Fatalf("heap usage: %v", err)
		}
		used := u.UsedSize
		return used / (1 << 20)
	}
	// Ten events a second of session time: each tenth of a second a text
	// change and a mouse move; a batch is one second.
	const perMinute = 60
	var first, peak float64
	b.ResetTimer()
	for minute := range b.N {
		select {
		case <-resync: // the console fell behind and starts over
			full()
		default:
			if minute > 0 && minute%10 == 0 {
				full()
			}
		}
		for sec := range perMinute {
			now := time.Now().UnixMilli()
			var evs []string
			for k := range 5 {
				evs = append(evs,
					fmt.Sprintf(`{"type":3,"timestamp":%d,"data":{"source":0,"texts":[{"id":%d,"value":"m%d s%d k%d"}],"attributes":[],"removes":[],"adds":[]}}`, now, textID, minute, sec, k),
					fmt.Sprintf(`{"type":3,"timestamp":%d,"data":{"source":1,"positions":[{"x":%d,"y":%d,"id":1,"timeOffset":0}]}}`, now, 100+k*10, 200+sec))
			}
			send(strings.Join(evs, ","))
			time.Sleep(2 * time.Millisecond)
		}
		if minute == min(b.N, 10)-1 {
			// The first snapshot period is in: the heap's working size.
			b.StopTimer()
			waitKept(b, e, fmt.Sprintf("m%d s%d k4", minute, perMinute-1))
			first = heap()
			b.StartTimer()
		}
		if minute%10 == 9 {
			b.StopTimer()
			peak = max(peak, heap())
			b.StartTimer()
		}
	}
	b.StopTimer()
	waitKept(b, e, fmt.Sprintf("m%d s%d k4", b.N-1, perMinute-1))
	end := heap()
	b.ReportMetric(first, "heap-first-MB")
	b.ReportMetric(end, "heap-end-MB")
	b.ReportMetric(max(peak, end), "heap-peak-MB")
	b.ReportMetric(float64(evalAs[int](e, e.staff, `Number(document.querySelector('#view').dataset.events)`)), "events-kept")
}

// waitKept waits until the staff view shows text (the console caught up).
func waitKept(b *testing.B, e *env, text string) {
	e.waitJS(e.staff, "the console to catch up", fmt.Sprintf(`(document.querySelector('#view iframe')?.contentDocument?.body?.textContent || '').includes(%q)`, text), 60*time.Second)
}

// recordedSnapshot returns the demo bank's recorded first batch (meta and
// full snapshot) with its timestamps as @TS@, and the id of a text node
// in it that the benchmark changes.
func recordedSnapshot(b *testing.B) (string, int) {
	_, file, _, _ := runtime.Caller(0)
	raw, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "cmd", "tomoni-bench", "testdata", "demo-stream.jsonl"))
	if err != nil {
		b.Fatal(err)
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	var msg struct {
		Events []json.RawMessage `json:"events"`
	}
	if err := json.Unmarshal([]byte(line), &msg); err != nil || len(msg.Events) < 2 {
		b.Fatalf("the recorded stream does not start with a snapshot: %v", err)
	}
	var parts []string
	for _, ev := range msg.Events[:2] {
		var m map[string]any
		json.Unmarshal(ev, &m)
		m["timestamp"] = "@TS@"
		out, _ := json.Marshal(m)
		parts = append(parts, strings.Replace(string(out), `"@TS@"`, "@TS@", 1))
	}
	// A text node inside <body>, so its changes show in the view.
	var find func(n map[string]any, inBody bool) int
	find = func(n map[string]any, inBody bool) int {
		if n["tagName"] == "body" {
			inBody = true
		}
		if inBody && n["type"] == float64(3) {
			if t, _ := n["textContent"].(string); strings.TrimSpace(t) != "" {
				return int(n["id"].(float64))
			}
		}
		kids, _ := n["childNodes"].([]any)
		for _, k := range kids {
			if id := find(k.(map[string]any), inBody); id > 0 {
				return id
			}
		}
		return 0
	}
	var full struct {
		Data struct {
			Node map[string]any `json:"node"`
		} `json:"data"`
	}
	json.Unmarshal(msg.Events[1], &full)
	id := find(full.Data.Node, false)
	if id == 0 {
		b.Fatal("no text node in the recorded snapshot's body")
	}
	return strings.Join(parts, ","), id
}

// BenchmarkSnapshotMainThread measures what a full snapshot of a
// 10,000-node page (a long statement) costs the customer's main thread:
// the long tasks Chromium reports while the SDK takes it and sends it
// (snapshot, masking, encoding). Each op is one snapshot: the first when
// the customer joins, then one asked for as a console would (a resync),
// a second apart. For comparison, bare rrweb's record() (the same
// @rrweb/record, no masking, nothing sent) on the same page.
func BenchmarkSnapshotMainThread(b *testing.B) {
	e := start(b)
	siteURL, _ := startCDNSite(b, e)
	e.staffLogin()
	code := e.newCode()
	const rows = 1111 // 9 nodes a row: about 10,000 nodes
	e.run(e.customer, chromedp.Navigate(siteURL+fmt.Sprintf("/statement.html?rows=%d", rows)))
	e.waitJS(e.customer, "the SDK", `window.Tomoni`, 10*time.Second)
	nodes := evalAs[int](e, e.customer, `(() => { let n = 0; const w = document.createTreeWalker(document, NodeFilter.SHOW_ALL); while (w.nextNode()) n++; return n; })()`)
	e.exec(e.customer, `window.__long = []; new PerformanceObserver((l) => { for (const t of l.getEntries()) window.__long.push(t.duration); }).observe({ type: 'longtask' })`)
	longTasks := func() (sum, peak float64) {
		for _, d := range evalAs[[]float64](e, e.customer, `window.__long.splice(0)`) {
			sum += d
			peak = max(peak, d)
		}
		return sum, peak
	}
	var total, worst, first float64
	b.ResetTimer()
	for i := range b.N {
		last := fmt.Sprintf("最終行 %d", rows)
		if i == 0 {
			if msg := e.enterCode(code); msg != "" {
				b.Fatalf("join: %q", msg)
			}
			e.waitStaffSees(last, 30*time.Second)
		} else {
			time.Sleep(1100 * time.Millisecond) // the SDK takes at most one snapshot a second
			e.exec(e.staff, `document.querySelector('#view').dataset.events = ''`)
			e.app.Relay.ResyncAll()
			e.waitJS(e.staff, "a new snapshot in the view", `document.querySelector('#view').dataset.events !== ''`, 10*time.Second)
			e.waitStaffSees(last, 30*time.Second)
		}
		time.Sleep(200 * time.Millisecond) // the observer's report comes after the task
		sum, peak := longTasks()
		if i == 0 {
			first = sum
		}
		total += sum
		worst = max(worst, peak)
	}
	b.StopTimer()
	b.ReportMetric(float64(nodes), "nodes")
	b.ReportMetric(first, "first-longtask-ms")
	b.ReportMetric(total/float64(b.N), "longtask-ms/snapshot")
	b.ReportMetric(worst, "longest-task-ms")

	// Bare rrweb on the same page, in a tab of its own.
	_, file, _, _ := runtime.Caller(0)
	umd, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "web", "node_modules", "@rrweb", "record", "dist", "record.umd.min.cjs"))
	if err != nil {
		b.Fatalf("bare rrweb for comparison (npm ci in web/): %v", err)
	}
	bare := e.newCustomerTab()
	bare.run(bare.customer, chromedp.Navigate(siteURL+fmt.Sprintf("/statement.html?rows=%d", rows)))
	bare.waitJS(bare.customer, "the page", `document.querySelector('#last-row').textContent !== ''`, 10*time.Second)
	bare.exec(bare.customer, string(umd))
	// record() takes its full snapshot before it returns; the first call
	// also pays for compiling the code, as the SDK's first snapshot does.
	times := evalAs[[]float64](bare, bare.customer, `(() => {
		const out = [];
		for (let i = 0; i < 5; i++) {
			const t = performance.now();
			const stop = rrwebRecord.record({ emit() {}, slimDOMOptions: 'all', inlineStylesheet: true });
			out.push(performance.now() - t);
			stop();
		}
		return out;
	})()`)
	b.ReportMetric(times[0], "bare-rrweb-first-ms")
	later := slices.Clone(times[1:])
	slices.Sort(later)
	b.ReportMetric(later[len(later)/2], "bare-rrweb-ms")
}
