package conversation

import (
	"fmt"
	"time"
)

// TimerKind names one of a conversation's timers (see Timers).
type TimerKind string

// Timer kinds.
const (
	TimerAutoClose     TimerKind = "auto_close"
	TimerSnoozeWake    TimerKind = "snooze_wake"
	TimerReservation   TimerKind = "reservation"
	TimerWindowWarning TimerKind = "window_warning"
)

// TimerKinds are every timer kind, in the order of the fields of Timers.
var TimerKinds = []TimerKind{TimerAutoClose, TimerSnoozeWake, TimerReservation, TimerWindowWarning}

// Due returns the due time of the timer of kind k, zero when there is none or k is unknown.
func (t Timers) Due(k TimerKind) time.Time {
	switch k {
	case TimerAutoClose:
		return t.AutoClose
	case TimerSnoozeWake:
		return t.SnoozeWake
	case TimerReservation:
		return t.Reservation
	case TimerWindowWarning:
		return t.WindowWarning
	}
	return time.Time{}
}

// FireTimer applies a timer record: the timer of kind was due at due, and its record was appended at at (at ≥ due).
//
// A timer is live when c.Timers still holds it with that due time; anything else is stale (the state moved on since
// it was scheduled) and returns c unchanged, no effects and no error. A live timer does, at time at:
//   - auto_close: closes the conversation if it is unassigned or assigned and LastActivityAt + AutoCloseAfter ≤ due;
//   - snooze_wake: wakes the conversation if it is still snoozed until due: back to its assignee, else the queue;
//   - reservation: sends the conversation back to the queue if it is assigned, nobody replied since the
//     assignment, and AssignedAt + ReservationTimeout ≤ due;
//   - window_warning: emits window.closing if the conversation is not closed and its window closes at or after at
//     and WindowWarning after due; the conversation records the warning, so a window is warned about once.
//
// When a live timer's condition no longer holds under p (the tenant changed its policy, or the window closed before
// the record was applied) the timers are recomputed under p: a change with no effects.
//
// FireTimer returns an error wrapping ErrUnknownTimer or ErrTimerEarly when the caller is broken.
func FireTimer(c Conversation, kind TimerKind, due time.Time, p Policy, at time.Time) (Conversation, []Effect, error) {
	switch kind {
	case TimerAutoClose, TimerSnoozeWake, TimerReservation, TimerWindowWarning:
	default:
		return c, nil, fmt.Errorf("fire timer of conversation %s: %w %q", c.ID, ErrUnknownTimer, kind)
	}
	if at.Before(due) {
		return c, nil, fmt.Errorf("fire %s timer of conversation %s due %v at %v: %w", kind, c.ID, due, at, ErrTimerEarly)
	}
	if c.ID == "" || due.IsZero() || !c.Timers.Due(kind).Equal(due) {
		return c, nil, nil
	}
	ch := begin(c, p, at, "")
	switch kind {
	case TimerAutoClose:
		if (c.Status == Unassigned || c.Status == Assigned) && p.AutoCloseAfter > 0 &&
			!c.LastActivityAt.Add(p.AutoCloseAfter).After(due) {
			ch.close()
		}
	case TimerSnoozeWake:
		if c.Status == Snoozed && c.SnoozedUntil.Equal(due) {
			ch.wake()
		}
	case TimerReservation:
		if c.Status == Assigned && !c.RepliedSinceAssigned && p.ReservationTimeout > 0 &&
			!c.AssignedAt.Add(p.ReservationTimeout).After(due) {
			ch.release()
		}
	case TimerWindowWarning:
		if c.Status != Closed && p.WindowWarning > 0 && !c.WindowExpiresAt.Add(-p.WindowWarning).After(due) &&
			!at.After(c.WindowExpiresAt) && !c.WarnedWindow.Equal(c.WindowExpiresAt) {
			ch.c.WarnedWindow = c.WindowExpiresAt
			ch.emit(EventWindowClosing, Event{WindowExpiresAt: c.WindowExpiresAt})
		}
	}
	if len(ch.effects) == 0 {
		t := c.timers(p, at)
		if t.equal(c.Timers) {
			return c, nil, nil
		}
		ch.c.Version++
		ch.c.UpdatedAt = at
		ch.c.Timers = t
		return ch.c, nil, nil
	}
	next, effects := ch.done()
	return next, effects, nil
}

func (t Timers) equal(u Timers) bool {
	return t.AutoClose.Equal(u.AutoClose) && t.SnoozeWake.Equal(u.SnoozeWake) &&
		t.Reservation.Equal(u.Reservation) && t.WindowWarning.Equal(u.WindowWarning)
}
