package egress

import (
	"errors"
	"net"
	"testing"
)

// The addresses outgoing requests may not reach, and some they may.
func TestKind(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1": "loopback", "127.9.9.9": "loopback", "::1": "loopback", "::ffff:127.0.0.1": "loopback",
		"10.1.2.3": "private", "172.16.0.1": "private", "192.168.1.1": "private", "fd00::1": "private",
		"100.64.0.1": "private", "169.254.169.254": "link-local", "fe80::1": "link-local",
		"0.0.0.0": "unspecified", "::": "unspecified", "224.0.0.1": "multicast", "ff02::1": "multicast",
		"255.255.255.255": "broadcast",
		"8.8.8.8":         "", "1.1.1.1": "", "2001:4860:4860::8888": "", "100.128.0.1": "", "172.32.0.1": "",
	} {
		if got := Kind(net.ParseIP(addr)); got != want {
			t.Errorf("Kind(%s) = %q, want %q", addr, got, want)
		}
	}
}

func TestControl(t *testing.T) {
	c := Control(Except("loopback"))
	if err := c("tcp", "127.0.0.1:443", nil); err != nil {
		t.Errorf("loopback allowed: %v", err)
	}
	if err := c("tcp", "8.8.8.8:443", nil); err != nil {
		t.Errorf("public refused: %v", err)
	}
	var r *Refused
	if err := c("tcp", "10.0.0.1:443", nil); !errors.As(err, &r) || r.Kind != "private" {
		t.Errorf("private: %v", err)
	}
	if err := c("tcp", "[fe80::1]:443", nil); !errors.As(err, &r) || r.Kind != "link-local" {
		t.Errorf("link-local: %v", err)
	}
	if err := c("tcp", "not-an-ip:443", nil); !errors.As(err, &r) || r.Kind != "unparsable" {
		t.Errorf("name: %v", err)
	}
}
