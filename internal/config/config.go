// Package config holds Tomoni's one configuration struct: defaults, flags,
// TOMONI_* environment variables and validation. Nothing here is global.
package config

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"
)

// Config is everything an operator can set.
type Config struct {
	Addr string // Tomoni server listen address
	// AdminName is the display name of the administrator created on first
	// start (customers confirm the name of the staff they share with).
	AdminName string
	// AuditRetentionDays is how long audit rows are kept.
	AuditRetentionDays int
	// MetricsAddr serves /metrics (and /healthz) for operators, apart from
	// the public listener; empty turns it off.
	MetricsAddr string
	DemoAddr    string // demo bank listen address; empty disables the demo
	// DemoIBAddr serves the demo internet banking, a second origin of the
	// same bank, to show sessions that cross domains; empty disables it.
	DemoIBAddr string
	DataDir    string // where the SQLite database lives
	// DatabaseURL (postgres://…) puts accounts, logins and the audit in
	// PostgreSQL, shared by every node; empty keeps SQLite in DataDir.
	DatabaseURL string
	// NATSURL joins a cluster: sessions, capacity and relay traffic go
	// through this NATS server (JetStream); empty runs one node in memory.
	NATSURL string
	// NATSBucket prefixes the cluster's JetStream buckets.
	NATSBucket string
	// NATSReplicas is how many copies JetStream keeps of each bucket.
	NATSReplicas int

	// PublicURL is how browsers reach the server (e.g. https://cobrowse.example.jp).
	// Empty means http://<Addr as listened>.
	PublicURL string
	// SiteOrigins may embed the SDK and open customer sockets. The demo's
	// own origins are added automatically while the demo runs.
	SiteOrigins []string
	// TrustedProxies are the reverse proxies (CIDRs) whose X-Forwarded-For
	// names the client. Without them every per-address limit would count
	// the proxy as one client; with a wrong one a client could pick its
	// own address.
	TrustedProxies []string

	CodeTTL       time.Duration
	Grace         time.Duration
	StaffIdle     time.Duration
	MaxDuration   time.Duration
	MaxLive       int
	MaxWaiting    int
	MaxPerStaff   int
	JoinPerMinute float64 // join attempts per client address per minute
	JoinBurst     int
	// JoinAlertPerMinute is how many wrong codes a minute, deployment-wide,
	// raise an alert (a log line and a metric). It never refuses anyone: a
	// guessed code is worth nothing without the staff's admission, so
	// there is no reason to slow real customers down. See docs/security.md.
	JoinAlertPerMinute float64
	LoginPerMinute     float64
	LoginBurst         int

	MaxCustomerMessage int64
	MaxStaffMessage    int64
	// MaxPageBytes bounds one page's snapshot (or any one event) as the SDK
	// sends it in pieces of at most MaxCustomerMessage; a larger page is
	// not shared (the customer and staff are told so).
	MaxPageBytes int64

	LogLevel string // debug, info, warn, error

	// PolicyFile is a JSON site policy (see docs/privacy.md); empty uses the
	// built-in default (the demo bank's privacy page is excluded).
	PolicyFile string

	// Bounds are fixed limits with no flag of their own; they live here so
	// that every package receives them and none invents its own.
	Bounds Bounds

	// TestDisableSDKMasking makes the policy tell the SDK to skip its own
	// masking, so tests can show the server filter alone. It has no flag
	// and no environment variable: only Go code (tests) can set it.
	TestDisableSDKMasking bool
}

