// Package policy holds a site's sharing rules: what to mask, block and
// unmask, which pages are never shared, which elements are software
// keyboards. The SDK applies them in the customer's browser; package
// privacy applies them again on the server.
package policy

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
)

// Policy is what the operator configures for the sites that embed the SDK.
// The SDK fetches it when a session starts (GET /api/policy).
type Policy struct {
	// SiteOrigins may embed the SDK (merged with --site-origin).
	SiteOrigins []string `json:"site_origins,omitempty"`
	// AssetOrigins are where the server may fetch the files a shared page
	// uses (stylesheets, fonts, images on a CDN), besides the site origins,
	// so that the staff browser fetches everything from Tomoni. The server
	// never sends these fetches cookies, and refuses private addresses.
	AssetOrigins []string `json:"asset_origins,omitempty"`
	// MaskSelectors: the value or text of matching elements is shown as masked.
	MaskSelectors []string `json:"mask_selectors"`
	// BlockSelectors: matching elements become a same-size placeholder.
	BlockSelectors []string `json:"block_selectors"`
	// UnmaskSelectors: form fields safe to show (e.g. a search box). Never
	// applies to password, hidden or one-time-code fields.
	UnmaskSelectors []string `json:"unmask_selectors"`
	// ExcludedPages: URL path globs ("/privacy*") or full-URL globs
	// ("https://bank.example/settings/**"); * stops at "/", ** does not.
	ExcludedPages []string `json:"excluded_pages"`
	// CanvasSelectors: canvases the staff may see, sent as images once a
	// second while they change. Every other canvas is a blank box of its
	// size: a canvas can draw anything, private data included.
	CanvasSelectors []string `json:"canvas_selectors"`
	// SoftKeyboardSelectors: while a matching element is visible or in use,
	// sharing pauses.
	SoftKeyboardSelectors []string `json:"softkeyboard_selectors"`
	// NoCustomerFiles: page files under these globs (as ExcludedPages) are
	// never read from the customer's browser for the staff view, because
	// the files themselves are the customer's data (statements, ID scans).
	// They show as placeholders unless the server can fetch them itself.
	NoCustomerFiles []string `json:"no_customer_files"`
	// StripQuery and StripFragment remove query strings and fragments from
	// the page URLs and links that staff see.
	StripQuery    bool `json:"strip_query"`
	StripFragment bool `json:"strip_fragment"`

	excluded   []*regexp.Regexp
	noCustomer []*regexp.Regexp
}

// Default is the policy of the demo bank: its privacy page is never shared.
func Default() Policy {
	p := Policy{
		MaskSelectors:         []string{},
		BlockSelectors:        []string{},
		UnmaskSelectors:       []string{},
		ExcludedPages:         []string{"/privacy.html", "/privacy/**"},
		NoCustomerFiles:       []string{},
		CanvasSelectors:       []string{},
		SoftKeyboardSelectors: []string{},
		StripQuery:            true,
		StripFragment:         false,
	}
	p.Compile()
	return p
}

// Load reads a JSON policy file; fields it omits keep their defaults.
func Load(path string) (Policy, error) {
	p := Default()
	b, err := os.ReadFile(path)
	if err != nil {
		return p, fmt.Errorf("read policy: %w", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return p, fmt.Errorf("policy %s: %w", path, err)
	}
	if err := p.Validate(); err != nil {
		return p, fmt.Errorf("policy %s: %w", path, err)
	}
	// An explicit null must reach the SDK as an empty list, not as null.
	for _, l := range []*[]string{&p.MaskSelectors, &p.BlockSelectors, &p.UnmaskSelectors, &p.ExcludedPages, &p.SoftKeyboardSelectors, &p.NoCustomerFiles, &p.CanvasSelectors} {
		if *l == nil {
			*l = []string{}
		}
	}
	p.Compile()
	return p, nil
}

// maxSelector bounds each selector; the SDK evaluates them on every node.
const maxSelector = 512

// Validate checks the policy's shape. CSS selectors are checked by the
// browser; here only length and characters that cannot appear in one.
func (p Policy) Validate() error {
	for _, list := range [][]string{p.MaskSelectors, p.BlockSelectors, p.UnmaskSelectors, p.SoftKeyboardSelectors, p.CanvasSelectors} {
		for _, s := range list {
			if strings.TrimSpace(s) == "" || len(s) > maxSelector || strings.ContainsAny(s, "{};<") {
				return fmt.Errorf("selector %q is not a plain CSS selector", s)
			}
		}
	}
	for _, o := range p.AssetOrigins {
		if u, err := url.Parse(o); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return fmt.Errorf("asset origin %q: want scheme://host[:port]", o)
		}
	}
	for _, g := range append(append([]string{}, p.ExcludedPages...), p.NoCustomerFiles...) {
		if !strings.HasPrefix(g, "/") {
			if u, err := url.Parse(g); err != nil || u.Scheme == "" || u.Host == "" {
				return fmt.Errorf("excluded page %q: want a path starting with / or a full URL", g)
			}
		}
	}
	return nil
}

// Compile prepares the page globs; call it after changing ExcludedPages.
// A compiled Policy is safe for concurrent reads.
func (p *Policy) Compile() {
	p.excluded = p.excluded[:0]
	for _, g := range p.ExcludedPages {
		p.excluded = append(p.excluded, globRegexp(g))
	}
	p.noCustomer = p.noCustomer[:0]
	for _, g := range p.NoCustomerFiles {
		p.noCustomer = append(p.noCustomer, globRegexp(g))
	}
}

// globRegexp turns a glob into an anchored regexp: ** matches anything, *
// anything but "/", ? one character but "/".
func globRegexp(g string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(g); i++ {
		switch c := g[i]; {
		case c == '*' && i+1 < len(g) && g[i+1] == '*':
			b.WriteString(".*")
			i++
		case c == '*':
			b.WriteString("[^/]*")
		case c == '?':
			b.WriteString("[^/]")
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

// Excluded reports whether the page at rawURL must never be shared.
func (p *Policy) Excluded(rawURL string) bool {
	return matchAny(rawURL, p.ExcludedPages, p.excluded)
}

// CustomerFileAllowed reports whether a page file may be read from the
// customer's browser for the staff view (not under no_customer_files).
func (p *Policy) CustomerFileAllowed(rawURL string) bool {
	rawURL = strings.TrimPrefix(rawURL, "blob:")
	return !matchAny(rawURL, p.NoCustomerFiles, p.noCustomer)
}

// matchAny matches rawURL against globs: a glob starting with "/" against
// the path, any other against scheme://host/path. An unparseable URL
// matches, so that it is treated the careful way.
func matchAny(rawURL string, globs []string, res []*regexp.Regexp) bool {
	u, err := url.Parse(rawURL)
	if err != nil {
		return true
	}
	full := u.Scheme + "://" + u.Host + u.EscapedPath()
	for i, re := range res {
		target := full
		if strings.HasPrefix(globs[i], "/") {
			target = u.EscapedPath()
			if target == "" {
				target = "/"
			}
		}
		if re.MatchString(target) {
			return true
		}
	}
	return false
}

// CleanURL strips what the policy says to strip from a URL staff will see.
func (p *Policy) CleanURL(raw string) string {
	if !p.StripQuery && !p.StripFragment {
		return raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	if p.StripQuery {
		u.RawQuery, u.ForceQuery = "", false
	}
	if p.StripFragment {
		u.Fragment, u.RawFragment = "", ""
	}
	return u.String()
}
