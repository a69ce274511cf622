package main

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The test binary is the tool's server process too, as the tool's own
// binary is when it runs.
func TestMain(m *testing.M) {
	if name := os.Getenv(serveEnv); name != "" {
		if err := serve(context.Background(), name, os.Stdout); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// A short run against both servers: every session opens (through Tomoni's
// whole join flow), messages flow, nothing closes, and the report has a row
// per server and step with the ratio to the forwarder.
func TestLoadToolMeasuresBothServers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, []string{"-sessions", "2,4", "-step", "1s", "-warmup", "300ms", "-rate", "5", "-storm", "3"}, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	report := out.String()
	for _, want := range []string{"forwarder  2 ", "forwarder  4 ", "tomoni     2 ", "tomoni     4 ", "tomoni ÷ forwarder",
		"forwarder storm: 3 customers reconnecting at once", "tomoni    storm: 3 customers reconnecting at once"} {
		if !strings.Contains(report, want) {
			t.Errorf("the report has no %q:\n%s", want, report)
		}
	}
	for _, line := range strings.Split(report, "\n") {
		if strings.Contains(line, "storm:") && !strings.Contains(line, ", 0 failed;") {
			t.Errorf("reconnections failed: %s", line)
		}
		f := strings.Fields(line)
		if strings.Contains(line, "map[") && (f[0] == "tomoni" || f[0] == "forwarder") {
			if f[len(f)-1] != "0" || !strings.Contains(line, "map[]") {
				t.Errorf("sessions failed to open or closed: %s", line)
			}
			if f[2] == "0" {
				t.Errorf("no messages flowed: %s", line)
			}
		}
	}
}

// The cluster target: two nodes on the machine's NATS and PostgreSQL
// (.ci/run starts both), customers on one, staff on the other.
func TestLoadToolMeasuresACluster(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, []string{"-sessions", "3", "-step", "1s", "-warmup", "300ms", "-rate", "5", "-targets", "cluster"}, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, line := range strings.Split(out.String(), "\n") {
		f := strings.Fields(line)
		if len(f) > 2 && f[0] == "cluster" && strings.Contains(line, "map[") {
			if f[2] == "0" || !strings.Contains(line, "map[]") || f[len(f)-1] != "0" {
				t.Fatalf("messages did not flow across the nodes, or sessions failed: %s", line)
			}
			return
		}
	}
	t.Fatalf("no cluster row in the report:\n%s", out.String())
}

// With -rounds the servers take turns at being measured first, and the
// report gives each step's median ratio over the rounds (here with each
// step in two slices, the servers running at once).
func TestLoadToolTakesTurnsOverRounds(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, []string{"-sessions", "2", "-step", "500ms", "-warmup", "200ms", "-rate", "5", "-rounds", "2", "-slices", "2"}, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	report := out.String()
	for _, want := range []string{"round 1 of 2: forwarder, tomoni", "round 2 of 2: tomoni, forwarder", "tomoni ÷ forwarder, median of 2 rounds"} {
		if !strings.Contains(report, want) {
			t.Errorf("the report has no %q:\n%s", want, report)
		}
	}
	i := strings.Index(report, "median of 2 rounds")
	if i < 0 || !regexp.MustCompile(`\n2 +\d+\.\d\d× \(\d+\.\d\d–\d+\.\d\d×\)`).MatchString(report[i:]) {
		t.Errorf("no median line for the step of 2 sessions:\n%s", report)
	}
}

// Within a step the servers take turns: both run at once, and each is
// measured in every slice while the other's traffic pauses, so that while
// one is measured the other relays nothing.
func TestLoadToolTakesTurnsWithinAStep(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	o := options{steps: []int{2}, step: 2 * time.Second, warmup: 200 * time.Millisecond, rate: 10, targets: []string{"forwarder", "tomoni"}, parallel: 4, serverLog: "warn", slices: 4}
	stream := newVisit(bytes.Split(bytes.TrimSpace(demoStream), []byte("\n")), 0)
	var log bytes.Buffer
	var rs []*runner
	defer func() {
		for _, r := range rs {
			r.close()
		}
	}()
	for _, name := range o.targets {
		r, err := newRunner(ctx, name, o, stream)
		if err != nil {
			t.Fatal(err)
		}
		r.turns = true
		r.paused.Store(true)
		r.openTo(ctx, 2, &log)
		rs = append(rs, r)
	}
	fw, tm := rs[0], rs[1]
	if err := fw.slice(ctx, 200*time.Millisecond, time.Second); err != nil {
		t.Fatal(err)
	}
	// The forwarder relayed while it was measured, Tomoni nothing.
	before := tm.st.relayed.Load()
	time.Sleep(500 * time.Millisecond)
	if fw.msgs == 0 {
		t.Fatal("the forwarder relayed nothing in its slice")
	}
	if got := tm.st.relayed.Load() - before; got != 0 {
		t.Fatalf("Tomoni relayed %d messages while paused", got)
	}
	if err := tm.slice(ctx, 200*time.Millisecond, time.Second); err != nil {
		t.Fatal(err)
	}
	res := tm.result(2, &log)
	// (Its CPU is read in clock ticks of 10 ms: two sessions for a second
	// may not reach one.)
	if res.msgsPerSec < 10 || res.p99 <= 0 {
		t.Fatalf("Tomoni's slice measured %+v", res)
	}
	// A paused target's sessions stay open: its traffic comes back.
	first := fw.msgs
	if err := fw.slice(ctx, 200*time.Millisecond, time.Second); err != nil {
		t.Fatal(err)
	}
	if fw.msgs <= first {
		t.Fatalf("the forwarder relayed nothing in its second slice (%d, then %d)", first, fw.msgs)
	}
	fwRes := fw.result(2, &log)
	if fwRes.msgsPerSec < 10 || len(fwRes.closes) != 0 {
		t.Fatalf("the forwarder's slice measured %+v", fwRes)
	}
}
