// Command tomoni-bench is Tomoni's load tool. It starts Tomoni and a raw
// forwarder (a WebSocket relay on the same library that writes each
// message to the other side as it came), each in a process of its own,
// opens sessions on each step by step as the SDK and the console do, and
// replays a customer's recorded visit to the demo bank on every session
// while its staff point. Per step it reports messages a second, the
// customer→staff delay (p50, p95, p99, max), server CPU per relayed
// message, server memory per session, wire bytes against the messages'
// own, and how sockets closed, with Tomoni's ratio to the forwarder.
//
//	go run ./cmd/tomoni-bench -sessions 100,500,1000 -step 20s
package main

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/coder/websocket"

	"github.com/tomoni-cobrowse/tomoni/internal/store/postgres/pgtest"
)

//go:embed testdata/demo-stream.jsonl
var demoStream []byte

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if name := os.Getenv(serveEnv); name != "" {
		err = serve(ctx, name, os.Stdout)
	} else {
		err = run(ctx, os.Args[1:], os.Stdout)
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "tomoni-bench:", err)
		os.Exit(1)
	}
}

type options struct {
	steps       []int
	step        time.Duration
	warmup      time.Duration
	rate        float64
	dwell       time.Duration // on each page of the visit; 0: the recording as it is
	targets     []string
	parallel    int
	storm       int    // sessions that reconnect at once after the steps
	nats        string // the cluster's NATS
	db          string // PostgreSQL server the cluster gets a schema of
	serverLog   string
	cpuProfile  string
	heapProfile string
	textConsole bool // Tomoni's staff sockets do not offer the compressed stream
	slices      int  // turns the targets take within each step
}

// serveEnv names the server a child process of the tool runs; logEnv is
// the level of the Tomoni child's log.
const (
	serveEnv   = "TOMONI_BENCH_SERVE"
	natsEnv    = "TOMONI_BENCH_NATS"   // a cluster node's NATS
	dbEnv      = "TOMONI_BENCH_DB"     // a cluster node's database
	bucketEnv  = "TOMONI_BENCH_BUCKET" // a cluster's bucket prefix
	logEnv     = "TOMONI_BENCH_SERVER_LOG"
	profileEnv = "TOMONI_BENCH_CPUPROFILE"
	heapEnv    = "TOMONI_BENCH_HEAPPROFILE"
)

// serve runs the server a child process was started for, profiling its
// CPU when asked to.
func serve(ctx context.Context, name string, out io.Writer) error {
	if path := os.Getenv(profileEnv); path != "" {
		stop := profileSteps(path)
		defer stop()
	}
	switch name {
	case "tomoni":
		return serveTomoni(ctx, out)
	case "forwarder":
		return serveForwarder(ctx, out)
	}
	return fmt.Errorf("unknown server %q", name)
}

