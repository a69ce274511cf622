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

// placeholder in the HTML files is replaced by the Tomoni server's URL.
const placeholder = "{{TOMONI_URL}}"

// Handler serves files from site, filling in tomoniURL.
func Handler(site fs.FS, tomoniURL func() string) http.Handler {
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
			u := tomoniURL()
			b = bytes.ReplaceAll(b, []byte(placeholder), []byte(u))
			ws := "ws" + strings.TrimPrefix(u, "http")
			// What a careful bank would send: only its own scripts and Tomoni's.
			h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self' "+u+"; connect-src 'self' "+u+" "+ws+"; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'")
			h.Set("X-Frame-Options", "DENY")
		}
		w.Write(b)
	})
}
