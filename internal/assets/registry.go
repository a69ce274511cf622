package assets

import (
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

// maxURL bounds the URLs a registry keeps; longer ones become placeholders.
const maxURL = 4096

// registry maps the asset keys of one session to the URLs they stand for.
// Keys are keyed hashes, so a key says nothing about its URL and cannot be
// guessed for a URL the session never named.
type registry struct {
	prefix string // "/api/sessions/{id}/assets/"
	secret []byte
	max    int

	mu   sync.Mutex
	urls map[string]string

	customer *customerFiles
}

func newRegistry(sessionID string, max int) (*registry, error) {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	return &registry{prefix: "/api/sessions/" + url.PathEscape(sessionID) + "/assets/", secret: secret, max: max, urls: make(map[string]string), customer: newCustomerFiles()}, nil
}

// path registers abs and returns the path the staff browser fetches it at,
// or a placeholder when the registry is full.
func (r *registry) path(abs string) string {
	if len(abs) > maxURL {
		return placeholderImage
	}
	m := hmac.New(sha256.New, r.secret)
	m.Write([]byte(abs))
	key := base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.urls[key]; !ok {
		if len(r.urls) >= r.max {
			return placeholderImage
		}
		r.urls[key] = abs
	}
	return r.prefix + key
}

// lookup returns the URL a key stands for.
func (r *registry) lookup(key string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	u, ok := r.urls[key]
	return u, ok
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