// profileSteps profiles the CPU of this server process while the tool
// measures a step (between SIGUSR1 and SIGUSR2), one file per step:
// path.1, path.2, …; setting sessions up is not in them.
func profileSteps(path string) (stop func()) {
	sig := make(chan os.Signal, 4)
	signal.Notify(sig, syscall.SIGUSR1, syscall.SIGUSR2)
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		var f *os.File
		end := func() {
			if f != nil {
				pprof.StopCPUProfile()
				f.Close()
				f = nil
			}
		}
		defer end()
		for n := 1; ; {
			select {
			case <-done:
				return
			case s := <-sig:
				end()
				if s == syscall.SIGUSR1 {
					var err error
					if f, err = os.Create(fmt.Sprintf("%s.%d", path, n)); err == nil {
						n++
						if pprof.StartCPUProfile(f) != nil {
							f.Close()
							f = nil
						}
					}
				}
			}
		}
	}()
	return func() {
		signal.Stop(sig)
		close(done)
		<-finished
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("tomoni-bench", flag.ContinueOnError)
	fs.SetOutput(out)
	sessions := fs.String("sessions", "100,500,1000", "sessions open at each step (comma-separated, rising)")
	step := fs.Duration("step", 20*time.Second, "how long each step is measured")
	warmup := fs.Duration("warmup", 3*time.Second, "traffic before each step's measurement starts")
	rate := fs.Float64("rate", 10, "customer messages a second per session (the staff point once a second)")
	dwell := fs.Duration("dwell", 20*time.Second, "time each session spends on a page of the recorded visit, repeating what was done there (mouse moves, scrolls, typing) before the next page's snapshot; 0 replays the recording as it is, a page every few batches")
	targets := fs.String("targets", "forwarder,tomoni", "servers to measure, in order: forwarder, tomoni, cluster (two Tomoni nodes on NATS; customers on one, staff on the other)")
	stormN := fs.Int("storm", 0, "after the steps, open this many more sessions, then drop and reconnect all their customer sockets at once (a node restart)")
	natsURL := fs.String("nats", "nats://127.0.0.1:4222", "NATS server of the cluster target (JetStream on)")
	dbURL := fs.String("db", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "PostgreSQL of the cluster target: a schema of its own is made and dropped")
	parallel := fs.Int("open-parallel", 16, "sessions set up at once")
	serverLog := fs.String("server-log", "warn", "level of Tomoni's log on standard error (debug, info, warn, error)")
	heapProfile := fs.String("heapprofile", "", "write each server's heap profile, taken at the end of each step, to this path plus .tomoni or .forwarder (go tool pprof)")
	textConsole := fs.Bool("text-console", false, "Tomoni's staff sockets take text frames, as a console in a browser without DecompressionStream does, instead of the compressed stream")
	rounds := fs.Int("rounds", 1, "measure the targets this many times, in turn first and last, and report the median of each step's ratios: on a shared machine the half of a run measured later can meet other load")
	cpuProfile := fs.String("cpuprofile", "", "write each server's CPU profile while it is measured to this path plus .tomoni or .forwarder and a number, one file per slice of a step (go tool pprof)")
	nslices := fs.Int("slices", 1, "turns the targets take within each step; 1: each target runs alone, all its steps, one after the other; more: all run at once, each step is cut into this many slices, and in each slice the targets are measured one after the other (the first of one slice last in the next) while the others' traffic pauses, so that all meet the machine's other load of the same minutes, with the paused targets' sessions open meanwhile")
	if err := fs.Parse(args); err != nil {
		return err
	}
	o := options{step: *step, warmup: *warmup, rate: *rate, dwell: *dwell, targets: strings.Split(*targets, ","), parallel: *parallel, serverLog: *serverLog, cpuProfile: *cpuProfile, heapProfile: *heapProfile, nats: *natsURL, db: *dbURL, storm: *stormN, textConsole: *textConsole, slices: *nslices}
	for _, s := range strings.Split(*sessions, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			return fmt.Errorf("-sessions: %q is not a number of sessions", s)
		}
		o.steps = append(o.steps, n)
	}
	if !slices.IsSorted(o.steps) || o.rate <= 0 || o.dwell < 0 || *rounds < 1 || o.slices < 1 {
		return errors.New("-sessions must rise, -rate be positive, -dwell not negative, -rounds and -slices at least 1")
	}
	stream := newVisit(bytes.Split(bytes.TrimSpace(demoStream), []byte("\n")), int(o.dwell.Seconds()*o.rate))
	fmt.Fprintf(out, "stream: %s; %.0f msgs/s per session\n\n", stream, o.rate)
	var measured []map[string][]result
	for k := range *rounds {
		order := slices.Clone(o.targets)
		if k%2 == 1 {
			slices.Reverse(order)
		}
		if *rounds > 1 {
			fmt.Fprintf(out, "round %d of %d: %s\n", k+1, *rounds, strings.Join(order, ", "))
		}
		results, err := measure(ctx, order, o, stream, out)
		if err != nil {
			return err
		}
		report(out, o, results)
		measured = append(measured, results)
	}
	if len(measured) > 1 {
		reportMedians(out, o, measured)
	}
	return nil
}

// reportMedians gives, for each step, the median over the rounds of the
// ratios each round measured, with their range.
func reportMedians(out io.Writer, o options, rounds []map[string][]result) {
	for _, name := range []string{"tomoni", "cluster"} {
		cpu, p99 := make([][]float64, len(o.steps)), make([][]float64, len(o.steps)) // per step, a ratio per round
		for _, res := range rounds {
			fw, tm := res["forwarder"], res[name]
			if len(fw) != len(o.steps) || len(tm) != len(o.steps) {
				continue
			}
			for i := range tm {
				cpu[i] = append(cpu[i], ratio(tm[i].cpuPerMsg, fw[i].cpuPerMsg))
				p99[i] = append(p99[i], ratio(tm[i].p99, fw[i].p99))
			}
		}
		if len(cpu[0]) == 0 {
			continue
		}
		fmt.Fprintf(out, "\n%s ÷ forwarder, median of %d rounds (lowest–highest):\n", name, len(cpu[0]))
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "sessions\tCPU/msg\tp99")
		for i, n := range o.steps {
			fmt.Fprintf(tw, "%d\t%s\t%s\n", n, spread(cpu[i]), spread(p99[i]))
		}
		tw.Flush()
	}
}

