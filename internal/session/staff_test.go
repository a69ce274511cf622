package session

import (
	"errors"
	"testing"
	"time"
)

// joinedBy returns a session of staff 1 (佐藤) whose customer has joined and
// connected, as after the staff-name confirmation.
func joinedBy(t *testing.T, m *Manager) Session {
	t.Helper()
	s, err := m.Create(1, "佐藤")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := join(m, s.Code, "phone"); err != nil {
		t.Fatal(err)
	}
	m.SetConnected(s.ID, true, true)
	got, _ := m.Get(s.ID)
	return got
}

func TestHandoverWaitsForTheCustomer(t *testing.T) {
	m, _, rec := newTestManager(t, Config{})
	s := joinedBy(t, m)
	if !s.Presents(1) || s.Presenters[0].Colour != 0 {
		t.Fatalf("the staff who created the session presents with the first colour: %+v", s.Presenters)
	}
	got, err := m.RequestHandover(s.ID, 1, Member{StaffID: 2, Name: "鈴木"}, HandoverAgent)
	if err != nil {
		t.Fatal(err)
	}
	if got.StaffID != 1 || got.Presents(2) || got.Handover == nil || rec.last().HandoverEvent != HandoverRequested {
		t.Fatalf("before the customer agrees nothing changes but the question: %+v", got)
	}
	if !got.Involves(2) {
		t.Fatal("the colleague asked to take over sees the session coming")
	}
	if _, err := m.RequestHandover(s.ID, 1, Member{StaffID: 3, Name: "高橋"}, HandoverAgent); !errors.Is(err, ErrHandoverPending) {
		t.Fatalf("a second hand-over while the first waits: %v", err)
	}
	got, err = m.AnswerHandover(s.ID, true)
	if err != nil {
		t.Fatal(err)
	}
	if got.StaffID != 2 || got.StaffName != "鈴木" || got.Presents(1) || !got.Presents(2) || got.Handover != nil {
		t.Fatalf("after the customer agreed, 鈴木 has it alone: %+v", got)
	}
	if c := rec.last(); c.HandoverEvent != HandoverAccepted || c.Handover.To.StaffID != 2 {
		t.Fatalf("change: %+v", c)
	}
	if got.Presenters[0].Colour != 1 {
		t.Fatalf("the new staff member has a colour of their own: %+v", got.Presenters)
	}
	if len(m.List(1)) != 0 || len(m.List(2)) != 1 {
		t.Fatal("the session left the first staff member's list for the second's")
	}
}

func TestTakeoverKeepsTheAgentOn(t *testing.T) {
	m, _, _ := newTestManager(t, Config{})
	s := joinedBy(t, m)
	if _, err := m.RequestHandover(s.ID, 9, Member{StaffID: 9, Name: "主任"}, HandoverTakeover); err != nil {
		t.Fatal(err)
	}
	got, err := m.AnswerHandover(s.ID, true)
	if err != nil {
		t.Fatal(err)
	}
	if got.StaffID != 9 || !got.Presents(9) || !got.Presents(1) || got.Presenters[0].StaffID != 9 {
		t.Fatalf("the supervisor leads and the agent stays on: %+v", got.Presenters)
	}
	a, _ := got.Member(1)
	b, _ := got.Member(9)
	if a.Colour == b.Colour {
		t.Fatalf("every presenter has their own colour: %+v", got.Presenters)
	}
}

func TestHandoverDeclinedOrUnansweredChangesNothing(t *testing.T) {
	m, clk, rec := newTestManager(t, Config{})
	s := joinedBy(t, m)
	m.RequestHandover(s.ID, 1, Member{StaffID: 2, Name: "鈴木"}, HandoverAgent)
	got, err := m.AnswerHandover(s.ID, false)
	if err != nil || got.StaffID != 1 || got.Presents(2) || got.Handover != nil || rec.last().HandoverEvent != HandoverDeclined {
		t.Fatalf("declined: %+v %v", got, err)
	}
	if _, err := m.AnswerHandover(s.ID, true); !errors.Is(err, ErrNoHandover) {
		t.Fatalf("an answer with no question: %v", err)
	}
	m.RequestHandover(s.ID, 1, Member{StaffID: 2, Name: "鈴木"}, HandoverAgent)
	clk.Add(m.Config().ConfirmWithin + time.Second)
	m.SetConnected(s.ID, false, true) // keep the staff side from idling out
	m.Sweep()
	got, _ = m.Get(s.ID)
	if got.StaffID != 1 || got.Handover != nil || got.State != Live {
		t.Fatalf("an unanswered hand-over lapses and the session goes on: %+v", got)
	}
}

