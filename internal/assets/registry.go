package assets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strings"
	"sync"
)

// placeholderImage stands in for a file that cannot be served through
// Tomoni: a transparent pixel, so nothing is fetched from anywhere.
const placeholderImage = "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"

// maxURL bounds the URLs a key may seal; longer ones become placeholders.
const maxURL = 4096

// registry holds one session's asset paths on this node. A key is the
// URL sealed (AES-GCM) under the deployment's secret with the session id
// bound in, so any node of the deployment can read it back, a key says
// nothing about its URL, and no key can be made for a URL, or used for a
// session, that the rewriter did not make it for. The same URL always
// gets the same key (the nonce is a keyed hash of it), so the staff
// browser's cache works.
type registry struct {
	session string
	prefix  string // "/api/sessions/{id}/assets/"
	seal    *sealer
	max     int

	mu     sync.Mutex
	issued map[string]struct{} // keys this node's rewriter made: at most max

	customer *customerFiles
}

func newRegistry(sessionID string, seal *sealer, max int) *registry {
	return &registry{
		session: sessionID, prefix: "/api/sessions/" + url.PathEscape(sessionID) + "/assets/",
		seal: seal, max: max, issued: make(map[string]struct{}), customer: newCustomerFiles(),
	}
}

// path registers abs and returns the path the staff browser fetches it at,
// or a placeholder when the session has named too many files.
func (r *registry) path(abs string) string {
	if len(abs) > maxURL {
		return placeholderImage
	}
	key := r.seal.seal(r.session, abs)
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.issued[key]; !ok {
		if len(r.issued) >= r.max {
			return placeholderImage
		}
		r.issued[key] = struct{}{}
	}
	return r.prefix + key
}

// lookup returns the URL a key stands for, on whichever node it was made.
func (r *registry) lookup(key string) (string, bool) {
	return r.seal.open(r.session, key)
}

// sealer turns URLs into asset keys and back.
type sealer struct {
	aead  cipher.AEAD
	nonce []byte // key of the nonces' hash
}

// newSealer derives the two keys from the deployment's secret; an empty
// secret draws one for this process alone.
func newSealer(secret []byte) (*sealer, error) {
	if len(secret) == 0 {
		secret = make([]byte, 32)
		if _, err := rand.Read(secret); err != nil {
			return nil, err
		}
	}
	derive := func(label string) []byte {
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(label))
		return m.Sum(nil)
	}
	block, err := aes.NewCipher(derive("tomoni assets: seal"))
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead, nonce: derive("tomoni assets: nonce")}, nil
}

func (s *sealer) seal(session, abs string) string {
	m := hmac.New(sha256.New, s.nonce)
	m.Write([]byte(session))
	m.Write([]byte{0})
	m.Write([]byte(abs))
	nonce := m.Sum(nil)[:s.aead.NonceSize()]
	out := s.aead.Seal(nonce, nonce, []byte(abs), []byte(session))
	return base64.RawURLEncoding.EncodeToString(out)
}

func (s *sealer) open(session, key string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(key)
	n := s.aead.NonceSize()
	if err != nil || len(b) < n+s.aead.Overhead() {
		return "", false
	}
	plain, err := s.aead.Open(nil, b[:n], b[n:], []byte(session))
	if err != nil {
		return "", false
	}
	return string(plain), true
}

// resolve makes ref absolute against base. Only http, https and blob: URLs
// can be served through Tomoni (blob: ones from the customer's browser).
func resolve(base *url.URL, ref string) (string, bool) {
	ref = strings.TrimSpace(ref)
	var u *url.URL
	var err error
	if base != nil {
		u, err = base.Parse(ref)
	} else {
		u, err = url.Parse(ref)
	}
	if err == nil && u.Scheme == "blob" {
		return u.String(), true
	}
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", false
	}
	u.Fragment = ""
	u.RawFragment = ""
	return u.String(), true
}

// transparentGIF is placeholderImage's bytes.
var transparentGIF = func() []byte {
	b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(placeholderImage, "data:image/gif;base64,"))
	if err != nil {
		panic(err)
	}
	return b
}()

func isCSS(ctype string) bool {
	mt, _, _ := strings.Cut(ctype, ";")
	return strings.EqualFold(strings.TrimSpace(mt), "text/css")
}