// spread is the median of xs and their range.
func spread(xs []float64) string {
	slices.Sort(xs)
	m := xs[len(xs)/2]
	if len(xs)%2 == 0 {
		m = (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
	}
	return fmt.Sprintf("%.2f× (%.2f–%.2f×)", m, xs[0], xs[len(xs)-1])
}

// result is one step's numbers.
type result struct {
	sessions          int
	msgsPerSec        float64
	p50, p95, p99, mx time.Duration
	cpuPerMsg         time.Duration
	rssPerSession     int64
	wireRatio         float64
	closes            map[string]int
	failedOpens       int
}

// child is one server process of a target.
type child struct {
	base string
	pid  int
}

// startChild runs the tool's own binary as the server name, with env added.
func startChild(ctx context.Context, name string, o options, env []string, profileAs string) (child, func(), error) {
	self, err := os.Executable()
	if err != nil {
		return child{}, nil, err
	}
	cctx, cancel := context.WithCancel(ctx)
	cmd := exec.CommandContext(cctx, self)
	cmd.Env = append(append(os.Environ(), serveEnv+"="+name, logEnv+"="+o.serverLog), env...)
	if o.cpuProfile != "" {
		cmd.Env = append(cmd.Env, profileEnv+"="+o.cpuProfile+"."+profileAs)
	}
	if o.heapProfile != "" {
		cmd.Env = append(cmd.Env, heapEnv+"="+o.heapProfile+"."+profileAs)
	}
	// Stopped as a person would stop it, so that it can finish its profile.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	cmd.Stderr = os.Stderr
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		return child{}, nil, err
	}
	if err := cmd.Start(); err != nil {
		cancel()
		return child{}, nil, fmt.Errorf("start: %w", err)
	}
	stop := func() { cancel(); cmd.Wait() }
	line, err := bufio.NewReader(pipe).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "READY ") {
		stop()
		return child{}, nil, fmt.Errorf("the server did not start: %q %v", line, err)
	}
	return child{base: strings.TrimSpace(strings.TrimPrefix(line, "READY ")), pid: cmd.Process.Pid}, stop, nil
}

// runner is one target's servers and sessions, measured step by step; its
// sessions' traffic can be paused while another target is measured.
type runner struct {
	name     string
	o        options
	stream   *visit
	t        target
	children []child
	stops    []func()
	st       *stats
	// paused stops its sessions' traffic between its slices, when it
	// takes turns with other targets; a target alone never pauses.
	paused  atomic.Bool
	turns   bool
	traffic context.Context // ends every session's traffic
	stop    context.CancelFunc
	wg      sync.WaitGroup
	open    int
	prevRSS int64
	prevN   int
	// What a step's measured slices add up to.
	took, cpu       time.Duration
	msgs, wire, raw int64
	lat             []time.Duration
	closes          map[string]int
	failed          int
}

// newRunner starts the servers of the target named. The cluster is two
// Tomoni nodes on one NATS and PostgreSQL: every customer on the first,
// every staff member on the second, so each message crosses NATS; its CPU
// and memory are the two nodes' together.
func newRunner(ctx context.Context, name string, o options, stream *visit) (_ *runner, err error) {
	r := &runner{name: name, o: o, stream: stream, st: newStats(), closes: map[string]int{}}
	r.traffic, r.stop = context.WithCancel(ctx)
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	start := func(server string, env []string, profileAs string) error {
		c, stop, err := startChild(ctx, server, o, env, profileAs)
		if err != nil {
			return err
		}
		r.children = append(r.children, c)
		r.stops = append(r.stops, stop)
		return nil
	}
	switch name {
	case "tomoni":
		if err = start("tomoni", nil, "tomoni"); err == nil {
			r.t, err = newTomoniTarget(ctx, r.children[0].base, r.children[0].base, !o.textConsole)
		}
	case "cluster":
		db, drop, derr := pgtest.Schema(ctx, o.db, "tomoni_bench")
		if derr != nil {
			return nil, fmt.Errorf("cluster database: %w", derr)
		}
		r.stops = append(r.stops, drop)
		env := []string{natsEnv + "=" + o.nats, dbEnv + "=" + db, bucketEnv + "=" + "bench" + strconv.Itoa(os.Getpid())}
		for i := range 2 {
			if err = start("tomoni", env, fmt.Sprintf("cluster%d", i)); err != nil {
				break
			}
		}
		if err == nil {
			r.t, err = newTomoniTarget(ctx, r.children[1].base, r.children[0].base, !o.textConsole)
		}
	case "forwarder":
		if err = start("forwarder", nil, "forwarder"); err == nil {
			r.t = &forwarderTarget{base: r.children[0].base}
		}
	default:
		return nil, fmt.Errorf("unknown target %q", name)
	}
	if err != nil {
		return nil, fmt.Errorf("set up: %w", err)
	}
	r.prevRSS, _ = r.rss()
	return r, nil
}

