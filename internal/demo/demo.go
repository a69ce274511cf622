// Package demo serves the demo bank: a small Japanese bank site on its own
// origin that embeds the SDK exactly as a real bank would.
package demo

import (
	"bytes"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
)

// URLs fill the placeholders in the demo's HTML: {{TOMONI_URL}},
// {{BANK_URL}} and {{IB_URL}}.
type URLs struct {
	Tomoni string // the Tomoni server
	Bank   string // the demo bank's homepage origin
	IB     string // the demo internet banking origin
}

// Handler serves files from site, filling in the URLs (read per request,
// because ports are known only after listening).
func Handler(site fs.FS, urls func() URLs) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := strings.TrimPrefix(path.Clean(r.URL.Path), "/")
		if name == "" {
			name = "index.html"
		}
		b, err := fs.ReadFile(site, name)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		ct := mime.TypeByExtension(path.Ext(name))
		if ct == "" {
			ct = "application/octet-stream"
		}
		h.Set("Content-Type", ct)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-cache")
		if strings.HasSuffix(name, ".html") {
			all := urls()
			u := all.Tomoni
			b = bytes.ReplaceAll(b, []byte("{{TOMONI_URL}}"), []byte(u))
			b = bytes.ReplaceAll(b, []byte("{{BANK_URL}}"), []byte(all.Bank))
			b = bytes.ReplaceAll(b, []byte("{{IB_URL}}"), []byte(all.IB))
			ws := "ws" + strings.TrimPrefix(u, "http")
			// What a careful bank would send: only its own scripts and Tomoni's.
			// The internet banking loads the bank's shared style and script.
			shared := strings.TrimSpace(all.Bank + " " + all.IB)
			h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self' "+u+" "+shared+"; connect-src 'self' "+u+" "+ws+"; img-src 'self' data:; style-src 'self' 'unsafe-inline' "+shared+"; frame-ancestors 'none'")
			h.Set("X-Frame-Options", "DENY")
		}
		w.Write(b)
	})
}
