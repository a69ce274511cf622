// Command tomoni runs the Tomoni co-browsing server and its demo bank.
//
//	tomoni [flags]                       serve (see -h)
//	tomoni user list|add|rename|disable|enable|passwd …  manage staff accounts
//	                                     (tomoni user for the details)
//	tomoni backup FILE [-data DIR]       copy the embedded database, safely while it runs
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
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/tomoni-cobrowse/tomoni/internal/accounts"
	"github.com/tomoni-cobrowse/tomoni/internal/app"
	"github.com/tomoni-cobrowse/tomoni/internal/auth"
	"github.com/tomoni-cobrowse/tomoni/internal/config"
	"github.com/tomoni-cobrowse/tomoni/internal/store"
	"github.com/tomoni-cobrowse/tomoni/internal/store/sqlite"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return // asked for help, and got it
		}
		fmt.Fprintln(os.Stderr, "tomoni:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) >= 1 && args[0] == "user" {
		return user(ctx, args[1:], getenv, stdin, stdout)
	}
	if len(args) >= 1 && args[0] == "backup" {
		return backup(ctx, args[1:], getenv, stdout)
	}
	cfg, err := config.Load(args, getenv)
	if err != nil {
		return err
	}
	log := newLogger(stderr, cfg.LogLevel)
	app.TuneGC(getenv)
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

const userUsage = `usage:
  tomoni user list
  tomoni user add NAME [-display NAME] [-role agent|supervisor|admin] [-admin]
                                                 (password from stdin, or generated)
  tomoni user rename NAME [-to NEWNAME] [-display NAME]
  tomoni user role NAME -role agent|supervisor|admin
  tomoni user disable NAME                       (ends its logins at once)
  tomoni user enable NAME
  tomoni user passwd NAME                        (password from stdin, or generated; ends its logins)
every command also takes -data DIR, or -db URL for PostgreSQL`

// user manages staff accounts in the data directory. A running server
// closes the consoles of logins revoked here within a few seconds.
func user(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(stdout, userUsage)
		return nil
	}
	cmd, args := args[0], args[1:]
	cfg := config.Default()
	if err := cfg.ApplyEnv(getenv); err != nil {
		return err
	}
	fs := flag.NewFlagSet("tomoni user "+cmd, flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.Usage = func() {
		fmt.Fprintln(stdout, userUsage)
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.DataDir, "data", cfg.DataDir, "data directory")
	fs.StringVar(&cfg.DatabaseURL, "db", cfg.DatabaseURL, "PostgreSQL URL (instead of the data directory's SQLite)")
	display := fs.String("display", "", "name shown to customers")
	admin := fs.Bool("admin", false, "short for -role admin (add)")
	roleName := fs.String("role", "", "agent (own sessions), supervisor (also watches and takes over any session) or admin (also the audit and accounts); add defaults to agent")
	to := fs.String("to", "", "new username (rename)")
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
	} else if fs.NArg() != 0 || (name == "" && cmd != "list") || (name != "" && cmd == "list") {
		return errors.New(userUsage)
	}
	role := store.Role(*roleName)
	if *admin {
		role = store.RoleAdmin
	}
	if cmd == "add" && role == "" {
		role = store.RoleAgent
	}
	if _, ok := store.ParseRole(string(role)); (cmd == "add" || cmd == "role") && !ok {
		return accounts.ErrRole
	}
	st, err := app.OpenStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	svc := &accounts.Service{Store: st, Hash: auth.DefaultParams()}
	if cmd == "list" {
		list, err := svc.List(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "USERNAME\tDISPLAY NAME\tROLE\tSTATUS")
		for _, a := range list {
			status := "active"
			if a.Disabled {
				status = "disabled"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", a.Username, a.DisplayName, a.Role, status)
		}
		return tw.Flush()
	}
	if cmd == "add" {
		pw, err := readPassword(stdin)
		if err != nil {
			return err
		}
		_, generated, err := svc.Add(ctx, name, *display, pw, role)
		if err != nil {
			return err
		}
		if generated != "" {
			fmt.Fprintf(stdout, "Created staff account %s with password: %s\n", name, generated)
		} else {
			fmt.Fprintf(stdout, "Created staff account %s.\n", name)
		}
		return nil
	}
	acct, err := svc.Get(ctx, name)
	if err != nil {
		return err
	}
	switch cmd {
	case "rename":
		if *to == "" && *display == "" {
			return errors.New("rename needs -to NEWNAME, -display NAME or both")
		}
		a, err := svc.Rename(ctx, acct.ID, *to, *display)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Account %s is now %s (shown to customers as %s).\n", name, a.Username, a.DisplayName)
	case "role":
		a, err := svc.SetRole(ctx, acct.ID, role)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Account %s is now %s.\n", name, a.Role)
	case "disable", "enable":
		revoked := []string(nil)
		if _, revoked, err = svc.SetDisabled(ctx, acct.ID, cmd == "disable"); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Account %s %sd; %d login(s) ended.\n", name, cmd, len(revoked))
	case "passwd":
		pw, err := readPassword(stdin)
		if err != nil {
			return err
		}
		generated, revoked, err := svc.SetPassword(ctx, acct.ID, pw, "")
		if err != nil {
			return err
		}
		if generated != "" {
			fmt.Fprintf(stdout, "New password for %s: %s\n", name, generated)
		} else {
			fmt.Fprintf(stdout, "Password of %s changed.\n", name)
		}
		fmt.Fprintf(stdout, "%d login(s) ended.\n", len(revoked))
	default:
		return errors.New(userUsage)
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

const backupUsage = `usage: tomoni backup FILE [-data DIR]
copies the embedded SQLite database to FILE (which must not exist), consistent
even while Tomoni runs; PostgreSQL deployments use pg_dump (docs/deploy.md)`

// backup writes a consistent copy of the SQLite database. Copying the file
// itself is not a backup: with write-ahead logging the latest writes may
// still be in the -wal file beside it.
func backup(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	cfg := config.Default()
	if err := cfg.ApplyEnv(getenv); err != nil {
		return err
	}
	fs := flag.NewFlagSet("tomoni backup", flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.Usage = func() { fmt.Fprintln(stdout, backupUsage) }
	fs.StringVar(&cfg.DataDir, "data", cfg.DataDir, "data directory")
	var file string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		file, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if file == "" && fs.NArg() == 1 {
		file = fs.Arg(0)
	} else if fs.NArg() != 0 || file == "" {
		return errors.New(backupUsage)
	}
	if cfg.DatabaseURL != "" {
		return errors.New("the database is PostgreSQL (TOMONI_DB): back it up with pg_dump, see docs/deploy.md")
	}
	if err := sqlite.Backup(ctx, filepath.Join(cfg.DataDir, "tomoni.db"), file); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backed up %s to %s\n", filepath.Join(cfg.DataDir, "tomoni.db"), file)
	return nil
}