// close ends the traffic and stops the servers (the cluster's database
// schema last, as it was made first).
func (r *runner) close() {
	r.stop()
	r.wg.Wait()
	for _, stop := range slices.Backward(r.stops) {
		stop()
	}
	r.stops = nil
}

func (r *runner) cpuTime() (time.Duration, error) { return sumOver(r.children, cpuOfPid) }
func (r *runner) rss() (int64, error)             { return sumOver(r.children, rssOfPid) }

// openTo opens sessions until n are open, each with its traffic.
func (r *runner) openTo(ctx context.Context, n int, log io.Writer) {
	sem := make(chan struct{}, r.o.parallel)
	var mu sync.Mutex
	var owg sync.WaitGroup
	for ; r.open < n; r.open++ {
		sem <- struct{}{}
		owg.Add(1)
		go func() {
			defer owg.Done()
			defer func() { <-sem }()
			// The sockets live as long as ctx: a dial's context that ends
			// takes the connection down with it.
			c, s, _, err := r.t.open(ctx, r.st)
			if err != nil {
				mu.Lock()
				if r.failed == 0 {
					fmt.Fprintf(log, "%s: a session could not be opened: %v\n", r.name, err)
				}
				r.failed++
				mu.Unlock()
				return
			}
			r.wg.Add(1)
			go func() {
				defer r.wg.Done()
				drive(r.traffic, c, s, r.stream, r.o.rate, &r.paused, r.st)
				c.Close(websocket.StatusNormalClosure, "")
				s.Close(websocket.StatusNormalClosure, "")
			}()
		}()
	}
	owg.Wait()
}

// slice lets the traffic run for warmup, then measures it for d, adding
// to the step's numbers.
func (r *runner) slice(ctx context.Context, warmup, d time.Duration) error {
	r.paused.Store(false)
	defer r.paused.Store(r.turns)
	select {
	case <-time.After(warmup):
	case <-ctx.Done():
		return ctx.Err()
	}
	st := r.st
	st.mu.Lock()
	st.latencies = st.latencies[:0]
	st.closes = map[string]int{}
	st.mu.Unlock()
	wire0, raw0, msgs0 := st.wire.Load(), st.raw.Load(), st.relayed.Load()
	cpu0, err := r.cpuTime()
	if err != nil {
		return err
	}
	st.measuring.Store(true)
	signalChildren(r.children, syscall.SIGUSR1, r.o.cpuProfile != "")
	start := time.Now()
	select {
	case <-time.After(d):
	case <-ctx.Done():
		return ctx.Err()
	}
	st.measuring.Store(false)
	signalChildren(r.children, syscall.SIGUSR2, r.o.cpuProfile != "")
	r.took += time.Since(start)
	cpu1, _ := r.cpuTime()
	r.cpu += cpu1 - cpu0
	r.msgs += st.relayed.Load() - msgs0
	r.wire += st.wire.Load() - wire0
	r.raw += st.raw.Load() - raw0
	st.mu.Lock()
	r.lat = append(r.lat, st.latencies...)
	for k, v := range st.closes { // closes after the slice belong to the next one
		r.closes[k] += v
	}
	st.mu.Unlock()
	return nil
}

