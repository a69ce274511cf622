package server

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tomoni-cobrowse/tomoni/internal/auth"
	"github.com/tomoni-cobrowse/tomoni/internal/config"
	"github.com/tomoni-cobrowse/tomoni/internal/protocol"
	"github.com/tomoni-cobrowse/tomoni/internal/session"
	"github.com/tomoni-cobrowse/tomoni/internal/session/sessiontest"
	"github.com/tomoni-cobrowse/tomoni/internal/store"
)

// staffLogin is one logged-in account of a test.
type staffLogin struct {
	id     int64
	cookie *http.Cookie
	csrf   string
}

// addAndLogin creates an account with role and logs it in.
func (h *harness) addAndLogin(username, display string, role store.Role) staffLogin {
	h.t.Helper()
	hash, _ := auth.HashPassword(username+"-password-1", fastHash)
	st, err := h.db.CreateStaff(context.Background(), store.Staff{Username: username, DisplayName: display, PasswordHash: hash, Role: role})
	if err != nil {
		h.t.Fatal(err)
	}
	res, m := h.do("POST", "/api/login", `{"username":"`+username+`","password":"`+username+`-password-1"}`, h.self())
	if res.StatusCode != 200 || m["role"] != string(role) {
		h.t.Fatalf("login %s: %d %v", username, res.StatusCode, m)
	}
	for _, c := range res.Cookies() {
		if c.Name == CookieName {
			return staffLogin{st.ID, c, m["csrf"].(string)}
		}
	}
	h.t.Fatal("no cookie")
	return staffLogin{}
}

func (h *harness) as(l staffLogin, method, path, body string) (int, map[string]any) {
	h.t.Helper()
	res, m := h.do(method, path, body, h.self(), withCookie(l.cookie), withHeader(csrfHeader, l.csrf))
	return res.StatusCode, m
}

// listed returns the access a staff member has on a session as their
// session list shows it, or "" when it is not listed.
func (h *harness) listed(l staffLogin, id string) string {
	h.t.Helper()
	req, _ := http.NewRequest("GET", h.url("/api/sessions"), nil)
	req.AddCookie(l.cookie)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	var list []struct {
		ID     string `json:"id"`
		Access string `json:"access"`
	}
	if err := json.NewDecoder(res.Body).Decode(&list); err != nil {
		h.t.Fatal(err)
	}
	for _, s := range list {
		if s.ID == id {
			return s.Access
		}
	}
	return ""
}

// dialStatus tries to open a console and returns the HTTP status of a refusal (0 when it opened).
func (h *harness) dialStatus(ctx context.Context, l staffLogin, id string) int {
	hdr := http.Header{}
	hdr.Set("Origin", h.srv.URL)
	hdr.Set("Cookie", l.cookie.Name+"="+l.cookie.Value)
	ws, res, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(h.url("/api/sessions/"+id+"/ws"), "http"), &websocket.DialOptions{HTTPHeader: hdr})
	if err == nil {
		ws.CloseNow()
		return 0
	}
	if res == nil {
		h.t.Fatal(err)
	}
	return res.StatusCode
}

// readUntil reads ws until a message of type typ arrives and returns it.
func readUntil(ctx context.Context, t *testing.T, ws *websocket.Conn, typ string) map[string]any {
	t.Helper()
	for {
		_, data, err := ws.Read(ctx)
		if err != nil {
			t.Fatalf("waiting for %q: %v", typ, err)
		}
		var m map[string]any
		json.Unmarshal(data, &m)
		if m["t"] == typ {
			return m
		}
	}
}

