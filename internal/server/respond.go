package server

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/tomoni-cobrowse/tomoni/internal/apperr"
	"github.com/tomoni-cobrowse/tomoni/internal/store"
)

// maxBody caps JSON request bodies; nothing the API takes is larger.
const maxBody = 16 << 10

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// writeError is the one error writer: domain errors go out with their code
// and safe message, anything else is logged and answered as "internal".
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if e := apperr.As(err); e != nil {
		writeJSON(w, e.Status, map[string]string{"error": e.Code, "message": e.Message})
		return
	}
	s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "internal", "message": "internal error"})
}

// readJSON decodes a small JSON body into v. A body over maxBody is
// refused as too large without reading the rest; anything that is not
// exactly one object of v's shape is a bad request.
func readJSON(w http.ResponseWriter, r *http.Request, v any) error {
	body := http.MaxBytesReader(w, r.Body, maxBody)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("more than one JSON value")
	}
	if err == nil {
		// Read to the end, so that trailing bytes past the cap are refused too.
		_, err = io.Copy(io.Discard, dec.Buffered())
		if err == nil {
			_, err = io.Copy(io.Discard, body)
		}
	}
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return apperr.ErrTooLarge
	case err != nil:
		return apperr.ErrBadRequest
	}
	return nil
}

// clientKey names the client for per-address limits and the audit: the
// peer's address, or, when the peer is a trusted proxy, the nearest address
// in X-Forwarded-For that is not one. IPv6 clients are keyed by their /64,
// which one subscriber usually holds whole.
func clientKey(r *http.Request, trusted []netip.Prefix) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	addr = addr.Unmap()
	if isTrusted(addr, trusted) {
		hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
		for i := len(hops) - 1; i >= 0; i-- {
			hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
			if err != nil {
				break // a hop we cannot read: stop at the last trusted one
			}
			addr = hop.Unmap()
			if !isTrusted(addr, trusted) {
				break
			}
		}
	}
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return p.String()
	}
	return addr.String()
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// refusal audits a refused customer attempt from client key ip: one row
// per burst from the client's network.
func (s *Server) refusal(r *http.Request, kind, reason, ip string) {
	s.opt.Audit.Refused(r.Context(), store.AuditEntry{Kind: kind, Reason: reason, ClientHash: s.opt.Audit.ClientHash(prefixKey(ip))})
}

// prefixKey widens a client key to its network: IPv4 /24, IPv6 /48 (a
// client key is already an IPv6 /64). Other keys stay as they are.
func prefixKey(key string) string {
	if p, err := netip.ParsePrefix(key); err == nil {
		w, _ := p.Addr().Prefix(48)
		return w.String()
	}
	if a, err := netip.ParseAddr(key); err == nil && a.Is4() {
		w, _ := a.Prefix(24)
		return w.String()
	}
	return key
}
