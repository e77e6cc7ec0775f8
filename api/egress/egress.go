// Package egress decides which addresses the node's outgoing requests on a user's behalf may reach: operators'
// media links (cmd/switchboard/node) and a tenant's OpenID Connect issuer (api). Both dial through a net.Dialer
// whose Control checks every resolved address just before the connection is made, so a name that resolves to a
// private address is refused however and whenever it is resolved, redirects included; both use no proxy, whose
// address would be the one checked.
//
// It imports only the standard library.
package egress

import (
	"fmt"
	"net"
	"syscall"
)

// cgnat is the shared address space of carrier-grade NAT (RFC 6598), private in all but name.
var cgnat = &net.IPNet{IP: net.IPv4(100, 64, 0, 0).To4(), Mask: net.CIDRMask(10, 32)}

// Kind names why ip is not a public unicast address — "loopback", "unspecified", "private" (RFC 1918, RFC 4193 and
// carrier-grade NAT), "link-local", "multicast", "broadcast" — and is "" when it is one.
func Kind(ip net.IP) string {
	switch {
	case ip.IsLoopback():
		return "loopback"
	case ip.IsUnspecified():
		return "unspecified"
	case ip.IsPrivate(), cgnat.Contains(ip):
		return "private"
	case ip.IsLinkLocalUnicast():
		return "link-local"
	case ip.IsMulticast(), ip.IsLinkLocalMulticast(), ip.IsInterfaceLocalMulticast():
		return "multicast"
	case ip.Equal(net.IPv4bcast):
		return "broadcast"
	}
	return ""
}

// Refused is the dial error of an address a Control refused.
type Refused struct {
	IP   net.IP
	Kind string
}

func (e *Refused) Error() string { return fmt.Sprintf("%s is a %s address", e.IP, e.Kind) }

// Control is a net.Dialer Control that refuses every address refuse names a reason for (refuse returns "" for an
// address it allows), with a *Refused error. An address that does not parse is refused as "unparsable".
func Control(refuse func(net.IP) string) func(network, address string, c syscall.RawConn) error {
	return func(_, address string, _ syscall.RawConn) error {
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return err
		}
		ip := net.ParseIP(host)
		if ip == nil {
			return &Refused{Kind: "unparsable"}
		}
		if kind := refuse(ip); kind != "" {
			return &Refused{IP: ip, Kind: kind}
		}
		return nil
	}
}

// Except is Kind with some kinds allowed: the loopback addresses of tests and a local demo, the private ones of an
// identity provider on the organisation's network.
func Except(allowed ...string) func(net.IP) string {
	return func(ip net.IP) string {
		k := Kind(ip)
		for _, a := range allowed {
			if k == a {
				return ""
			}
		}
		return k
	}
}
