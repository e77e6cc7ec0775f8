package conversation

import (
	"strconv"
	"strings"
	"testing"
)

func TestValidID(t *testing.T) {
	for i := range 1000 {
		if id := ID("acme-wa", strconv.Itoa(15550000+i)); !ValidID(id) {
			t.Fatalf("ValidID(%q) = false for an id ID returned", id)
		}
	}
	good := ID("acme-wa", "15551234567")
	for _, id := range []string{"", "c", "nope", "c01", good[:len(good)-1], good + "0", "k" + good[1:],
		strings.ToUpper(good), good[:5] + "w" + good[6:], good[:5] + "/" + good[6:], strings.Repeat("c", 4096)} {
		if ValidID(id) {
			t.Errorf("ValidID(%q) = true", id)
		}
	}
}
