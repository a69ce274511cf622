// Package sessiontest helps tests of other packages get a joined session
// without going through HTTP: it requests to join with the code, then
// admits that request as the staff would.
package sessiontest

import (
	"fmt"

	"github.com/tomoni-cobrowse/tomoni/internal/session"
)

// Join requests to join with code and admits the request, returning the
// live session and the customer token.
func Join(m *session.Manager, code, device string) (session.Session, string, error) {
	tk, err := m.RequestJoin(code, session.JoinInfo{Device: device, Browser: "Chrome / Linux"})
	if err != nil {
		return session.Session{}, "", fmt.Errorf("request to join: %w", err)
	}
	s, err := m.Get(tk.Session)
	if err != nil {
		return session.Session{}, "", err
	}
	rid := ""
	for _, r := range s.Requests {
		if r.Check == tk.Check {
			rid = r.ID
		}
	}
	s, err = m.Admit(tk.Session, rid)
	if err != nil {
		return session.Session{}, "", fmt.Errorf("admit: %w", err)
	}
	return s, tk.Token, nil
}