// result is the step of n sessions as its slices measured it; the next
// step starts from nothing.
func (r *runner) result(n int, log io.Writer) result {
	rss, _ := r.rss()
	slices.Sort(r.lat)
	res := result{
		sessions: n, msgsPerSec: float64(r.msgs) / r.took.Seconds(), closes: r.closes, failedOpens: r.failed,
		p50: pct(r.lat, 0.50), p95: pct(r.lat, 0.95), p99: pct(r.lat, 0.99), mx: pct(r.lat, 1),
		// What the server's memory grew by since the last step, per
		// session opened since: start-up garbage freed later does not
		// count against the sessions.
		rssPerSession: (rss - r.prevRSS) / int64(max(1, n-r.prevN)),
	}
	r.prevRSS, r.prevN = rss, n
	if r.msgs > 0 {
		res.cpuPerMsg = r.cpu / time.Duration(r.msgs)
	}
	if r.raw > 0 {
		res.wireRatio = float64(r.wire) / float64(r.raw)
	}
	fmt.Fprintf(log, "%-9s %5d sessions: %7.0f msgs/s, p50 %v p99 %v, %v CPU/msg, %d KB/session\n",
		r.name, n, res.msgsPerSec, res.p50.Round(10*time.Microsecond), res.p99.Round(10*time.Microsecond), res.cpuPerMsg.Round(time.Microsecond), res.rssPerSession>>10)
	r.took, r.cpu, r.msgs, r.wire, r.raw, r.lat, r.closes, r.failed = 0, 0, 0, 0, 0, nil, map[string]int{}, 0
	return res
}

// measure runs every step against the targets named. With one slice, each
// target runs alone, all its steps, one target after the other. With more,
// all run at once and are measured in turns: each step's time is cut into
// o.slices, and the targets take turns at each slice (the first of one
// slice last in the next) while the others' traffic is paused, so every
// target meets the machine's other load of the same minutes, at the cost
// of the paused targets' open sessions weighing on the machine (and on the
// generator's memory) meanwhile.
func measure(ctx context.Context, names []string, o options, stream *visit, log io.Writer) (map[string][]result, error) {
	results := map[string][]result{}
	if o.slices == 1 {
		for _, name := range names {
			res, err := measureTurns(ctx, []string{name}, o, stream, log)
			if err != nil {
				return nil, err
			}
			results[name] = res[name]
		}
		return results, nil
	}
	return measureTurns(ctx, names, o, stream, log)
}

// measureTurns runs every step against the targets named, all started at
// once, in turns (see measure).
func measureTurns(ctx context.Context, names []string, o options, stream *visit, log io.Writer) (map[string][]result, error) {
	var rs []*runner
	defer func() {
		for _, r := range rs {
			r.close()
		}
	}()
	for _, name := range names {
		r, err := newRunner(ctx, name, o, stream)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		r.turns = len(names) > 1
		r.paused.Store(r.turns)
		rs = append(rs, r)
	}
	results := map[string][]result{}
	for _, n := range o.steps {
		for _, r := range rs {
			r.openTo(ctx, n, log)
		}
		order := slices.Clone(rs)
		for k := range o.slices {
			// A target's first slice of a step has the whole warm-up; a
			// later one only a second to settle back into its traffic.
			warmup := o.warmup
			if k > 0 {
				warmup = min(o.warmup, time.Second)
			}
			for _, r := range order {
				if err := r.slice(ctx, warmup, o.step/time.Duration(o.slices)); err != nil {
					return nil, fmt.Errorf("%s, step %d: %w", r.name, n, err)
				}
			}
			slices.Reverse(order)
		}
		for _, r := range rs {
			results[r.name] = append(results[r.name], r.result(n, log))
		}
	}
	if o.storm > 0 {
		for _, r := range rs {
			r.paused.Store(false)
			if err := storm(ctx, r.name, r.t, o, r.st, log); err != nil {
				return nil, fmt.Errorf("%s: storm: %w", r.name, err)
			}
			r.paused.Store(r.turns)
		}
	}
	return results, nil
}