// Bounds are the limits an operator does not tune but a reader of the code
// must find in one place. README.md lists them.
type Bounds struct {
	WarnBefore      time.Duration // staff and customer are warned this long before MaxDuration
	EndedRetention  time.Duration // ended sessions stay listed this long
	MaxEndedHistory int           // at most this many ended sessions are listed
	TokenAfterEnd   time.Duration // a customer token still gets "ended" this long after the end
	ConfirmWithin   time.Duration // a joined customer has this long to confirm the staff name
	HandoffTTL      time.Duration // a hand-off token must be redeemed within this (one navigation)
	MaxHandoffs     int           // outstanding hand-off tokens per session
	MaxJoinRequests int           // join requests that may wait on one code for the staff's decision
	JoinRequestIdle time.Duration // a join request lapses when its page has not polled for this long
	JoinPollWait    time.Duration // longest a join request's poll is held open before "still pending"

	QueueMessages      int           // messages queued per socket
	QueueBytes         int64         // bytes queued per socket
	CustomerRate       float64       // customer messages per second
	CustomerBurst      int           // customer burst: a snapshot plus its first batches
	CustomerBytesRate  float64       // customer bytes per second (as inflated); past it the socket is read more slowly
	CustomerBytesBurst int           // customer bytes at once (as inflated)
	StaffRate          float64       // staff messages per second
	StaffBurst         int           // staff burst
	PingInterval       time.Duration // each socket is pinged this often
	WriteTimeout       time.Duration // deadline of each write and ping
	ResyncMinInterval  time.Duration // at most one slow-console resync per socket per interval
	SnapshotEvery      time.Duration // the recorder takes a fresh full snapshot this often; the console's replay keeps only events since the last one

	RateLimitKeys int // addresses or usernames tracked per rate-limit table

	// SocketOpenRate and SocketOpenBurst pace the sockets a node sets up:
	// when thousands of pages reconnect at once (a node restarted), the
	// sessions already live keep their share of the machine.
	SocketOpenRate  float64
	SocketOpenBurst int
	SocketOpenWait  time.Duration // longest a socket waits for its turn before "busy"

	LoginHashes   int           // password hashes (64 MiB each) that may run at once
	LoginHashWait time.Duration // longest a login waits for a free hash slot before "busy"
	LoginUserWait time.Duration // longest a login over its username-and-network limit waits for its turn

	AssetMaxBytes       int64         // largest page file the server fetches for the replay
	AssetTimeout        time.Duration // longest fetch of one page file
	AssetCacheBytes     int64         // memory for fetched page files, all sessions together
	AssetCacheTTL       time.Duration // how long a fetched page file is reused
	AssetURLsPerSession int           // distinct page files one session may name
	AssetCustomerWait   time.Duration // how long to wait for a page file from the customer's browser
	AssetCustomerBytes  int64         // page files from the customer's browser kept per session
}

// DefaultBounds are the fixed limits.
func DefaultBounds() Bounds {
	return Bounds{
		WarnBefore:         5 * time.Minute,
		EndedRetention:     time.Hour,
		MaxEndedHistory:    1000,
		TokenAfterEnd:      2 * time.Minute,
		ConfirmWithin:      5 * time.Minute,
		HandoffTTL:         30 * time.Second,
		MaxHandoffs:        5,
		MaxJoinRequests:    4,
		JoinRequestIdle:    45 * time.Second,
		JoinPollWait:       20 * time.Second,
		QueueMessages:      256,
		QueueBytes:         16 << 20,
		CustomerRate:       50,
		CustomerBurst:      200,
		CustomerBytesRate:  1 << 20,
		CustomerBytesBurst: 8 << 20,
		StaffRate:          40,
		StaffBurst:         80,
		PingInterval:       10 * time.Second,
		WriteTimeout:       10 * time.Second,
		ResyncMinInterval:  2 * time.Second,
		SnapshotEvery:      10 * time.Minute,
		RateLimitKeys:      100_000,
		SocketOpenRate:     200,
		SocketOpenBurst:    50,
		SocketOpenWait:     30 * time.Second,
		LoginHashes:        2,
		LoginHashWait:      5 * time.Second,
		LoginUserWait:      10 * time.Second,

		AssetMaxBytes:       5 << 20,
		AssetTimeout:        10 * time.Second,
		AssetCacheBytes:     64 << 20,
		AssetCacheTTL:       10 * time.Minute,
		AssetURLsPerSession: 5000,
		AssetCustomerWait:   5 * time.Second,
		AssetCustomerBytes:  16 << 20,
	}
}

// Default returns the embedded, no-setup configuration.
func Default() Config {
	return Config{
		Addr:               "127.0.0.1:8080",
		MetricsAddr:        "127.0.0.1:8083",
		AuditRetentionDays: 400,
		DemoAddr:           "127.0.0.1:8081",
		DemoIBAddr:         "127.0.0.1:8082",
		DataDir:            "./tomoni-data",
		NATSBucket:         "tomoni",
		NATSReplicas:       1,
		CodeTTL:            10 * time.Minute,
		Grace:              60 * time.Second,
		StaffIdle:          10 * time.Minute,
		MaxDuration:        2 * time.Hour,
		MaxLive:            100,
		MaxWaiting:         100,
		MaxPerStaff:        3,
		JoinPerMinute:      3,
		JoinBurst:          10,
		JoinAlertPerMinute: 30,
		LoginPerMinute:     6,
		LoginBurst:         10,
		MaxCustomerMessage: 4 << 20,
		MaxStaffMessage:    4 << 10,
		MaxPageBytes:       32 << 20,
		LogLevel:           "info",
		Bounds:             DefaultBounds(),
	}
}

