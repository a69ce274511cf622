package config

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// An option is one setting, declared once: its flag, its environment
// variable, its key in the config file and its line in README.md's table
// all come from this entry, so they cannot drift apart.
type option struct {
	name  string // flag name and config-file key
	env   string // environment variable
	usage string
	bind  func(c *Config) value
}

// value is a flag.Value over one Config field; clear empties a list before
// a whole new one is set (environment, file), while repeated flags append.
type value interface {
	flag.Value
	clear()
}

// options is the table of every setting, in the order --help lists them.
var options = []option{
	{"addr", "TOMONI_ADDR", "server listen address", func(c *Config) value { return (*strVal)(&c.Addr) }},
	{"public-url", "TOMONI_PUBLIC_URL", "URL browsers use to reach the server; the console's Origin must match it exactly (required when addr listens on every interface); https adds HSTS and a Secure __Host- login cookie", func(c *Config) value { return (*strVal)(&c.PublicURL) }},
	{"metrics-addr", "TOMONI_METRICS_ADDR", "operators' listener for /metrics and /healthz (not the public one; not 9090, which Prometheus itself takes); empty turns it off", func(c *Config) value { return (*strVal)(&c.MetricsAddr) }},
	{"demo-addr", "TOMONI_DEMO_ADDR", "demo bank listen address; empty turns the demo off", func(c *Config) value { return (*strVal)(&c.DemoAddr) }},
	{"demo-ib-addr", "TOMONI_DEMO_IB_ADDR", "demo internet banking (a second origin) listen address; empty turns it off", func(c *Config) value { return (*strVal)(&c.DemoIBAddr) }},
	{"data", "TOMONI_DATA", "data directory (the embedded database)", func(c *Config) value { return (*strVal)(&c.DataDir) }},
	{"db", "TOMONI_DB", "PostgreSQL URL (postgres://user@host:port/db) for accounts and the audit, shared by every node; empty is SQLite in the data directory", func(c *Config) value { return (*strVal)(&c.DatabaseURL) }},
	{"nats", "TOMONI_NATS", "NATS URL (nats://host:4222, JetStream on) to run as one node of a cluster (docs/deploy.md); empty runs a single node in memory", func(c *Config) value { return (*strVal)(&c.NATSURL) }},
	{"nats-bucket", "TOMONI_NATS_BUCKET", "prefix of the cluster's JetStream buckets (<prefix>_sessions, _nodes, _limits): deployments sharing one NATS need different ones", func(c *Config) value { return (*strVal)(&c.NATSBucket) }},
	{"nats-replicas", "TOMONI_NATS_REPLICAS", "copies JetStream keeps of each bucket: 1 on a single NATS server, 3 on a NATS cluster of three or more", func(c *Config) value { return (*intVal)(&c.NATSReplicas) }},
	{"policy", "TOMONI_POLICY", "site policy JSON file: masks, blocks, unmasks, excluded pages, software keyboards (docs/privacy.md); empty is the built-in one", func(c *Config) value { return (*strVal)(&c.PolicyFile) }},
	{"site-origin", "TOMONI_SITE_ORIGINS", "origins that may embed the SDK (repeat, or comma-separate); the demo's are added by themselves", func(c *Config) value { return &listVal{p: &c.SiteOrigins} }},
	{"trusted-proxy", "TOMONI_TRUSTED_PROXIES", "reverse proxies (CIDRs) whose X-Forwarded-For names the client; per-address limits then count each client (IPv6 per /64) instead of the proxy", func(c *Config) value { return &listVal{p: &c.TrustedProxies} }},
	{"admin-name", "TOMONI_ADMIN_NAME", "display name of the administrator created on first start (customers confirm it); empty is 管理者", func(c *Config) value { return (*strVal)(&c.AdminName) }},
	{"code-ttl", "TOMONI_CODE_TTL", "how long a join code stays valid", func(c *Config) value { return (*durVal)(&c.CodeTTL) }},
	{"grace", "TOMONI_GRACE", "how long a disconnected customer may take to come back", func(c *Config) value { return (*durVal)(&c.Grace) }},
	{"staff-idle", "TOMONI_STAFF_IDLE", "end a session with no staff connected after this long", func(c *Config) value { return (*durVal)(&c.StaffIdle) }},
	{"max-duration", "TOMONI_MAX_DURATION", "longest a session may last", func(c *Config) value { return (*durVal)(&c.MaxDuration) }},
	{"max-live", "TOMONI_MAX_LIVE", "concurrent live sessions", func(c *Config) value { return (*intVal)(&c.MaxLive) }},
	{"max-waiting", "TOMONI_MAX_WAITING", "codes waiting for a customer", func(c *Config) value { return (*intVal)(&c.MaxWaiting) }},
	{"max-per-staff", "TOMONI_MAX_PER_STAFF", "open sessions per staff member", func(c *Config) value { return (*intVal)(&c.MaxPerStaff) }},
	{"join-rate", "TOMONI_JOIN_RATE", "wrong join codes per client address (IPv6 per /64) per minute; a right code costs nothing", func(c *Config) value { return (*floatVal)(&c.JoinPerMinute) }},
	{"join-burst", "TOMONI_JOIN_BURST", "wrong join codes a client address may send at once", func(c *Config) value { return (*intVal)(&c.JoinBurst) }},
	{"join-alert-rate", "TOMONI_JOIN_ALERT_RATE", "wrong codes per minute, deployment-wide, that log an alert and count tomoni_join_guess_alerts_total; nobody is refused for it", func(c *Config) value { return (*floatVal)(&c.JoinAlertPerMinute) }},
	{"login-rate", "TOMONI_LOGIN_RATE", "staff login attempts per minute, per address and per username and network", func(c *Config) value { return (*floatVal)(&c.LoginPerMinute) }},
	{"login-burst", "TOMONI_LOGIN_BURST", "staff login attempts at once, per address and per username and network", func(c *Config) value { return (*intVal)(&c.LoginBurst) }},
	{"max-customer-message", "TOMONI_MAX_CUSTOMER_MESSAGE", "bytes per customer message, as inflated", func(c *Config) value { return (*int64Val)(&c.MaxCustomerMessage) }},
	{"max-page-bytes", "TOMONI_MAX_PAGE_BYTES", "bytes of one page's snapshot (sent in pieces); a larger page is not shared and both sides are told", func(c *Config) value { return (*int64Val)(&c.MaxPageBytes) }},
	{"max-staff-message", "TOMONI_MAX_STAFF_MESSAGE", "bytes per staff message", func(c *Config) value { return (*int64Val)(&c.MaxStaffMessage) }},
	{"audit-retention-days", "TOMONI_AUDIT_RETENTION_DAYS", "days audit rows are kept; older ones are deleted (checked at start and every minute)", func(c *Config) value { return (*intVal)(&c.AuditRetentionDays) }},
	{"log-level", "TOMONI_LOG_LEVEL", "debug, info, warn or error", func(c *Config) value { return (*strVal)(&c.LogLevel) }},
}