// Every route and the socket hold each role to what it may do: an agent
// only touches sessions in their charge, a supervisor watches any session
// read-only and takes over only with the customer's consent, the audit and
// accounts stay with administrators. A hand-over takes the session away
// from the agent who passed it on, console included.
func TestRolesOnEveryRoute(t *testing.T) {
	h := newHarness(t, func(c *config.Config) { c.LoginBurst = 10 })
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, csrf := h.login()
	sato := staffLogin{h.staff.ID, c, csrf} // agent
	suzuki := h.addAndLogin("suzuki", "鈴木", store.RoleAgent)
	shunin := h.addAndLogin("shunin", "主任", store.RoleSupervisor)
	boss := h.addAndLogin("boss", "部長", store.RoleAdmin)

	code, m := h.as(sato, "POST", "/api/sessions", "")
	if code != http.StatusCreated || m["access"] != "in_charge" {
		t.Fatalf("create: %d %v", code, m)
	}
	id := m["id"].(string)
	if code, _ := h.as(sato, "POST", "/api/sessions/"+id+"/handover", `{"to":`+strconv.FormatInt(suzuki.id, 10)+`}`); code != http.StatusConflict {
		t.Fatalf("a waiting code cannot be handed over: %d", code)
	}
	if _, _, err := sessiontest.Join(h.mgr, m["code"].(string), "phone"); err != nil {
		t.Fatal(err)
	}
	h.mgr.SetConnected(id, true, true) // the customer confirmed the name and is sharing

	// Who sees the session in their list, and as what.
	for _, c := range []struct {
		who  string
		l    staffLogin
		want string
	}{{"sato", sato, "in_charge"}, {"suzuki", suzuki, ""}, {"shunin", shunin, "supervising"}, {"boss", boss, "supervising"}} {
		if got := h.listed(c.l, id); got != c.want {
			t.Errorf("%s lists the session as %q, want %q", c.who, got, c.want)
		}
	}

	// Another agent can do nothing with it, and cannot even tell it exists.
	for _, r := range []struct{ method, path, body string }{
		{"POST", "/end", ""}, {"POST", "/handover", `{"to":` + strconv.FormatInt(suzuki.id, 10) + `}`},
		{"POST", "/takeover", ""}, {"POST", "/handover/cancel", ""}, {"GET", "/assets/x", ""},
	} {
		if code, _ := h.as(suzuki, r.method, "/api/sessions/"+id+r.path, r.body); code != http.StatusNotFound {
			t.Errorf("another agent %s %s: %d, want 404", r.method, r.path, code)
		}
	}
	if got := h.dialStatus(ctx, suzuki, id); got != http.StatusNotFound {
		t.Errorf("another agent's console: %d, want 404", got)
	}
	// An agent cannot take over, even their own colleague's session.
	if code, _ := h.as(sato, "POST", "/api/sessions/"+id+"/takeover", ""); code != http.StatusForbidden {
		t.Errorf("an agent took over: %d", code)
	}
	// Supervisors cannot admit customers on another's code, nor read the audit.
	if code, _ := h.as(shunin, "POST", "/api/sessions/"+id+"/requests/x/admit", ""); code != http.StatusForbidden {
		t.Errorf("a supervisor admitted on another's code: %d", code)
	}
	for _, path := range []string{"/api/audit", "/api/staff"} {
		if code, _ := h.as(shunin, "GET", path, ""); code != http.StatusForbidden {
			t.Errorf("a supervisor read %s: %d", path, code)
		}
		if code, _ := h.as(boss, "GET", path, ""); code != http.StatusOK {
			t.Errorf("an administrator read %s: %d", path, code)
		}
	}

	// The agent's console, and a supervisor watching read-only: the
	// customer is told who watches, and the supervisor's pointer goes
	// nowhere.
	agentWS := h.console(ctx, t, sato.cookie, id)
	watchWS := h.console(ctx, t, shunin.cookie, id)
	if s, _ := h.mgr.Get(id); len(s.Watchers) != 1 || s.Watchers[0].Name != "主任" {
		t.Fatalf("watchers: %+v", s.Watchers)
	}
	if err := watchWS.Write(ctx, websocket.MessageText, []byte(`{"t":"pointer","id":5,"x":0.5,"y":0.5}`)); err != nil {
		t.Fatal(err)
	}
	if n := readUntil(ctx, t, watchWS, "notice"); n["code"] != "read_only" {
		t.Fatalf("notice: %v", n)
	}
	// The agent points: the watching supervisor sees it, marked as the agent's.
	agentWS.Write(ctx, websocket.MessageText, []byte(`{"t":"pointer","id":5,"x":0.5,"y":0.5}`))
	if p := readUntil(ctx, t, watchWS, "pointer"); p["name"] != "佐藤" || p["by"].(float64) != 0 {
		t.Fatalf("the agent's pointer as the supervisor sees it: %v", p)
	}

	// The supervisor takes over; until the customer agrees, nothing changes.
	if code, m := h.as(shunin, "POST", "/api/sessions/"+id+"/takeover", ""); code != http.StatusAccepted {
		t.Fatalf("take over: %d %v", code, m)
	}
	if s, _ := h.mgr.Get(id); s.Presents(shunin.id) || s.StaffID != sato.id {
		t.Fatal("the take-over happened before the customer agreed")
	}
	if _, err := h.mgr.AnswerHandover(id, true); err != nil {
		t.Fatal(err)
	}
	watchWS.Write(ctx, websocket.MessageText, []byte(`{"t":"pointer","id":6,"x":0.1,"y":0.1}`))
	p := readUntil(ctx, t, agentWS, "pointer")
	if p["name"] == "佐藤" { // the agent's own pointer, echoed to every console of the session
		p = readUntil(ctx, t, agentWS, "pointer")
	}
	if p["name"] != "主任" || p["by"].(float64) == 0 {
		t.Fatalf("the supervisor's pointer, in a colour of their own: %v", p)
	}
	if got := h.listed(sato, id); got != "presenting" {
		t.Fatalf("the agent stays on after a take-over: %q", got)
	}

	// The supervisor hands the session to another agent. The agent who
	// stayed on is dropped, console included; the new agent has it.
	code, m = h.as(shunin, "POST", "/api/sessions/"+id+"/handover", `{"to":`+strconv.FormatInt(suzuki.id, 10)+`}`)
	if code != http.StatusAccepted {
		t.Fatalf("hand-over: %d %v", code, m)
	}
	if got := h.listed(suzuki, id); got != "incoming" {
		t.Fatalf("the colleague sees it coming: %q", got)
	}
	if got := h.dialStatus(ctx, suzuki, id); got != http.StatusForbidden {
		t.Fatalf("the colleague watched before the customer agreed: %d", got)
	}
	if _, err := h.mgr.AnswerHandover(id, true); err != nil {
		t.Fatal(err)
	}
	// A hand-over takes the session from whoever was in charge (the
	// supervisor, who still sees it as a supervisor); sato, who stayed on
	// through the take-over, stays on.
	if got := h.listed(suzuki, id); got != "in_charge" {
		t.Fatalf("after the customer agreed: %q", got)
	}
	if got := h.listed(shunin, id); got != "supervising" {
		t.Fatalf("the supervisor: %q", got)
	}
	if got := h.listed(sato, id); got != "presenting" {
		t.Fatalf("sato: %q", got)
	}
	if code, _ := h.as(boss, "POST", "/api/sessions/"+id+"/end", ""); code != http.StatusOK {
		t.Fatalf("a supervisor ends any session: %d", code)
	}
	closedAs(ctx, t, agentWS, protocol.CloseSessionEnded)

	// The audit names who watched and how the hand-overs went.
	rows, err := h.db.ListAudit(ctx, store.AuditQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range rows {
		seen[r.Kind+":"+r.Reason] = true
	}
	for _, want := range []string{"watch_started:", "handover:takeover_requested", "handover:takeover_accepted", "handover:handover_accepted"} {
		if !seen[want] {
			t.Errorf("audit has no %s row (has %v)", want, seen)
		}
	}
}

// A hand-over from the agent in charge removes that agent: their console
// closes with "handed over" and the session leaves their list.
func TestHandoverClosesTheFormerAgentsConsole(t *testing.T) {
	h := newHarness(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, csrf := h.login()
	sato := staffLogin{h.staff.ID, c, csrf}
	suzuki := h.addAndLogin("suzuki", "鈴木", store.RoleAgent)
	s, _ := h.mgr.Create(sato.id, "佐藤")
	if _, _, err := sessiontest.Join(h.mgr, s.Code, "pc"); err != nil {
		t.Fatal(err)
	}
	h.mgr.SetConnected(s.ID, true, true)
	ws := h.console(ctx, t, sato.cookie, s.ID)
	if code, m := h.as(sato, "POST", "/api/sessions/"+s.ID+"/handover", `{"to":`+strconv.FormatInt(suzuki.id, 10)+`}`); code != http.StatusAccepted {
		t.Fatalf("hand-over: %d %v", code, m)
	}
	if code, m := h.as(sato, "POST", "/api/sessions/"+s.ID+"/handover", `{"to":999}`); code != http.StatusNotFound {
		t.Fatalf("to nobody: %d %v", code, m)
	}
	// The customer says no: nothing changes.
	h.mgr.AnswerHandover(s.ID, false)
	if got := h.listed(sato, s.ID); got != "in_charge" {
		t.Fatalf("declined: %q", got)
	}
	h.as(sato, "POST", "/api/sessions/"+s.ID+"/handover", `{"to":`+strconv.FormatInt(suzuki.id, 10)+`}`)
	if _, err := h.mgr.AnswerHandover(s.ID, true); err != nil {
		t.Fatal(err)
	}
	closedAs(ctx, t, ws, protocol.CloseHandedOver)
	if got := h.listed(sato, s.ID); got != "" {
		t.Fatalf("the session stayed in the former agent's list as %q", got)
	}
	if got, _ := h.mgr.Get(s.ID); got.StaffID != suzuki.id || got.State != session.Live {
		t.Fatalf("after: %+v", got)
	}
}

// A supervisor made an agent stops watching: their read-only console on
// someone else's session closes at the next check, their own stays.
func TestDemotedSupervisorStopsWatching(t *testing.T) {
	h := newHarness(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sup := h.addAndLogin("shunin", "主任", store.RoleSupervisor)
	other, _ := h.mgr.Create(h.staff.ID, "佐藤")
	if _, _, err := sessiontest.Join(h.mgr, other.Code, "pc"); err != nil {
		t.Fatal(err)
	}
	own, _ := h.mgr.Create(sup.id, "主任")
	watching := h.console(ctx, t, sup.cookie, other.ID)
	mine := h.console(ctx, t, sup.cookie, own.ID)
	h.server.CloseRevokedLogins(ctx)
	quiet, stop := context.WithTimeout(ctx, 300*time.Millisecond)
	_, _, err := watching.Read(quiet)
	stop()
	if code := websocket.CloseStatus(err); code != -1 {
		t.Fatalf("a supervisor's watch closed while still a supervisor (%d)", code)
	}
	if _, err := h.server.accounts().SetRole(ctx, sup.id, store.RoleAgent); err != nil {
		t.Fatal(err)
	}
	h.server.CloseRevokedLogins(ctx)
	closedAs(ctx, t, watching, protocol.CloseForbidden)
	quiet, stop = context.WithTimeout(ctx, 300*time.Millisecond)
	_, _, err = mine.Read(quiet)
	stop()
	if code := websocket.CloseStatus(err); code != -1 {
		t.Fatalf("the console of their own session closed (%d)", code)
	}
	if got := h.listed(sup, other.ID); got != "" {
		t.Fatalf("the demoted supervisor still lists another's session as %q", got)
	}
}
