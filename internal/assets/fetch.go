package assets

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"
)

// FetchConfig bounds the server's own fetching of page files.
type FetchConfig struct {
	MaxBytes   int64         // largest file fetched
	Timeout    time.Duration // whole fetch, redirects included
	CacheBytes int64         // memory for fetched files, shared by all sessions
	CacheTTL   time.Duration // how long a fetched file is served from memory
}

// Errors a fetch ends with. The staff browser gets a placeholder for all of
// them; they are counted, and logged without the URL.
var (
	ErrOriginNotAllowed = errors.New("asset origin not allowed")
	ErrAddressRefused   = errors.New("asset host resolves to an address that is refused")
	ErrTooLarge         = errors.New("asset larger than the cap")
	ErrContentType      = errors.New("asset content type not allowed")
	ErrStatus           = errors.New("asset origin answered with an error")
)

// file is a fetched page file.
type file struct {
	url   string // final URL, after redirects: references inside CSS resolve against it
	ctype string
	body  []byte
}

// fetcher fetches page files from the allowed asset origins: no cookies,
// no customer headers, only public addresses unless an origin was let
// through explicitly (the demo runs on loopback), no redirect off the list,
// and bounded in size and time. Files are cached in memory only.
type fetcher struct {
	cfg    FetchConfig
	client *http.Client

	mu      sync.RWMutex
	origins map[string]bool // allowed origin → may resolve to private addresses

	cache *cache
}

type allowPrivateKey struct{}

func newFetcher(cfg FetchConfig) *fetcher {
	f := &fetcher{cfg: cfg, origins: make(map[string]bool), cache: newCache(cfg.CacheBytes, cfg.CacheTTL)}
	dialer := &net.Dialer{Timeout: cfg.Timeout}
	transport := &http.Transport{
		Proxy:                 nil, // the guard checks the address actually dialled; a proxy would hide it
		DialContext:           f.guardedDial(dialer),
		TLSHandshakeTimeout:   cfg.Timeout,
		ResponseHeaderTimeout: cfg.Timeout,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       30 * time.Second,
		DisableCompression:    false,
	}
	f.client = &http.Client{
		Transport: transport,
		Timeout:   cfg.Timeout,
		Jar:       nil,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 3 {
				return errors.New("too many redirects")
			}
			if _, ok := f.allowed(req.URL); !ok {
				return ErrOriginNotAllowed
			}
			return nil
		},
	}
	return f
}

// allow adds an origin that page files may be fetched from. allowPrivate
// lets it resolve to loopback or private addresses (a demo or test site on
// this machine); never set it for an origin someone else controls.
func (f *fetcher) allow(origin string, allowPrivate bool) error {
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" && u.Path != "/" {
		return fmt.Errorf("asset origin %q must be scheme://host[:port]", origin)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.origins[originOf(u)] = f.origins[originOf(u)] || allowPrivate
	return nil
}

func (f *fetcher) allowed(u *url.URL) (allowPrivate, ok bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	p, ok := f.origins[originOf(u)]
	return p, ok
}

func originOf(u *url.URL) string {
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	return u.Scheme + "://" + net.JoinHostPort(host, port)
}

// guardedDial refuses addresses that are not public unless the request's
// origin may use them, checking the address that is actually dialled (after
// DNS resolution, so a public name pointing at 127.0.0.1 is refused too).
func (f *fetcher) guardedDial(d *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		if err != nil {
			return nil, err
		}
		allowPrivate, _ := ctx.Value(allowPrivateKey{}).(bool)
		for _, ip := range ips {
			if !allowPrivate && !public(ip) {
				return nil, fmt.Errorf("%w: %s", ErrAddressRefused, ip)
			}
		}
		if len(ips) == 0 {
			return nil, fmt.Errorf("no address for %s", host)
		}
		return d.DialContext(ctx, network, net.JoinHostPort(ips[0].String(), port))
	}
}

