package protocol

import (
	_ "embed"
	"encoding/json"
	"fmt"
)

// WebSocket close codes. Their meaning and whether a client reconnects live
// in closecodes.json, which the SDK and the console import too; a test holds
// these constants, the JSON table and docs/architecture.md together.
const (
	CloseSessionEnded   = 4000 // the session is over; reason in the close text
	CloseUnauthorized   = 4001 // bad or expired token or login
	CloseForbidden      = 4003 // a message type the sender may not send
	CloseReplaced       = 4009 // another connection took this role for the session
	CloseHandedOver     = 4010 // the session went to another staff member
	CloseServerShutdown = 4100 // node shutting down while the session goes on
	CloseMalformed      = 4400 // not JSON or not a known shape
	CloseTooLarge       = 4413 // page too large to filter
	CloseRateLimited    = 4429 // message rate above the cap
)

//go:embed closecodes.json
var closeCodesJSON []byte

// CloseCode is one row of the close-code table.
type CloseCode struct {
	Code      int    `json:"code"`
	Name      string `json:"name"`
	Reconnect bool   `json:"reconnect"`
	Meaning   string `json:"meaning"`
}

// CloseTable is the close-code table shared with the browser code.
type CloseTable struct {
	Codes            []CloseCode `json:"codes"`
	UnknownReconnect bool        `json:"unknown_reconnect"`
}

// CloseCodes returns the table. Each call decodes a fresh copy, so no caller
// can change what another sees.
func CloseCodes() (CloseTable, error) {
	var t CloseTable
	if err := json.Unmarshal(closeCodesJSON, &t); err != nil {
		return CloseTable{}, fmt.Errorf("close code table: %w", err)
	}
	return t, nil
}

// Reconnect reports whether a client closed with code should open its
// socket again.
func (t CloseTable) Reconnect(code int) bool {
	for _, c := range t.Codes {
		if c.Code == code {
			return c.Reconnect
		}
	}
	return t.UnknownReconnect
}
