// Command tomoni runs the Tomoni co-browsing server and its demo bank.
//
//	tomoni [flags]                       serve (see -h)
//	tomoni user add NAME [-display D] [-admin]  create a staff account; reads the
//	                                     password from stdin or generates one
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/tomoni-cobrowse/tomoni/internal/app"
	"github.com/tomoni-cobrowse/tomoni/internal/auth"
	"github.com/tomoni-cobrowse/tomoni/internal/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "tomoni:", err)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) >= 2 && args[0] == "user" && args[1] == "add" {
		return userAdd(ctx, args[2:], getenv, stdin, stdout)
	}
	cfg, err := config.Load(args, getenv)
	if err != nil {
		return err
	}
	log := newLogger(stderr, cfg.LogLevel)
	a := app.New(cfg, log, stdout)
	if err := a.Open(ctx); err != nil {
		a.Close()
		return err
	}
	fmt.Fprintf(stdout, "Tomoni is running.\n  staff console: %s/console/\n", a.URL())
	if a.DemoURL() != "" {
		fmt.Fprintf(stdout, "  demo bank:     %s/\n", a.DemoURL())
	}
	if a.DemoIBURL() != "" {
		fmt.Fprintf(stdout, "  demo internet banking (second origin): %s/\n", a.DemoIBURL())
	}
	if a.MetricsURL() != "" {
		fmt.Fprintf(stdout, "  metrics (operators only): %s/metrics\n", a.MetricsURL())
	}
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err = <-a.Err():
	}
	return errors.Join(err, a.Close())
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	l.UnmarshalText([]byte(level))
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

func userAdd(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout io.Writer) error {
	cfg := config.Default()
	if err := cfg.ApplyEnv(getenv); err != nil {
		return err
	}
	fs := flag.NewFlagSet("tomoni user add", flag.ContinueOnError)
	fs.StringVar(&cfg.DataDir, "data", cfg.DataDir, "data directory")
	display := fs.String("display", "", "name shown to customers (defaults to the username)")
	admin := fs.Bool("admin", false, "may read the audit")
	fs.SetOutput(stdout)
	// The name may come before or after the flags.
	var name string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if name == "" && fs.NArg() == 1 {
		name = fs.Arg(0)
	} else if name == "" || fs.NArg() != 0 {
		return errors.New("usage: tomoni user add NAME [-display NAME] [-admin] [-data DIR] < password")
	}
	pw, err := readPassword(stdin)
	if err != nil {
		return err
	}
	generated := pw == ""
	if generated {
		if pw, err = auth.NewPassword(); err != nil {
			return err
		}
	}
	st, err := app.OpenStore(ctx, cfg.DataDir)
	if err != nil {
		return err
	}
	defer st.Close()
	a := app.New(cfg, slog.New(slog.DiscardHandler), stdout)
	a.Store = st
	if _, err := a.AddStaff(ctx, name, *display, pw, *admin); err != nil {
		return err
	}
	if generated {
		fmt.Fprintf(stdout, "Created staff account %s with password: %s\n", name, pw)
	} else {
		fmt.Fprintf(stdout, "Created staff account %s.\n", name)
	}
	return nil
}

// readPassword takes the first line of stdin when it is piped, else "".
func readPassword(stdin io.Reader) (string, error) {
	if f, ok := stdin.(*os.File); ok {
		if fi, err := f.Stat(); err != nil || fi.Mode()&os.ModeCharDevice != 0 {
			return "", nil
		}
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}