type strVal string

func (v *strVal) String() string     { return string(*v) }
func (v *strVal) Set(s string) error { *v = strVal(s); return nil }
func (v *strVal) clear()             {}

type intVal int

func (v *intVal) String() string { return strconv.Itoa(int(*v)) }
func (v *intVal) Set(s string) error {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("%q is not a whole number", s)
	}
	*v = intVal(n)
	return nil
}
func (v *intVal) clear() {}

type int64Val int64

func (v *int64Val) String() string { return strconv.FormatInt(int64(*v), 10) }
func (v *int64Val) Set(s string) error {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return fmt.Errorf("%q is not a whole number", s)
	}
	*v = int64Val(n)
	return nil
}
func (v *int64Val) clear() {}

type floatVal float64

func (v *floatVal) String() string { return strconv.FormatFloat(float64(*v), 'g', -1, 64) }
func (v *floatVal) Set(s string) error {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return fmt.Errorf("%q is not a number", s)
	}
	*v = floatVal(f)
	return nil
}
func (v *floatVal) clear() {}

type durVal time.Duration

// String writes 10m rather than Go's 10m0s.
func (v *durVal) String() string {
	s := time.Duration(*v).String()
	s = strings.TrimSuffix(s, "m0s")
	if strings.HasSuffix(time.Duration(*v).String(), "m0s") {
		s += "m"
	}
	return strings.Replace(s, "h0m", "h", 1)
}
func (v *durVal) Set(s string) error {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("%q is not a duration such as 90s or 10m", s)
	}
	*v = durVal(d)
	return nil
}
func (v *durVal) clear() {}

