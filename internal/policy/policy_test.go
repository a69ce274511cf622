package policy

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func TestExcluded(t *testing.T) {
	p := Default()
	p.ExcludedPages = append(p.ExcludedPages, "https://ib.bank.test/settings/*", "/secure/**")
	p.Compile()
	for url, want := range map[string]bool{
		"http://127.0.0.1:8081/privacy.html":         true,
		"http://127.0.0.1:8081/privacy.html?x=1#y":   true,
		"http://127.0.0.1:8081/privacy/consent/edit": true,
		"http://127.0.0.1:8081/index.html":           false,
		"http://127.0.0.1:8081/privacy.htmlx":        false,
		"https://ib.bank.test/settings/address":      true,
		"https://ib.bank.test/settings/a/b":          false,
		"https://other.test/settings/address":        false,
		"https://bank.test/secure/a/b/c":             true,
		"::not a url":                                true,
	} {
		if got := p.Excluded(url); got != want {
			t.Errorf("Excluded(%q) = %v, want %v", url, got, want)
		}
	}
}

func TestCleanURL(t *testing.T) {
	p := Policy{StripQuery: true, StripFragment: true}
	if got := p.CleanURL("https://bank.test/a?email=x@y#acct"); got != "https://bank.test/a" {
		t.Fatalf("got %q", got)
	}
	p = Policy{}
	if got := p.CleanURL("https://bank.test/a?q=1"); got != "https://bank.test/a?q=1" {
		t.Fatalf("no stripping configured, got %q", got)
	}
}

func TestLoadValidates(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) string {
		p := filepath.Join(dir, "p.json")
		os.WriteFile(p, []byte(s), 0o600)
		return p
	}
	if _, err := Load(write(`{"mask_selectors":[".acct"],"excluded_pages":["/me/**"]}`)); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{`{"mask_selectors":["a{}"]}`, `{"excluded_pages":["privacy"]}`, `{"unknown":1}`, `{`} {
		if _, err := Load(write(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

// The SDK answers the same cases (web/test/policy.test.ts reads this file).
func TestExcludedSharedCases(t *testing.T) {
	b, err := os.ReadFile("globcases.json")
	if err != nil {
		t.Fatal(err)
	}
	var fx struct {
		Globs []string `json:"globs"`
		Cases [][2]any `json:"cases"`
	}
	if err := json.Unmarshal(b, &fx); err != nil {
		t.Fatal(err)
	}
	p := Default()
	p.ExcludedPages = fx.Globs
	p.Compile()
	for _, c := range fx.Cases {
		url, want := c[0].(string), c[1].(bool)
		if got := p.Excluded(url); got != want {
			t.Errorf("Excluded(%q) = %v, want %v", url, got, want)
		}
	}
}