func TestHandoverRefusals(t *testing.T) {
	m, _, _ := newTestManager(t, Config{MaxPerStaff: 1})
	w, err := m.Create(1, "佐藤")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.RequestHandover(w.ID, 1, Member{StaffID: 2, Name: "鈴木"}, HandoverAgent); !errors.Is(err, ErrNotJoined) {
		t.Fatalf("a waiting code: %v", err)
	}
	m.End(w.ID, ReasonStaff)
	s := joinedBy(t, m)
	if _, err := m.RequestHandover(s.ID, 1, Member{StaffID: 1, Name: "佐藤"}, HandoverAgent); !errors.Is(err, ErrAlreadyInCharge) {
		t.Fatalf("to oneself: %v", err)
	}
	if _, err := m.Create(2, "鈴木"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.RequestHandover(s.ID, 1, Member{StaffID: 2, Name: "鈴木"}, HandoverAgent); !errors.Is(err, ErrTooManyOpen) {
		t.Fatalf("a colleague at their own limit: %v", err)
	}
	m.End(s.ID, ReasonStaff)
	if _, err := m.AnswerHandover(s.ID, true); err == nil {
		t.Fatal("an ended session takes no answer")
	}
}

func TestWatchersAreListedOnce(t *testing.T) {
	m, _, rec := newTestManager(t, Config{})
	s := joinedBy(t, m)
	r1, err := m.Watch(s.ID, 9, "主任")
	if err != nil {
		t.Fatal(err)
	}
	if c := rec.last(); c.Watching == nil || c.Watching.StaffID != 9 {
		t.Fatalf("the first console of a watcher is news: %+v", c)
	}
	r2, _ := m.Watch(s.ID, 9, "主任")
	got, _ := m.Get(s.ID)
	if len(got.Watchers) != 1 || got.Watchers[0].Name != "主任" {
		t.Fatalf("watchers: %+v", got.Watchers)
	}
	r1()
	if got, _ = m.Get(s.ID); len(got.Watchers) != 1 {
		t.Fatal("still watching in the second console")
	}
	r2()
	if got, _ = m.Get(s.ID); len(got.Watchers) != 0 {
		t.Fatalf("gone: %+v", got.Watchers)
	}
	// A watcher who takes over presents, and is no longer listed as watching.
	r3, _ := m.Watch(s.ID, 9, "主任")
	defer r3()
	m.RequestHandover(s.ID, 9, Member{StaffID: 9, Name: "主任"}, HandoverTakeover)
	got, _ = m.AnswerHandover(s.ID, true)
	if len(got.Watchers) != 0 || !got.Presents(9) {
		t.Fatalf("after the take-over: %+v", got)
	}
	m.End(s.ID, ReasonStaff)
	if _, err := m.Watch(s.ID, 9, "主任"); err == nil {
		t.Fatal("an ended session cannot be watched")
	}
}

// PointingOf says of a mark what the whole session says, without copying it.
func TestPointingAgreesWithTheSession(t *testing.T) {
	m, _, _ := newTestManager(t, Config{})
	s := joinedBy(t, m)
	check := func(what string, staffID int64) {
		t.Helper()
		p, err := m.PointingOf(s.ID, staffID)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		got, _ := m.Get(s.ID)
		me, presents := got.Member(staffID)
		want := Pointing{State: got.State, Me: me, Presents: presents, Others: len(got.Presenters) > 1 || len(got.Watchers) > 0}
		if p != want {
			t.Fatalf("%s: PointingOf = %+v, the session says %+v", what, p, want)
		}
	}
	check("alone, the staff in charge", 1)
	check("someone not on the session", 9)
	stop, err := m.Watch(s.ID, 9, "主任")
	if err != nil {
		t.Fatal(err)
	}
	check("watched, the staff in charge", 1)
	check("watched, the watcher", 9)
	stop()
	check("no longer watched", 1)
	m.Pause(s.ID, "keyboard")
	check("paused", 1)
	m.End(s.ID, ReasonStaff)
	check("ended", 1)
}

// The relay's state check follows every change to the session at once,
// however many messages it checked in between.
func TestStateOfFollowsEveryChange(t *testing.T) {
	m, _, _ := newTestManager(t, Config{})
	s := joinedBy(t, m)
	other := joinedBy(t, m)
	state := m.StateOf(s.ID)
	check := func(what string) {
		t.Helper()
		for range 3 {
			got, err := state()
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			want, _ := m.Get(s.ID)
			if got != want.State {
				t.Fatalf("%s: StateOf says %v, the session is %v", what, got, want.State)
			}
		}
	}
	check("live")
	m.Pause(other.ID, "keyboard")
	check("another session paused")
	m.Pause(s.ID, "keyboard")
	check("paused")
	m.Resume(s.ID)
	check("resumed")
	m.End(s.ID, ReasonStaff)
	check("ended")
	if _, err := m.StateOf("no-such-session")(); err == nil {
		t.Fatal("a session that does not exist has a state")
	}
}
