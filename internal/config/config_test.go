package config

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestLoadPrecedence(t *testing.T) {
	env := map[string]string{"TOMONI_ADDR": "127.0.0.1:9000", "TOMONI_CODE_TTL": "5m", "TOMONI_SITE_ORIGINS": "https://bank.example, https://ib.bank.example"}
	c, err := Load([]string{"--addr", "127.0.0.1:9100"}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:9100" {
		t.Errorf("flag should beat env: %s", c.Addr)
	}
	if c.CodeTTL != 5*time.Minute {
		t.Errorf("env code TTL ignored: %s", c.CodeTTL)
	}
	if len(c.SiteOrigins) != 2 || c.SiteOrigins[1] != "https://ib.bank.example" {
		t.Errorf("site origins %v", c.SiteOrigins)
	}
}

func TestValidateRejectsBadValues(t *testing.T) {
	for name, mutate := range map[string]func(*Config){
		"zero ttl":       func(c *Config) { c.CodeTTL = 0 },
		"bad origin":     func(c *Config) { c.SiteOrigins = []string{"bank.example"} },
		"origin path":    func(c *Config) { c.SiteOrigins = []string{"https://bank.example/app"} },
		"negative limit": func(c *Config) { c.MaxLive = -1 },
		"tiny cap":       func(c *Config) { c.MaxCustomerMessage = 10 },
		"log level":      func(c *Config) { c.LogLevel = "loud" },
		"public url":     func(c *Config) { c.PublicURL = "ftp://x" },
	} {
		c := Default()
		mutate(&c)
		if c.Validate() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := Default().Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
}

func TestNormalizeOrigin(t *testing.T) {
	for in, want := range map[string]string{
		"https://Bank.Example:443/": "https://bank.example",
		"http://127.0.0.1:8081":     "http://127.0.0.1:8081",
		"http://a.example:80":       "http://a.example",
	} {
		got, err := NormalizeOrigin(in)
		if err != nil || got != want {
			t.Errorf("NormalizeOrigin(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestDefaultsServeBothDemoOrigins(t *testing.T) {
	c := Default()
	if c.Addr != "127.0.0.1:8080" || c.DemoAddr != "127.0.0.1:8081" || c.DemoIBAddr != "127.0.0.1:8082" {
		t.Fatalf("default addresses %q %q %q", c.Addr, c.DemoAddr, c.DemoIBAddr)
	}
}

// README.md states the fixed bounds in prose; it must state these.
func TestReadmeStatesTheFixedBounds(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := strings.Join(strings.Fields(string(b)), " ")
	d := DefaultBounds()
	for _, want := range []string{
		fmt.Sprintf("bounds its queue (%d messages, %d MiB)", d.QueueMessages, d.QueueBytes>>20),
		fmt.Sprintf("customer %g/s with a burst of %d, staff %g/s with a burst of %d", d.CustomerRate, d.CustomerBurst, d.StaffRate, d.StaffBurst),
		fmt.Sprintf("inflated (%d MiB/s with %d MiB at once", int(d.CustomerBytesRate)>>20, d.CustomerBytesBurst>>20),
		fmt.Sprintf("pings every %s with a %s write deadline", short(d.PingInterval), short(d.WriteTimeout)),
		fmt.Sprintf("hand-off token lives %s (at most %d outstanding per session)", short(d.HandoffTTL), d.MaxHandoffs),
		fmt.Sprintf("recognised for %d minutes after its session ends", int(d.TokenAfterEnd.Minutes())),
		fmt.Sprintf("has %d minutes to confirm", int(d.ConfirmWithin.Minutes())),
		fmt.Sprintf("fresh full snapshot every %d minutes", int(d.SnapshotEvery.Minutes())),
		fmt.Sprintf("at most %d join requests wait on one code", d.MaxJoinRequests),
		fmt.Sprintf("lapses when its page has not asked for %s; each ask is held open up to %s", short(d.JoinRequestIdle), short(d.JoinPollWait)),
		fmt.Sprintf("warned %d minutes before", int(d.WarnBefore.Minutes())),
		fmt.Sprintf("(at most %s)", thousands(d.MaxEndedHistory)),
		fmt.Sprintf("at most %s addresses", thousands(d.RateLimitKeys)),
		fmt.Sprintf("sets up at most %g sockets a second (%d at once); a socket waits up to %s for its turn", d.SocketOpenRate, d.SocketOpenBurst, short(d.SocketOpenWait)),
		fmt.Sprintf("at most %d password hashes (64 MiB each) run at once; a login waits up to %s for its turn", d.LoginHashes, short(d.LoginHashWait)),
	} {
		if !strings.Contains(readme, want) {
			t.Errorf("README.md does not say %q", want)
		}
	}
}

// short writes whole seconds as README does: "10 s".
func short(d time.Duration) string { return fmt.Sprintf("%d s", int(d.Seconds())) }

func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func TestTrustedProxies(t *testing.T) {
	env := func(k string) string {
		if k == "TOMONI_TRUSTED_PROXIES" {
			return "10.0.0.0/8, fd00::/8"
		}
		return ""
	}
	c, err := Load(nil, env)
	if err != nil || len(c.TrustedProxies) != 2 {
		t.Fatalf("from the environment: %v %v", c.TrustedProxies, err)
	}
	if _, err := Load([]string{"--trusted-proxy", "10.0.0.1"}, func(string) string { return "" }); err == nil {
		t.Fatal("an address without a prefix length was accepted as a trusted proxy")
	}
}

var updateReadme = flag.Bool("update-readme", false, "rewrite README.md's table of settings from the options")

// README.md's table of settings is generated from the one table of options
// (go test ./internal/config -update-readme rewrites it).
func TestReadmeTableIsTheOptions(t *testing.T) {
	const begin, end = "<!-- options: generated by internal/config; go test ./internal/config -update-readme -->\n", "<!-- /options -->"
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	i, j := strings.Index(readme, begin), strings.Index(readme, end)
	if i < 0 || j < i {
		t.Fatalf("README.md lacks the markers around the settings table")
	}
	want := OptionsTable()
	if got := readme[i+len(begin) : j]; got != want {
		if *updateReadme {
			if err := os.WriteFile("../../README.md", []byte(readme[:i+len(begin)]+want+readme[j:]), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Fatalf("README.md's table differs from the options; run go test ./internal/config -update-readme\nwant:\n%s", want)
	}
}

// A config file sets what the flags set; the environment and the flags
// override it; an unknown key or a bad value is refused with its name.
func TestConfigFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tomoni.yaml")
	os.WriteFile(path, []byte("max-live: 7\ncode-ttl: 3m\nsite-origin:\n  - https://bank.test\n  - https://ib.bank.test\njoin-alert-rate: 12.5\nlog-level: warn\n"), 0o600)
	env := map[string]string{"TOMONI_LOG_LEVEL": "debug"}
	c, err := Load([]string{"--config", path, "--max-live", "9"}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxLive != 9 || c.CodeTTL != 3*time.Minute || strings.Join(c.SiteOrigins, ",") != "https://bank.test,https://ib.bank.test" || c.JoinAlertPerMinute != 12.5 || c.LogLevel != "debug" {
		t.Fatalf("config %+v", c)
	}
	env = map[string]string{"TOMONI_CONFIG": path}
	if c, err := Load(nil, func(k string) string { return env[k] }); err != nil || c.MaxLive != 7 {
		t.Fatalf("TOMONI_CONFIG: %d %v", c.MaxLive, err)
	}
	for body, says := range map[string]string{"max-lives: 3\n": "max-lives", "code-ttl: soon\n": "code-ttl", "max-live: [1\n": "tomoni.yaml"} {
		os.WriteFile(path, []byte(body), 0o600)
		if _, err := Load([]string{"--config=" + path}, func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), says) {
			t.Errorf("%q: %v, want an error naming %q", body, err, says)
		}
	}
	if _, err := Load([]string{"--config", filepath.Join(dir, "missing.yaml")}, func(string) string { return "" }); err == nil {
		t.Error("a missing config file was accepted")
	}
}
