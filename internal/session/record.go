package session

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// record is all a Manager keeps about one session, stored as JSON under
// the key "s.<id>": the Session staff see and what only the Manager reads.
// Every field is exported for encoding, none leaves the package.
type record struct {
	Session
	// The times Session does not show.
	CustomerSeenAt time.Time `json:"customer_seen_at"`
	StaffSeenAt    time.Time `json:"staff_seen_at"`
	// Pending holds the join requests by their token's hash, decided ones
	// too until their page has had time to hear the outcome.
	Pending map[string]*pending `json:"pending,omitempty"`
	// Tokens are the hashes of the customer tokens of the session.
	Tokens []string `json:"tokens,omitempty"`
	// TokensForgotten is set once the tokens' keys are gone.
	TokensForgotten bool `json:"tokens_forgotten,omitempty"`
	// Handoffs are outstanding hand-off tokens: hash → expiry.
	Handoffs map[string]time.Time `json:"handoffs,omitempty"`
	// Watching are supervisors' read-only consoles, by staff id.
	Watching      map[int64]*watch `json:"watching,omitempty"`
	Warned        bool             `json:"warned,omitempty"`
	HandoverUntil time.Time        `json:"handover_until,omitzero"`
	NextColour    int              `json:"next_colour"`
	// CustomerOn is the node holding the customer's socket; StaffOn the
	// nodes holding staff sockets. A node that dies is removed by any
	// other node's sweep.
	CustomerOn string   `json:"customer_on,omitempty"`
	StaffOn    []string `json:"staff_on,omitempty"`
	// Place is the capacity key this session holds: "wait.N" while
	// waiting, "live.N" once joined, "" once ended.
	Place string `json:"place,omitempty"`
}

// pending is a join request's private side.
type pending struct {
	Request  string    `json:"request"`
	Client   string    `json:"client,omitempty"`
	Outcome  string    `json:"outcome"` // RequestPending until decided
	LastSeen time.Time `json:"last_seen"`
	Decided  time.Time `json:"decided,omitzero"`
}

// watch is one supervisor's read-only consoles, counted per node.
type watch struct {
	Member
	Sockets map[string]int `json:"sockets"`
}

func (w *watch) total() int {
	n := 0
	for _, c := range w.Sockets {
		n += c
	}
	return n
}

// session returns what the rest of Tomoni sees of r: a copy it may keep.
func (r *record) session() Session {
	out := r.Session
	out.LastCustomerSeen, out.LastStaffSeen = r.CustomerSeenAt, r.StaffSeenAt
	out.Requests = slices.Clone(r.Requests)
	out.Presenters = slices.Clone(r.Presenters)
	out.Watchers = r.watchers()
	if r.Handover != nil {
		h := *r.Handover
		out.Handover = &h
	}
	return out
}

// watching reports whether staff member id, with the consoles w, is one of
// the session's watchers: a console open, and not presenting.
func (r *record) watching(id int64, w *watch) bool { return w.total() > 0 && !r.Presents(id) }

// watchers lists who watches read-only: supervisors with a console open
// on the session who do not present.
func (r *record) watchers() []Member {
	var out []Member
	for id, w := range r.Watching {
		if r.watching(id, w) {
			out = append(out, w.Member)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].StaffID < out[j].StaffID })
	return out
}

func encodeRecord(r *record) []byte {
	b, err := json.Marshal(r)
	if err != nil {
		panic(fmt.Sprintf("session record: %v", err)) // only plain data inside
	}
	return b
}

func decodeRecord(b []byte) (*record, error) {
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("session record: %w", err)
	}
	return &r, nil
}

// Keys. Token keys hold the hash, never the token.
func sessionKey(id string) string        { return "s." + id }
func codeKey(code string) string         { return "c." + code }
func tokenKey(h string) string           { return "t." + h }
func requestKey(h string) string         { return "r." + h }
func handoffKey(h string) string         { return "h." + h }
func placeKey(kind string, n int) string { return kind + "." + strconv.Itoa(n) }

const (
	livePlaces    = "live"
	waitingPlaces = "wait"
)

func hashHex(tok string) string {
	h := hashToken(tok)
	return hex.EncodeToString(h[:])
}

// placeValue names the session holding a place and when it took it: a
// place whose session does not name it back is freed by the sweep, but
// only after a while, so that a place just taken is not freed before its
// session records it.
func placeValue(id string, at time.Time) []byte {
	return []byte(id + "@" + strconv.FormatInt(at.UnixMilli(), 10))
}

func parsePlace(v []byte) (id string, at time.Time) {
	s := string(v)
	i := strings.LastIndexByte(s, '@')
	if i < 0 {
		return s, time.Time{}
	}
	ms, _ := strconv.ParseInt(s[i+1:], 10, 64)
	return s[:i], time.UnixMilli(ms)
}
