package server

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"

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
	b := s.consoleIndex
	h := w.Header()
	h.Set("Content-Security-Policy", consoleCSP)
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-cache")
	h.Set("Content-Type", "text/html; charset=utf-8")
	w.Write(b)
}

func (s *Server) consoleAssets() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := "console/assets/" + strings.TrimPrefix(r.URL.Path, "/console/assets/")
		if orig, ok := s.hashedAssets[name]; ok {
			// Its name changes with its content: kept for a year, never asked about.
			s.serveWeb(w, r, orig, mime.TypeByExtension(path.Ext(orig)), "public, max-age=31536000, immutable")
			return
		}
		// The plain name (an older page, a bookmark): kept, and asked whether it changed.
		s.serveWeb(w, r, name, mime.TypeByExtension(path.Ext(name)), "no-cache")
	})
}

// hashConsoleAssets names each console asset after its content
// (console.js → console.3f2a9c0d1e4b.js) and points the console's page at
// those names, so browsers may cache them for good and still never run a
// stale script after an upgrade.
func hashConsoleAssets(web map[string]webFile, index []byte) (map[string]string, []byte) {
	hashed := make(map[string]string)
	for name, f := range web {
		rest, ok := strings.CutPrefix(name, "console/assets/")
		if !ok {
			continue
		}
		ext := path.Ext(rest)
		h := strings.Trim(f.etag, `"`)
		hname := strings.TrimSuffix(rest, ext) + "." + h + ext
		hashed["console/assets/"+hname] = name
		index = bytes.ReplaceAll(index, []byte(`"assets/`+rest+`"`), []byte(`"assets/`+hname+`"`))
	}
	return hashed, index
}

// sdkFile serves a customer script (sdk.js, or sdk-capture.js which sdk.js
// loads when a session starts, or sdk.d.ts, its types for integrators) with
// a short cache lifetime, so a fix reaches every bank page within minutes;
// the ETag spares the download after that.
func (s *Server) sdkFile(name string) http.HandlerFunc {
	ctype := "text/javascript; charset=utf-8"
	if strings.HasSuffix(name, ".d.ts") {
		ctype = "text/plain; charset=utf-8"
	}
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cross-Origin-Resource-Policy", "cross-origin")
		s.serveWeb(w, r, name, ctype, "public, max-age=300")
	}
}

// webFile is a built web file, kept plain and gzipped: the console script
// is 300 KB and the recorder 200 KB before compression.
type webFile struct {
	plain, gz   []byte
	etag, gzTag string
}

// loadWeb reads and compresses the built files once.
func loadWeb(files fs.FS) (map[string]webFile, error) {
	out := make(map[string]webFile)
	err := fs.WalkDir(files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(files, name)
		if err != nil {
			return err
		}
		var gz bytes.Buffer
		zw, err := gzip.NewWriterLevel(&gz, gzip.BestCompression)
		if err != nil {
			return err
		}
		if _, err := zw.Write(b); err != nil {
			return err
		}
		if err := zw.Close(); err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		tag := hex.EncodeToString(sum[:8])
		out[name] = webFile{plain: b, gz: gz.Bytes(), etag: `"` + tag + `"`, gzTag: `"` + tag + `-gz"`}
		return nil
	})
	return out, err
}

// serveWeb answers a built web file, gzipped for clients that accept it,
// with an ETag per encoding.
func (s *Server) serveWeb(w http.ResponseWriter, r *http.Request, name, ctype, cacheControl string) {
	f, ok := s.web[name]
	if !ok {
		s.writeError(w, r, apperr.ErrNotFound)
		return
	}
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Cache-Control", cacheControl)
	h.Add("Vary", "Accept-Encoding")
	body, tag := f.plain, f.etag
	if acceptsGzip(r) {
		body, tag = f.gz, f.gzTag
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("ETag", tag)
	if match := r.Header.Get("If-None-Match"); match != "" && (match == tag || match == "*") {
		h.Del("Content-Encoding")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if r.Method == http.MethodHead {
		return
	}
	w.Write(body)
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") {
			q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}

// handleAsset serves a page file of a live session to those who may see
// its screen: its staff and supervisors. An ended session's files are
// gone, and another staff member's session answers not-found like any
// unknown id.
func (s *Server) handleAsset(w http.ResponseWriter, r *http.Request) {
	ss, err := s.sessionFor(r, accessInCharge, accessPresenting, accessSupervising)
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