// storm opens o.storm more sessions without traffic, then drops all their
// customer sockets at once and has every one reconnect at the same moment,
// as the pages of a restarted node do. It reports how long until each is
// live again (its socket open and, for Tomoni, the session's state in), and
// the delay of the sessions with traffic meanwhile.
func storm(ctx context.Context, name string, t target, o options, st *stats, log io.Writer) error {
	type idle struct {
		customer *websocket.Conn
		redial   func(context.Context) (*websocket.Conn, error)
	}
	drain := func(c *websocket.Conn) {
		go func() {
			for {
				if _, _, err := c.Read(ctx); err != nil {
					return
				}
			}
		}()
	}
	var mu sync.Mutex
	var sessions []idle
	sem := make(chan struct{}, o.parallel)
	var wg sync.WaitGroup
	for range o.storm {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, s, redial, err := t.open(ctx, newStats())
			if err != nil {
				return
			}
			drain(c)
			drain(s)
			mu.Lock()
			sessions = append(sessions, idle{c, redial})
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(sessions) < o.storm {
		fmt.Fprintf(log, "%s storm: %d of %d sessions opened\n", name, len(sessions), o.storm)
	}
	st.mu.Lock()
	st.latencies = st.latencies[:0]
	st.mu.Unlock()
	st.measuring.Store(true)
	for _, x := range sessions {
		x.customer.CloseNow()
	}
	start := time.Now()
	back := make([]time.Duration, 0, len(sessions))
	failed := 0
	var firstErr error // what the first failed reconnection said
	for _, x := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			c, err := x.redial(dctx)
			if err == nil && name != "forwarder" {
				_, _, err = c.Read(dctx) // the session's state: live again
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if failed == 0 {
					firstErr = err
				}
				failed++
				return
			}
			back = append(back, time.Since(start))
			drain(c)
		}()
	}
	wg.Wait()
	all := time.Since(start)
	time.Sleep(time.Second) // the traffic's delays just after it, too
	st.measuring.Store(false)
	st.mu.Lock()
	lat := slices.Clone(st.latencies)
	st.mu.Unlock()
	slices.Sort(lat)
	slices.Sort(back)
	fmt.Fprintf(log, "%-9s storm: %d customers reconnecting at once: all live again in %v (p50 %v, p99 %v), %d failed; traffic meanwhile p50 %v p99 %v max %v\n",
		name, len(sessions), all.Round(time.Millisecond), pct(back, 0.5).Round(time.Millisecond), pct(back, 0.99).Round(time.Millisecond), failed,
		pct(lat, 0.5).Round(10*time.Microsecond), pct(lat, 0.99).Round(10*time.Microsecond), pct(lat, 1).Round(10*time.Microsecond))
	if firstErr != nil {
		fmt.Fprintf(log, "%-9s storm: the first failed reconnection: %v\n", name, firstErr)
	}
	return nil
}

func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p * float64(len(sorted)-1))
	return sorted[i]
}

// sumOver adds up what read reports of each child process: a target's
// CPU time or memory is its processes' together.
// signalChildren tells the server processes that a step's measurement
// starts or ends, when they profile.
func signalChildren(children []child, sig syscall.Signal, profiling bool) {
	if profiling {
		for _, c := range children {
			syscall.Kill(c.pid, sig)
		}
	}
}

func sumOver[T time.Duration | int64](children []child, read func(pid int) (T, error)) (T, error) {
	var sum T
	for _, c := range children {
		v, err := read(c.pid)
		if err != nil {
			return 0, err
		}
		sum += v
	}
	return sum, nil
}

// cpuOfPid reads a process's user and system CPU time from /proc.
func cpuOfPid(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("server CPU time: %w", err)
	}
	// The command name may hold spaces: the fields start after its ')'.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	if len(f) < 13 {
		return 0, errors.New("server CPU time: short /proc stat")
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticks, nil
}

// rssOfPid reads a process's resident memory in bytes from /proc.
func rssOfPid(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			kb, err := strconv.ParseInt(strings.Fields(l)[1], 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmRSS")
}

func report(out io.Writer, o options, results map[string][]result) {
	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "server\tsessions\tmsgs/s\tp50\tp95\tp99\tmax\tCPU/msg\tRSS/session\twire/raw\tcloses\tfailed opens")
	for _, name := range o.targets {
		for _, r := range results[name] {
			fmt.Fprintf(tw, "%s\t%d\t%.0f\t%s\t%s\t%s\t%s\t%s\t%d KB\t%.2f\t%v\t%d\n", name, r.sessions, r.msgsPerSec,
				ms(r.p50), ms(r.p95), ms(r.p99), ms(r.mx), r.cpuPerMsg.Round(time.Microsecond), r.rssPerSession>>10, r.wireRatio, r.closes, r.failedOpens)
		}
	}
	tw.Flush()
	fw := results["forwarder"]
	for _, name := range []string{"tomoni", "cluster"} {
		tm := results[name]
		if len(fw) == len(tm) && len(tm) > 0 {
			fmt.Fprintf(out, "\n%s ÷ forwarder:\n", name)
			tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "sessions\tCPU/msg\tp99")
			for i := range tm {
				fmt.Fprintf(tw, "%d\t%.2f×\t%.2f×\n", tm[i].sessions, ratio(tm[i].cpuPerMsg, fw[i].cpuPerMsg), ratio(tm[i].p99, fw[i].p99))
			}
			tw.Flush()
		}
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

func ratio(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}