// Validate reports the first invalid setting.
func (c Config) Validate() error {
	var errs []error
	if c.Addr == "" {
		errs = append(errs, errors.New("addr must not be empty"))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("data directory must not be empty"))
	}
	if c.DatabaseURL != "" {
		if u, err := url.Parse(c.DatabaseURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			errs = append(errs, errors.New("database URL must be postgres://user@host:port/database"))
		}
	}
	if c.NATSURL != "" {
		if u, err := url.Parse(c.NATSURL); err != nil || (u.Scheme != "nats" && u.Scheme != "tls") || u.Host == "" {
			errs = append(errs, errors.New("NATS URL must be nats://host:port (or tls://)"))
		}
		if c.NATSReplicas < 1 || c.NATSReplicas > 5 {
			errs = append(errs, fmt.Errorf("NATS replicas %d: 1 to 5", c.NATSReplicas))
		}
		if !validBucket(c.NATSBucket) {
			errs = append(errs, fmt.Errorf("NATS bucket prefix %q: letters, digits, - and _ only", c.NATSBucket))
		}
		if c.DatabaseURL == "" {
			// Each node's own SQLite would give each node its own staff
			// accounts and logins: a console could not move between nodes.
			errs = append(errs, errors.New("a cluster (--nats) needs a shared database: set --db postgres://…"))
		}
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			errs = append(errs, fmt.Errorf("public URL %q must be http(s)://host[:port]", c.PublicURL))
		}
	} else if host, _, err := net.SplitHostPort(c.Addr); err == nil && (host == "" || host == "0.0.0.0" || host == "::") {
		// The console's Origin is checked against the public URL; on every
		// interface there is no single address to take it from.
		errs = append(errs, fmt.Errorf("addr %q listens on every interface: set --public-url to the URL browsers use", c.Addr))
	}
	for _, o := range c.SiteOrigins {
		if _, err := NormalizeOrigin(o); err != nil {
			errs = append(errs, err)
		}
	}
	for _, p := range c.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			errs = append(errs, fmt.Errorf("trusted proxy %q: want a CIDR such as 10.0.0.0/8 or 192.0.2.7/32", p))
		}
	}
	pos := func(name string, d time.Duration) {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive", name))
		}
	}
	pos("code TTL", c.CodeTTL)
	pos("grace period", c.Grace)
	pos("staff idle limit", c.StaffIdle)
	pos("max duration", c.MaxDuration)
	for name, v := range map[string]int{"audit retention": c.AuditRetentionDays, "max live": c.MaxLive, "max waiting": c.MaxWaiting, "max per staff": c.MaxPerStaff, "join burst": c.JoinBurst, "login burst": c.LoginBurst} {
		if v <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive", name))
		}
	}
	if c.JoinAlertPerMinute <= 0 {
		errs = append(errs, errors.New("join alert threshold must be positive"))
	}
	if c.JoinPerMinute <= 0 || c.LoginPerMinute <= 0 {
		errs = append(errs, errors.New("rate limits must be positive"))
	}
	if c.MaxCustomerMessage < 64<<10 || c.MaxStaffMessage < 256 {
		errs = append(errs, errors.New("message caps too small (customer ≥ 64 KiB, staff ≥ 256 B)"))
	}
	if c.MaxPageBytes < c.MaxCustomerMessage || c.MaxPageBytes > 1<<30 {
		errs = append(errs, errors.New("max page bytes must be at least the customer message cap and at most 1 GiB"))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log level %q: want debug, info, warn or error", c.LogLevel))
	}
	return errors.Join(errs...)
}

// NormalizeOrigin turns "https://Bank.example:443/" into "https://bank.example".
func NormalizeOrigin(o string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(o))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return "", fmt.Errorf("origin %q must be scheme://host[:port]", o)
	}
	host := strings.ToLower(u.Host)
	if (u.Scheme == "http" && strings.HasSuffix(host, ":80")) || (u.Scheme == "https" && strings.HasSuffix(host, ":443")) {
		host = host[:strings.LastIndexByte(host, ':')]
	}
	return u.Scheme + "://" + host, nil
}

// Load builds a Config from defaults, then the config file (--config or
// TOMONI_CONFIG), then the environment, then the flags in args.
func Load(args []string, getenv func(string) string) (Config, error) {
	c := Default()
	if path := configPath(args, getenv); path != "" {
		if err := c.ApplyFile(path); err != nil {
			return c, err
		}
	}
	if err := c.ApplyEnv(getenv); err != nil {
		return c, err
	}
	fs := flag.NewFlagSet("tomoni", flag.ContinueOnError)
	c.RegisterFlags(fs)
	fs.String("config", "", "YAML file whose keys are these flags' names; the environment and flags override it (TOMONI_CONFIG)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage:
  tomoni [flags]                      run the server (and the demo bank, unless --demo-addr "")
  tomoni user list|add|rename|disable|enable|passwd …   manage staff accounts ("tomoni user" tells more)

Every flag can also be set by the TOMONI_* variable named in its description.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return c, c.Validate()
}

func lookup(getenv func(string) string, key string) (string, bool) {
	if getenv == nil {
		getenv = os.Getenv
	}
	v := getenv(key)
	return v, v != ""
}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func validBucket(s string) bool {
	if s == "" || len(s) > 40 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}
