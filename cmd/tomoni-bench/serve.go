package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/tomoni-cobrowse/tomoni/internal/accounts"
	"github.com/tomoni-cobrowse/tomoni/internal/app"
	"github.com/tomoni-cobrowse/tomoni/internal/auth"
	"github.com/tomoni-cobrowse/tomoni/internal/config"
	"github.com/tomoni-cobrowse/tomoni/internal/store"
)

// The load tool measures two servers, each in a child process of its own
// so that its CPU time and memory can be read from /proc: Tomoni, set up
// for many sessions from one address, and a raw forwarder on the same
// WebSocket library.

const (
	benchSite  = "http://bench.test" // the site origin the generator's customers come from
	benchStaff = "bench"
	benchPass  = "bench-password-1"
)

// serveTomoni runs Tomoni with limits that let one machine open thousands
// of sessions from one address, and prints its URL.
func serveTomoni(ctx context.Context, out io.Writer) error {
	app.TuneGC(os.Getenv) // as the tomoni binary does
	dir, err := os.MkdirTemp("", "tomoni-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfg := config.Default()
	cfg.Addr, cfg.DemoAddr, cfg.DemoIBAddr, cfg.MetricsAddr = "127.0.0.1:0", "", "", ""
	cfg.DataDir = dir
	cfg.SiteOrigins = []string{benchSite}
	cfg.MaxLive, cfg.MaxWaiting, cfg.MaxPerStaff = 100_000, 100_000, 100_000
	cfg.JoinPerMinute, cfg.JoinBurst = 1e9, 1_000_000
	cfg.LoginPerMinute, cfg.LoginBurst = 1e9, 1_000_000
	cfg.NATSURL, cfg.DatabaseURL = os.Getenv(natsEnv), os.Getenv(dbEnv)
	if b := os.Getenv(bucketEnv); b != "" {
		cfg.NATSBucket = b
	}
	// The server's log goes to the tool's standard error (warnings and
	// errors unless -server-log says otherwise): a refused message or an
	// ended session is part of what a run shows.
	var level slog.Level
	if err := level.UnmarshalText([]byte(cmp.Or(os.Getenv(logEnv), "warn"))); err != nil {
		return err
	}
	cfg.LogLevel = strings.ToLower(level.String())
	a := app.New(cfg, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})), io.Discard)
	a.HashParams = auth.Params{Memory: 8 * 1024, Time: 1, Threads: 1}
	if err := a.Open(ctx); err != nil {
		a.Close()
		return err
	}
	defer a.Close()
	// The nodes of a cluster share the account: the second finds it made.
	if _, err := a.AddStaff(ctx, benchStaff, "ベンチ", benchPass, store.RoleAgent); err != nil && !errors.Is(err, accounts.ErrTaken) {
		return err
	}
	if path := os.Getenv(heapEnv); path != "" {
		// Taken every few seconds, so the last one shows the heap under the
		// last step's sessions.
		go func() {
			t := time.NewTicker(3 * time.Second)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					if f, err := os.Create(path); err == nil {
						pprof.WriteHeapProfile(f)
						f.Close()
					}
					// Where the rest of the memory is: stacks, and heap the
					// collector has freed but not yet given back.
					var ms runtime.MemStats
					runtime.ReadMemStats(&ms)
					os.WriteFile(path+".memstats", fmt.Appendf(nil, "goroutines %d\nheap in use %d KB (allocated, garbage included: %d KB)\nheap idle %d KB, of it released %d KB\nstacks %d KB\nother runtime %d KB\nnext collection at %d KB\n",
						runtime.NumGoroutine(), ms.HeapInuse>>10, ms.HeapAlloc>>10, ms.HeapIdle>>10, ms.HeapReleased>>10, ms.StackInuse>>10, (ms.Sys-ms.HeapSys-ms.StackSys)>>10, ms.NextGC>>10), 0o644)
				}
			}
		}()
	}
	fmt.Fprintf(out, "READY %s\n", a.URL())
	select {
	case <-ctx.Done():
		return nil
	case err := <-a.Err():
		return err
	}
}

// serveForwarder runs the raw forwarder: each session is a pair of sockets,
// /c/{id} and /s/{id}; whatever one sends is written to the other as it
// is, one frame per message, with the compression Tomoni negotiates.
func serveForwarder(ctx context.Context, out io.Writer) error {
	type pair struct{ c, s *websocket.Conn }
	var mu sync.Mutex
	pairs := map[string]*pair{}
	relay := func(w http.ResponseWriter, r *http.Request, customer bool) {
		ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true, CompressionMode: websocket.CompressionNoContextTakeover})
		if err != nil {
			return
		}
		ws.SetReadLimit(4 << 20)
		id := r.PathValue("id")
		mu.Lock()
		p := pairs[id]
		if p == nil {
			p = &pair{}
			pairs[id] = p
		}
		if customer {
			p.c = ws
		} else {
			p.s = ws
		}
		mu.Unlock()
		defer func() {
			mu.Lock()
			if customer {
				p.c = nil
			} else {
				p.s = nil
			}
			if p.c == nil && p.s == nil {
				delete(pairs, id)
			}
			mu.Unlock()
			ws.CloseNow()
		}()
		for {
			typ, msg, err := ws.Read(r.Context())
			if err != nil {
				return
			}
			mu.Lock()
			peer := p.s
			if !customer {
				peer = p.c
			}
			mu.Unlock()
			if peer == nil {
				continue
			}
			wctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
			err = peer.Write(wctx, typ, msg)
			cancel()
			if err != nil && !errors.Is(err, context.Canceled) {
				continue
			}
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /c/{id}", func(w http.ResponseWriter, r *http.Request) { relay(w, r, true) })
	mux.HandleFunc("GET /s/{id}", func(w http.ResponseWriter, r *http.Request) { relay(w, r, false) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	fmt.Fprintf(out, "READY http://%s\n", ln.Addr())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
