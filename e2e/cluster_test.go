package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tomoni-cobrowse/tomoni/internal/store/postgres"
	"github.com/tomoni-cobrowse/tomoni/internal/store/postgres/pgtest"
)

// A cluster of two real tomoni processes on the machine's NATS server
// (Debian's nats-server, started here so the test can restart it) and
// PostgreSQL, behind a load balancer of the test's own.

// natsProcess is a nats-server the test can stop and start again on the
// same port and storage.
type natsProcess struct {
	t    *testing.T
	port int
	dir  string
	cmd  *exec.Cmd
}

func natsServerPath(t *testing.T) string {
	for _, p := range []string{os.Getenv("TOMONI_NATS_SERVER"), "/usr/sbin/nats-server", "/usr/bin/nats-server"} {
		if p != "" {
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	if p, err := exec.LookPath("nats-server"); err == nil {
		return p
	}
	t.Fatal("no nats-server: install Debian's nats-server package (.ci/run does), or set TOMONI_NATS_SERVER")
	return ""
}

func startNATS(t *testing.T) *natsProcess {
	n := &natsProcess{t: t, port: freePort(t), dir: t.TempDir()}
	n.start()
	t.Cleanup(n.stop)
	return n
}

func (n *natsProcess) url() string { return fmt.Sprintf("nats://127.0.0.1:%d", n.port) }

func (n *natsProcess) start() {
	n.t.Helper()
	n.cmd = exec.Command(natsServerPath(n.t), "-a", "127.0.0.1", "-p", fmt.Sprint(n.port), "-js", "-sd", n.dir)
	if err := n.cmd.Start(); err != nil {
		n.t.Fatalf("start nats-server: %v", err)
	}
	waitTCP(n.t, fmt.Sprintf("127.0.0.1:%d", n.port), 10*time.Second)
}

func (n *natsProcess) stop() {
	if n.cmd != nil && n.cmd.Process != nil {
		n.cmd.Process.Signal(syscall.SIGTERM)
		n.cmd.Wait()
		n.cmd = nil
	}
}

func waitTCP(t *testing.T, addr string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %s after %s", addr, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// postgresSchema makes an empty schema on the machine's PostgreSQL and
// returns a database URL that uses it.
func postgresSchema(t *testing.T) string {
	t.Helper()
	url, drop, err := pgtest.Schema(context.Background(), pgtest.URL(), "tomoni_e2e")
	if err != nil {
		t.Fatalf("%v (.ci/run starts PostgreSQL)", err)
	}
	t.Cleanup(drop)
	return url
}

// buildTomoni builds the binary the nodes run.
func buildTomoni(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "tomoni")
	_, file, _, _ := runtime.Caller(0)
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/tomoni")
	cmd.Dir = filepath.Join(filepath.Dir(file), "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// balancer spreads requests over the nodes as a load balancer without
// sticky sessions would: here the customer's requests go to the first node
// that is up, everything else to the last one, so a test knows where each
// socket is. A node marked down gets nothing; a node that refuses the
// connection is skipped, as a balancer's retry would.
type balancer struct {
	mu       sync.Mutex
	backends []*backend
	ln       net.Listener
}

type backend struct {
	name    string
	url     *url.URL
	proxy   *httputil.ReverseProxy
	down    bool
	sockets map[string]int // WebSocket upgrades served, by path
}

func startBalancer(t *testing.T) *balancer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &balancer{ln: ln}
	srv := &http.Server{Handler: b}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return b
}

func (b *balancer) url() string { return "http://" + b.ln.Addr().String() }

func (b *balancer) add(name, addr string) {
	u, _ := url.Parse("http://" + addr)
	be := &backend{name: name, url: u, sockets: make(map[string]int)}
	be.proxy = httputil.NewSingleHostReverseProxy(u)
	be.proxy.ErrorLog = nil
	b.mu.Lock()
	b.backends = append(b.backends, be)
	b.mu.Unlock()
}

func (b *balancer) setDown(name string, down bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, be := range b.backends {
		if be.name == name {
			be.down = down
		}
	}
}

// socketsOn counts the WebSocket upgrades a node served on a path.
func (b *balancer) socketsOn(name, path string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, be := range b.backends {
		if be.name == name {
			return be.sockets[path]
		}
	}
	return 0
}

func isCustomerPath(p string) bool {
	return strings.HasPrefix(p, "/api/join") || strings.HasPrefix(p, "/api/customer/") || strings.HasPrefix(p, "/api/leave") ||
		strings.HasPrefix(p, "/api/handoff") || strings.HasPrefix(p, "/api/policy") || strings.HasPrefix(p, "/sdk")
}

func (b *balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	var order []*backend
	for _, be := range b.backends {
		if !be.down {
			order = append(order, be)
		}
	}
	if !isCustomerPath(r.URL.Path) {
		for i, j := 0, len(order)-1; i < j; i, j = i+1, j-1 {
			order[i], order[j] = order[j], order[i]
		}
	}
	b.mu.Unlock()
	for _, be := range order {
		c, err := net.DialTimeout("tcp", be.url.Host, time.Second)
		if err != nil {
			continue // refused: the next node
		}
		c.Close()
		if r.Header.Get("Upgrade") != "" {
			b.mu.Lock()
			be.sockets[r.URL.Path]++
			b.mu.Unlock()
		}
		be.proxy.ServeHTTP(w, r)
		return
	}
	http.Error(w, "no node is up", http.StatusBadGateway)
}

// node is one tomoni process.
type node struct {
	name string
	addr string
	args []string
	bin  string
	logs *syncBuffer
	cmd  *exec.Cmd
}

func (n *node) start(t *testing.T) {
	t.Helper()
	n.cmd = exec.Command(n.bin, n.args...)
	n.cmd.Stdout, n.cmd.Stderr = n.logs, n.logs
	if err := n.cmd.Start(); err != nil {
		t.Fatalf("start node %s: %v", n.name, err)
	}
	waitTCP(t, n.addr, 20*time.Second)
}

// waitHealth waits until the node's health check answers code.
func (n *node) waitHealth(t *testing.T, code int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err := http.Get("http://" + n.addr + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == code {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s's health check did not answer %d within 10 s", n.name, code)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill ends the process as a crash would: no goodbye to NATS, no lease
// given up, no socket closed properly.
func (n *node) kill() {
	if n.cmd != nil && n.cmd.Process != nil {
		n.cmd.Process.Kill()
		n.cmd.Wait()
		n.cmd = nil
	}
}

type cluster struct {
	nats  *natsProcess
	lb    *balancer
	nodes map[string]*node
	env   *env
}

// startCluster starts NATS, a fresh PostgreSQL schema with one staff
// account, the balancer and nodes a (customers' requests) and b (staff,
// and the demo bank).
func startCluster(t *testing.T, extra ...string) *cluster {
	t.Helper()
	bin := buildTomoni(t)
	c := &cluster{nats: startNATS(t), lb: startBalancer(t), nodes: map[string]*node{}}
	db := postgresSchema(t)
	add := exec.Command(bin, "user", "add", staffUser, "-display", staffName, "-role", "admin", "-db", db)
	add.Stdin = strings.NewReader(staffPass + "\n")
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("tomoni user add: %v\n%s", err, out)
	}
	st, err := postgres.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	demo := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	logs := &syncBuffer{}
	for _, name := range []string{"a", "b"} {
		n := &node{name: name, addr: fmt.Sprintf("127.0.0.1:%d", freePort(t)), bin: bin, logs: logs}
		n.args = append([]string{
			"--addr", n.addr, "--public-url", c.lb.url(), "--nats", c.nats.url(), "--db", db,
			"--data", t.TempDir(), "--metrics-addr", "", "--demo-ib-addr", "", "--log-level", "debug",
			"--site-origin", "http://" + demo,
		}, extra...)
		if name == "b" {
			n.args = append(n.args, "--demo-addr", demo)
		} else {
			n.args = append(n.args, "--demo-addr", "")
		}
		c.nodes[name] = n
		c.lb.add(name, n.addr)
	}
	for _, n := range c.nodes {
		n.start(t)
	}
	waitTCP(t, demo, 10*time.Second)
	t.Cleanup(func() {
		for _, n := range c.nodes {
			n.kill()
		}
		if t.Failed() {
			t.Logf("nodes' log:\n%s", tail(logs.String(), 6000))
		}
	})
	c.env = &env{t: t, url: c.lb.url(), demoURL: "http://" + demo, store: st, logs: logs}
	openTabs(t, c.env)
	return c
}

// The customer's socket on one node, the staff's on the other; the node
// with the customer dies; NATS restarts; capacity holds over both nodes.
func TestClusterOfTwoNodes(t *testing.T) {
	t.Parallel()
	c := startCluster(t, "--max-live", "2", "--max-waiting", "10", "--grace", "30s", "--join-rate", "1", "--join-burst", "4", "--trusted-proxy", "127.0.0.1/32")
	e := c.env

	// Wrong codes sent to both nodes in turn share one budget: four, then
	// refusals on either node.
	var answers []int
	for i := range 8 {
		n := c.nodes[[]string{"a", "b"}[i%2]]
		req, _ := http.NewRequest("POST", "http://"+n.addr+"/api/join", strings.NewReader(`{"code":"000000","device":"pc"}`))
		req.Header.Set("Origin", e.demoURL)
		req.Header.Set("X-Forwarded-For", "203.0.113.7") // one client, as the balancer names it
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		answers = append(answers, res.StatusCode)
	}
	if fmt.Sprint(answers) != "[400 400 400 400 429 429 429 429]" {
		t.Fatalf("wrong codes over two nodes answered %v: the limit must hold for the deployment", answers)
	}

	e.staffLogin()

	// 1. Customer on node a, staff on node b: join, live view, pointer.
	e.join("index.html")
	e.waitStaffSees("くらしに、そっと寄りそう銀行。", 10*time.Second)
	if c.lb.socketsOn("a", "/api/customer/ws") != 1 || c.lb.socketsOn("a", "/api/sessions/") != 0 {
		t.Fatalf("the customer's socket is not on node a alone: a=%d", c.lb.socketsOn("a", "/api/customer/ws"))
	}
	e.run(e.staff, chromedp.MouseEvent(chromedp.MouseMoved, 700, 400))
	e.waitJS(e.customer, "the staff's 〇 on the customer's screen", `Tomoni.pointerPosition() !== null`, 5*time.Second)
	e.run(e.staff, chromedp.MouseEvent(chromedp.MouseMoved, 5, 5))

	// 2. Node a dies mid-session. The console records every phase it shows.
	e.exec(e.staff, `window.__phases = new Set(); window.__phaseTimer = setInterval(() => window.__phases.add(document.querySelector('#session-state').dataset.phase), 50)`)
	_, before := e.custWS.sockets()
	c.nodes["a"].kill()
	killed := time.Now()
	c.lb.setDown("a", true) // what the balancer's health check would do
	deadline := time.Now().Add(5 * time.Second)
	for {
		if open, created := e.custWS.sockets(); open == 1 && created > before && c.lb.socketsOn("b", "/api/customer/ws") > 0 {
			break
		}
		if time.Now().After(deadline) {
			open, created := e.custWS.sockets()
			t.Fatalf("the customer's page had not reconnected through node b 5 s after node a died (%d open, %d made)", open, created-before)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("node a killed → customer's socket open on node b in %s", time.Since(killed).Round(time.Millisecond))
	e.exec(e.customer, `document.body.appendChild(document.createElement('p')).textContent = 'after-node-loss'`)
	e.waitStaffSees("after-node-loss", 10*time.Second)
	t.Logf("node a killed → staff see the customer's new change in %s", time.Since(killed).Round(time.Millisecond))
	e.waitJS(e.staff, "the console live again", `document.querySelector('#session-state').dataset.phase === 'live'`, 5*time.Second)
	phases := evalAs[[]string](e, e.staff, `clearInterval(window.__phaseTimer), [...window.__phases]`)
	for _, p := range phases {
		if p != "live" && p != "customer_disconnected" && p != "reconnecting" && p != "waiting_for_screen" {
			t.Errorf("the console showed %q while node a went away (phases %v): staff should only see the customer reconnecting", p, phases)
		}
	}
	if banner := evalAs[string](e, e.customer, shadow+`.querySelector('[data-tomoni=banner]')?.dataset.state`); banner != "live" {
		t.Errorf("the customer's banner says %q after the move to node b", banner)
	}

	// 3. NATS restarts: both sides recover by themselves.
	c.nats.stop()
	// Meanwhile the nodes' health checks say so, for the balancer.
	c.nodes["b"].waitHealth(t, http.StatusServiceUnavailable)
	c.nats.start()
	c.nodes["b"].waitHealth(t, http.StatusOK)
	e.exec(e.customer, `document.body.appendChild(document.createElement('p')).textContent = 'after-nats-restart'`)
	e.waitStaffSees("after-nats-restart", 20*time.Second)
	e.waitJS(e.staff, "the console live after the NATS restart", `document.querySelector('#session-state').dataset.phase === 'live'`, 10*time.Second)

	// 4. Node a comes back; with two live places, the second customer (on
	// node a) gets in and a third is told the service is busy, whichever
	// node holds the sessions.
	c.nodes["a"].start(t)
	c.lb.setDown("a", false)
	second, third := e.newCode(), e.newCode()
	other := e.newCustomerTab()
	other.openCustomer("index.html")
	if msg := other.enterCode(second); msg != "" {
		t.Fatalf("second customer: %q", msg)
	}
	other.waitJS(other.customer, "the second customer sharing", shadow+`.querySelector('[data-tomoni=banner]')?.dataset.state === 'live'`, 10*time.Second)
	if c.lb.socketsOn("a", "/api/customer/ws") < 2 {
		t.Fatalf("the second customer is not on node a")
	}
	late := e.newCustomerTab()
	late.openCustomer("index.html")
	if code := late.enterCode(third); code != "busy" {
		t.Fatalf("a third customer with two live places taken: %q, want busy", code)
	}

	// The staff (on node b) ends the second session; its customer, on node
	// a, hears it.
	e.waitStaffSees("くらしに、そっと寄りそう銀行。", 10*time.Second)
	e.run(e.staff, chromedp.Click(chromedp.CSS("#end-session")))
	other.waitJS(other.customer, "the end notice on node a's customer", shadow+`.querySelector('[data-tomoni=toast]')?.textContent === '担当者が画面共有を終了しました'`, 5*time.Second)
	// The first customer, on node b, is still sharing.
	if st := evalAs[string](e, e.customer, `Tomoni.current.state`); st != "live" {
		t.Errorf("the first customer's session is %q after another was ended", st)
	}
}
