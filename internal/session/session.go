// Package session owns the life of co-browsing sessions: join codes, states
// (waiting → live ⇄ paused → ended), customer tokens and capacity limits.
// It holds no screen content.
package session

import (
	"time"
)

// State is a session's lifecycle state.
type State string

const (
	Waiting State = "waiting" // code issued, customer not joined
	Live    State = "live"    // customer joined; content may flow
	Paused  State = "paused"  // customer joined; content withheld (Reason says why)
	Ended   State = "ended"   // over (Reason says why)
)

// End reasons. They are stored in the audit and shown to staff.
const (
	ReasonStaff         = "staff"             // staff pressed end
	ReasonStaffCut      = "staff_cut"         // staff cut the stream after seeing something
	ReasonCustomer      = "customer"          // customer pressed end
	ReasonDeclined      = "customer_declined" // customer did not confirm the staff member's name
	ReasonCustomerError = "customer_error"    // the server refused what the customer's page sent (too large, malformed, too fast)
	ReasonExpired       = "expired"           // code never used within its lifetime
	ReasonShutdown      = "shutdown"          // server stopped
	ReasonCustomerLost  = "customer_lost"     // customer gone longer than the grace period
	ReasonStaffIdle     = "staff_idle"        // no staff connected for too long
	ReasonMaxDuration   = "max_duration"      // session reached its maximum length
)

// Session is a snapshot of one session's metadata. It is a value: changing
// it changes nothing in the Manager.
type Session struct {
	ID        string `json:"id"`
	Code      string `json:"code,omitempty"` // only while waiting
	StaffID   int64  `json:"staff_id"`
	StaffName string `json:"staff_name"`
	State     State  `json:"state"`
	Reason    string `json:"reason,omitempty"`
	Device    string `json:"device,omitempty"`
	Browser   string `json:"browser,omitempty"`
	// Requests are the join requests waiting for the staff's decision
	// (only while waiting).
	Requests []Request `json:"requests,omitempty"`
	// RefusedBusy counts customers who entered this code while the
	// deployment was full (they were told so; staff are told too).
	RefusedBusy       int  `json:"refused_busy,omitempty"`
	CustomerConnected bool `json:"customer_connected"`
	// CustomerSeen is false between the join and the customer's first
	// socket, while the customer checks the staff member's name.
	CustomerSeen     bool      `json:"customer_seen"`
	StaffConnected   bool      `json:"staff_connected"`
	CreatedAt        time.Time `json:"created_at"`
	ExpiresAt        time.Time `json:"expires_at"`         // code expiry while waiting
	JoinedAt         time.Time `json:"joined_at,omitzero"` // staff admitted the customer
	EndedAt          time.Time `json:"ended_at,omitzero"`  // when ended
	LastCustomerSeen time.Time `json:"-"`
	LastStaffSeen    time.Time `json:"-"`
	// Presenters may point, highlight and draw on the customer's screen:
	// the staff member in charge first, then supervisors' predecessors who
	// stayed on after a take-over.
	Presenters []Member `json:"presenters,omitempty"`
	// Watchers are supervisors watching read-only (the customer is told).
	Watchers []Member `json:"watchers,omitempty"`
	// Handover waits for the customer's consent to a new staff member.
	Handover *Handover `json:"handover,omitempty"`
}

// Active reports whether the customer has joined and the session has not ended.
func (s Session) Active() bool { return s.State == Live || s.State == Paused }

// Duration is how long the customer was joined.
func (s Session) Duration() time.Duration {
	if s.JoinedAt.IsZero() {
		return 0
	}
	end := s.EndedAt
	if end.IsZero() {
		return 0
	}
	return end.Sub(s.JoinedAt)
}
