package protocol

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/coder/websocket"
)

func TestCloseCodeConstantsMatchTheTable(t *testing.T) {
	table, err := CloseCodes()
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]string{
		CloseSessionEnded: "session_ended", CloseUnauthorized: "unauthorized", CloseForbidden: "forbidden",
		CloseReplaced: "replaced", CloseServerShutdown: "server_shutdown", CloseMalformed: "malformed",
		CloseTooLarge: "too_large", CloseRateLimited: "rate_limited",
		int(websocket.StatusMessageTooBig): "message_too_big", int(websocket.StatusUnsupportedData): "unsupported_data",
	}
	names := map[int]string{}
	for _, c := range table.Codes {
		if _, dup := names[c.Code]; dup {
			t.Errorf("code %d listed twice", c.Code)
		}
		names[c.Code] = c.Name
	}
	for code, name := range want {
		if names[code] != name {
			t.Errorf("table names %d %q, the Go constant says %q", code, names[code], name)
		}
	}
}

// Closes that a client cannot fix by trying again must not make it try
// again: a page too large for the filter would otherwise re-send its
// snapshot every half second forever.
func TestNoReconnectAfterRefusals(t *testing.T) {
	table, err := CloseCodes()
	if err != nil {
		t.Fatal(err)
	}
	for _, code := range []int{CloseSessionEnded, CloseUnauthorized, CloseForbidden, CloseReplaced, CloseMalformed, CloseTooLarge, CloseRateLimited, 1009, 1003} {
		if table.Reconnect(code) {
			t.Errorf("code %d says reconnect", code)
		}
	}
	for _, code := range []int{CloseServerShutdown, 1000, 1001, 1006, 1011, 4999} {
		if !table.Reconnect(code) {
			t.Errorf("code %d says do not reconnect", code)
		}
	}
}

// docs/architecture.md shows the table to people; it must say what the code does.
func TestDocsCloseCodeTableMatches(t *testing.T) {
	table, err := CloseCodes()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("../../docs/architecture.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type row struct{ name, meaning, reconnect string }
	doc := map[int]row{}
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "### Close codes"):
			in = true
		case in && strings.HasPrefix(line, "#"):
			in = false
		case in && strings.HasPrefix(line, "| "):
			cells := strings.Split(strings.Trim(line, "| "), " | ")
			code, err := strconv.Atoi(cells[0])
			if err != nil || len(cells) != 4 {
				continue // header and separator
			}
			doc[code] = row{strings.Trim(cells[1], "`"), cells[2], cells[3]}
		}
	}
	if len(doc) != len(table.Codes) {
		t.Errorf("docs list %d close codes, the table %d", len(doc), len(table.Codes))
	}
	for _, c := range table.Codes {
		want := row{c.Name, c.Meaning, map[bool]string{true: "yes", false: "no"}[c.Reconnect]}
		if got := doc[c.Code]; got != want {
			t.Errorf("docs row for %d is %+v, table says %+v", c.Code, got, want)
		}
	}
}