// public reports whether ip is an ordinary internet address.
func public(ip netip.Addr) bool {
	ip = ip.Unmap()
	return ip.IsGlobalUnicast() && !ip.IsPrivate() && !ip.IsLoopback() && !ip.IsLinkLocalUnicast() &&
		!netip.MustParsePrefix("100.64.0.0/10").Contains(ip) && // carrier-grade NAT
		!netip.MustParsePrefix("fc00::/7").Contains(ip)
}

// allowedType reports whether a page may use a file of this media type.
func allowedType(ctype string) bool {
	mt, _, err := mime.ParseMediaType(ctype)
	if err != nil {
		return false
	}
	switch {
	case strings.HasPrefix(mt, "image/"), strings.HasPrefix(mt, "font/"), strings.HasPrefix(mt, "video/"), strings.HasPrefix(mt, "audio/"):
		return true
	}
	switch mt {
	case "text/css", "application/font-woff", "application/font-woff2", "application/x-font-woff", "application/x-font-ttf",
		"application/x-font-opentype", "application/vnd.ms-fontobject", "application/octet-stream":
		return true
	}
	return false
}

// get fetches raw, from memory when it was fetched lately.
func (f *fetcher) get(ctx context.Context, raw string) (file, error) {
	if fl, ok := f.cache.get(raw); ok {
		return fl, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return file{}, err
	}
	allowPrivate, ok := f.allowed(u)
	if !ok {
		return file{}, ErrOriginNotAllowed
	}
	ctx = context.WithValue(ctx, allowPrivateKey{}, allowPrivate)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return file{}, err
	}
	req.Header.Set("User-Agent", "Tomoni page-file fetcher")
	req.Header.Set("Accept", "image/*,font/*,text/css,*/*;q=0.1")
	res, err := f.client.Do(req)
	if err != nil {
		return file{}, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return file{}, fmt.Errorf("%w: %d", ErrStatus, res.StatusCode)
	}
	ctype := res.Header.Get("Content-Type")
	if !allowedType(ctype) {
		return file{}, fmt.Errorf("%w: %q", ErrContentType, ctype)
	}
	if res.ContentLength > f.cfg.MaxBytes {
		return file{}, ErrTooLarge
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, f.cfg.MaxBytes+1))
	if err != nil {
		return file{}, err
	}
	if int64(len(body)) > f.cfg.MaxBytes {
		return file{}, ErrTooLarge
	}
	fl := file{url: res.Request.URL.String(), ctype: ctype, body: body}
	f.cache.put(raw, fl)
	return fl, nil
}

// cache keeps fetched files in memory, bounded in bytes, oldest use out first.
type cache struct {
	max int64
	ttl time.Duration
	now func() time.Time

	mu    sync.Mutex
	size  int64
	order *list.List // of *cacheEntry, most recently used first
	byURL map[string]*list.Element
}

type cacheEntry struct {
	key     string
	f       file
	expires time.Time
}

func newCache(max int64, ttl time.Duration) *cache {
	return &cache{max: max, ttl: ttl, now: time.Now, order: list.New(), byURL: make(map[string]*list.Element)}
}

func (c *cache) get(key string) (file, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byURL[key]
	if !ok {
		return file{}, false
	}
	e := el.Value.(*cacheEntry)
	if !c.now().Before(e.expires) {
		c.removeLocked(el)
		return file{}, false
	}
	c.order.MoveToFront(el)
	return e.f, true
}

func (c *cache) put(key string, f file) {
	n := int64(len(f.body))
	if n > c.max {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byURL[key]; ok {
		c.removeLocked(el)
	}
	for c.size+n > c.max && c.order.Len() > 0 {
		c.removeLocked(c.order.Back())
	}
	c.byURL[key] = c.order.PushFront(&cacheEntry{key: key, f: f, expires: c.now().Add(c.ttl)})
	c.size += n
}

func (c *cache) removeLocked(el *list.Element) {
	e := el.Value.(*cacheEntry)
	c.order.Remove(el)
	delete(c.byURL, e.key)
	c.size -= int64(len(e.f.body))
}

func (c *cache) bytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.size
}