// listVal appends on every Set, so a flag may be repeated or take a
// comma-separated list.
type listVal struct{ p *[]string }

func (v *listVal) String() string {
	if v == nil || v.p == nil {
		return ""
	}
	return strings.Join(*v.p, ",")
}
func (v *listVal) Set(s string) error { *v.p = append(*v.p, splitList(s)...); return nil }
func (v *listVal) clear()             { *v.p = nil }

// RegisterFlags binds every setting to a flag on fs, with defaults taken
// from c (so apply the file and the environment first).
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	for _, o := range options {
		fs.Var(o.bind(c), o.name, o.usage+" ("+o.env+")")
	}
}

// ApplyEnv reads the TOMONI_* variables from getenv.
func (c *Config) ApplyEnv(getenv func(string) string) error {
	var errs []error
	for _, o := range options {
		if v, ok := lookup(getenv, o.env); ok {
			val := o.bind(c)
			val.clear()
			if err := val.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", o.env, err))
			}
		}
	}
	return errors.Join(errs...)
}

// ApplyFile reads a YAML config file whose keys are the flags' names
// (max-live: 50, site-origin: [https://a, https://b], code-ttl: 10m). An
// unknown key is an error, so a typo cannot be silently ignored.
func (c *Config) ApplyFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	byName := make(map[string]option, len(options))
	for _, o := range options {
		byName[o.name] = o
	}
	keys := make([]string, 0, len(doc))
	for k := range doc {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var errs []error
	for _, k := range keys {
		o, ok := byName[k]
		if !ok {
			errs = append(errs, fmt.Errorf("config file %s: unknown key %q", path, k))
			continue
		}
		val := o.bind(c)
		val.clear()
		items, isList := doc[k].([]any)
		if !isList {
			items = []any{doc[k]}
		}
		for _, it := range items {
			if it == nil {
				it = ""
			}
			if err := val.Set(fmt.Sprint(it)); err != nil {
				errs = append(errs, fmt.Errorf("config file %s: %s: %w", path, k, err))
			}
		}
	}
	return errors.Join(errs...)
}

// configPath finds --config in args (or TOMONI_CONFIG): the file is read
// before the environment and the other flags, which override it.
func configPath(args []string, getenv func(string) string) string {
	path, _ := lookup(getenv, "TOMONI_CONFIG")
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "config" {
			continue
		}
		if hasVal {
			path = val
		} else if i+1 < len(args) {
			path = args[i+1]
			i++
		}
	}
	return path
}

// OptionsTable is README.md's table of settings, generated from options
// with the defaults of Default(); a test holds README.md to it.
func OptionsTable() string {
	d := Default()
	var b strings.Builder
	b.WriteString("| flag / file key | environment | default | meaning |\n| --- | --- | --- | --- |\n")
	b.WriteString("| `--config` | `TOMONI_CONFIG` | none | YAML file whose keys are the flags' names (`max-live: 50`); the environment and flags override it |\n")
	for _, o := range options {
		def := o.bind(&d).String()
		switch {
		case def == "" && o.name == "public-url":
			def = "`http://<addr>`"
		case def == "" && o.name == "site-origin":
			def = "the demo's"
		case def == "":
			def = "none"
		default:
			def = "`" + def + "`"
		}
		fmt.Fprintf(&b, "| `--%s` | `%s` | %s | %s |\n", o.name, o.env, def, o.usage)
	}
	return b.String()
}
