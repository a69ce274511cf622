package config

import (
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
