package notify

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"syscall"
)

// Policy decides which addresses a notification may be posted to. The check runs on the address
// actually dialled (after DNS), so a name that resolves to an internal address is caught, and
// redirects are never followed: a merchant's notify URL cannot reach into the gateway's network.
type Policy struct {
	// AllowPrivate admits loopback and private ranges: the sandbox's default, so a developer's
	// local receiver works.
	AllowPrivate bool
	// Allow admits listed ranges even in production (serve --notify-allow CIDR).
	Allow []netip.Prefix
}

// always is what no policy admits: link-local covers the cloud metadata address 169.254.169.254.
var always = []netip.Prefix{
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("fe80::/10"),
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("224.0.0.0/4"),
	netip.MustParsePrefix("ff00::/8"),
	netip.MustParsePrefix("255.255.255.255/32"),
	netip.MustParsePrefix("::/128"),
}

// internal is what production refuses unless listed in Allow.
var internal = []netip.Prefix{
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("::1/128"),
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("100.64.0.0/10"), // carrier-grade NAT
	netip.MustParsePrefix("fc00::/7"),
	netip.MustParsePrefix("198.18.0.0/15"),
}

// Check reports whether a notification may go to addr.
func (p Policy) Check(addr netip.Addr) error {
	addr = addr.Unmap()
	for _, a := range p.Allow {
		if a.Contains(addr) {
			return nil
		}
	}
	for _, b := range always {
		if b.Contains(addr) {
			return fmt.Errorf("notify: address %s is link-local, multicast or unspecified", addr)
		}
	}
	if p.AllowPrivate {
		return nil
	}
	for _, b := range internal {
		if b.Contains(addr) {
			return fmt.Errorf("notify: address %s is loopback or private; allow it with --notify-allow", addr)
		}
	}
	return nil
}

// control is a net.Dialer Control function enforcing the policy on every connection attempt.
func (p Policy) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("notify: dial %s: %w", address, err)
	}
	return p.Check(ap.Addr())
}

// dialer returns a DialContext that applies the policy.
func (p Policy) dialer(timeoutDial func() *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := timeoutDial()
	d.Control = p.control
	return d.DialContext
}
