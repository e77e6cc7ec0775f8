package refusal_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/switchboard-hq/switchboard/actors/refusal"
)

func TestIsMatchesByCode(t *testing.T) {
	err := fmt.Errorf("apply: %w", refusal.New("window_closed", "outside the %d-hour window", 24))
	if !errors.Is(err, &refusal.Refusal{Code: "window_closed"}) {
		t.Errorf("errors.Is by code failed for %v", err)
	}
	if errors.Is(err, &refusal.Refusal{Code: "forbidden"}) {
		t.Errorf("errors.Is matched another code for %v", err)
	}
	if got := err.Error(); got != "apply: window_closed: outside the 24-hour window" {
		t.Errorf("Error() = %q", got)
	}
}
