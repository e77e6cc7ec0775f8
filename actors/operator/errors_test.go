package operator

import (
	"testing"

	"github.com/switchboard-hq/switchboard/actors/refusal/refusaltest"
)

func TestCodesListsEveryCode(t *testing.T) { refusaltest.CheckCodes(t, "errors.go", Codes()) }
