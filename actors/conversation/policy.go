package conversation

import (
	"fmt"
	"slices"
	"time"
)

// Where a customer message sends a closed conversation (Policy.ReopenTo).
const (
	ReopenToQueue        = "queue"
	ReopenToLastOperator = "last_operator"
)

// Operator roles, as in the tenant config (actors/tenant). They are repeated here because the tenant package builds
// a Policy from its settings and so may not be imported.
const (
	roleAdmin   = "admin"
	roleBuilder = "builder"
)

// defaultTakeoverRoles are the roles that may take a conversation over from another operator when
// Policy.TakeoverRoles is nil.
var defaultTakeoverRoles = []string{roleAdmin, roleBuilder}

// Policy is a tenant's conversation settings. The zero Policy reopens to the queue, lets admins and builders take
// over, and has no auto-close, no reservation timeout and no window warning.
type Policy struct {
	// ReopenTo is ReopenToQueue or ReopenToLastOperator. Either way a reopened conversation goes back to the queue
	// unassigned; with ReopenToLastOperator the conversation.reopened event is marked Sticky and the dispatcher
	// offers it to LastOperatorID first. "" means ReopenToQueue.
	ReopenTo string
	// TakeoverRoles are the roles allowed to take a conversation that another operator holds. nil means admin and
	// builder; an empty non-nil slice lets nobody take over.
	TakeoverRoles []string
	// AutoCloseAfter closes an unassigned or assigned conversation after this long without activity
	// (LastActivityAt). Snoozed conversations are not auto-closed: their clock restarts when they wake up.
	// 0 disables auto-close.
	AutoCloseAfter time.Duration
	// ReservationTimeout sends an assigned conversation back to the queue when nobody has replied to the customer
	// this long after it was assigned. 0 disables it.
	ReservationTimeout time.Duration
	// WindowWarning emits window.closing this long before the 24-hour window expires. 0 disables it; it must be
	// less than the window.
	WindowWarning time.Duration
	// Labels are the tenant's labels catalogue. When it is not empty, a label added to a conversation must be one of
	// them (CodeUnknownLabel); removing any label is allowed, so a label removed from the catalogue can still be
	// taken off the conversations that carry it. nil (no catalogue) allows any label.
	Labels []string
}

// Validate reports the first setting that is out of range.
func (p Policy) Validate() error {
	switch p.ReopenTo {
	case "", ReopenToQueue, ReopenToLastOperator:
	default:
		return fmt.Errorf("conversation policy: reopen_to %q must be %s or %s", p.ReopenTo, ReopenToQueue, ReopenToLastOperator)
	}
	if p.AutoCloseAfter < 0 || p.ReservationTimeout < 0 || p.WindowWarning < 0 {
		return fmt.Errorf("conversation policy: negative duration")
	}
	if p.WindowWarning >= Window {
		return fmt.Errorf("conversation policy: window warning %v must be less than the %v window", p.WindowWarning, Window)
	}
	return nil
}

// mayTakeOver reports whether role may take a conversation that another operator holds.
func (p Policy) mayTakeOver(role string) bool {
	roles := p.TakeoverRoles
	if roles == nil {
		roles = defaultTakeoverRoles
	}
	return role != "" && slices.Contains(roles, role)
}

// supervisor reports whether role may assign, and act on conversations other operators hold.
func supervisor(role string) bool { return role == roleAdmin || role == roleBuilder }
