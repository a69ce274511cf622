package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/tomoni-cobrowse/tomoni/internal/apperr"
	"github.com/tomoni-cobrowse/tomoni/internal/session"
)

// consoleCSP keeps customer content inert in the console and the staff
// browser talking to Tomoni only: no script but the console's own, and
// every image, font, style, medium and frame from the console's origin
// (the replayed page's files come through the asset paths) or inline data.
const consoleCSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; font-src 'self' data:; media-src 'self' data:; " +
	"connect-src 'self'; frame-src 'self'; child-src 'self'; base-uri 'none'; form-action 'self'; " +
	"frame-ancestors 'none'; object-src 'none'"

func (s *Server) handleConsole(w http.ResponseWriter, r *http.Request) {
	b, err := fs.ReadFile(s.opt.Web, "console/index.html")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Security-Policy", consoleCSP)
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-cache")
	h.Set("Content-Type", "text/html; charset=utf-8")
	w.Write(b)
}

func (s *Server) consoleAssets() http.Handler {
	sub, err := fs.Sub(s.opt.Web, "console/assets")
	if err != nil {
		panic(err)
	}
	files := http.StripPrefix("/console/assets/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}

// sdkFile serves a customer script (sdk.js, or sdk-capture.js which sdk.js
// loads when a session starts, or sdk.d.ts, its types for integrators) with a short cache lifetime, so a fix
// reaches every bank page within minutes; the ETag spares the download
// after that.
func (s *Server) sdkFile(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, err := fs.ReadFile(s.opt.Web, name)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		sum := sha256.Sum256(b)
		h := w.Header()
		if strings.HasSuffix(name, ".d.ts") {
			h.Set("Content-Type", "text/plain; charset=utf-8")
		} else {
			h.Set("Content-Type", "text/javascript; charset=utf-8")
		}
		h.Set("Cache-Control", "public, max-age=300")
		h.Set("ETag", `"`+hex.EncodeToString(sum[:8])+`"`)
		h.Set("Cross-Origin-Resource-Policy", "cross-origin")
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
	}
}

// handleAsset serves a page file of the staff member's own live session.
// An ended session's files are gone, and another staff member's session
// answers not-found like any unknown id.
func (s *Server) handleAsset(w http.ResponseWriter, r *http.Request) {
	ss, err := s.ownSession(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if ss.State == session.Ended {
		s.writeError(w, r, apperr.ErrNotFound)
		return
	}
	s.opt.PageFiles.Serve(w, r, ss.ID, r.PathValue("key"))
}
