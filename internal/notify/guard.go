package notify

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Policy decides which addresses a notification may be posted to. The check runs on the address
// actually dialled (after DNS, in the dialer's Control hook), so a name that resolves to an
// internal address is caught, and so is a name whose answer changes between a check and the dial;
// redirects are never followed: a merchant's notify URL cannot reach into the gateway's network.
type Policy struct {
	// AllowPrivate admits loopback and private ranges: the sandbox's default, so a developer's
	// local receiver works.
	AllowPrivate bool
	// Allow admits listed ranges even in production (serve --notify-allow CIDR). It never opens
	// what no mode admits (link-local, metadata, unspecified, multicast, reserved).
	Allow []netip.Prefix
	// Resolver looks names up; nil is the system's. Tests give a resolver of their own to play
	// a DNS server that rebinds.
	Resolver Resolver
}

// Resolver is the part of *net.Resolver the dialer needs.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// ErrRefused marks every refusal of the address policy, so an attempt's error tells a refused
// address from an unreachable one.
var ErrRefused = errors.New("notify: address policy")

func refuse(format string, args ...any) error {
	return fmt.Errorf("%w refuses %s", ErrRefused, fmt.Sprintf(format, args...))
}

// metadata are the cloud instance-metadata services that sit outside link-local: Alibaba's in
// carrier-grade NAT space, AWS's and GCP's IPv6 ones in unique-local space, Azure's wire server
// in public space, Oracle's in IETF protocol space. A sandbox admits private ranges, so these
// must be named.
var metadata = []netip.Prefix{
	netip.MustParsePrefix("169.254.169.254/32"), // AWS, GCP, Azure IMDS, OpenStack, DigitalOcean
	netip.MustParsePrefix("100.100.100.200/32"), // Alibaba Cloud
	netip.MustParsePrefix("168.63.129.16/32"),   // Azure wire server
	netip.MustParsePrefix("192.0.0.192/32"),     // Oracle Cloud
	netip.MustParsePrefix("fd00:ec2::254/128"),  // AWS IMDS over IPv6
	netip.MustParsePrefix("fd20:ce::254/128"),   // GCP metadata over IPv6
}

// metadataNames are the host names of the same services; they are refused before any lookup,
// whatever they resolve to on the gateway's network.
var metadataNames = map[string]bool{
	"metadata":                     true,
	"metadata.google.internal":     true,
	"metadata.goog":                true,
	"instance-data":                true,
	"instance-data.ec2.internal":   true,
	"metadata.tencentyun.com":      true,
	"metadata.platformequinix.com": true,
	"metadata.packet.net":          true,
}

type rangeOf struct {
	prefix netip.Prefix
	what   string
}

func ranges(what string, cidrs ...string) []rangeOf {
	out := make([]rangeOf, len(cidrs))
	for i, c := range cidrs {
		out[i] = rangeOf{netip.MustParsePrefix(c), what}
	}
	return out
}

// always is what no policy admits, --notify-allow included.
var always = concat(
	ranges("link-local", "169.254.0.0/16", "fe80::/10"),
	ranges("unspecified", "0.0.0.0/8", "::/128"),
	ranges("multicast", "224.0.0.0/4", "ff00::/8"),
	ranges("reserved", "240.0.0.0/4"), // 255.255.255.255 included
	// RFC 8215's local-use NAT64 prefix translates to whatever the site decides, private
	// addresses included, and embeds them in ways no check can read back.
	ranges("local-use NAT64", "64:ff9b:1::/48"),
)

// internal is what production refuses unless --notify-allow lists it.
var internal = concat(
	ranges("loopback", "127.0.0.0/8", "::1/128"),
	ranges("private", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"),
	ranges("private (carrier-grade NAT)", "100.64.0.0/10"),
	ranges("private (IETF protocol assignments)", "192.0.0.0/24"),
	ranges("documentation", "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32", "3fff::/20"),
	ranges("benchmarking", "198.18.0.0/15", "2001:2::/48"),
	ranges("deprecated 6to4 relay", "192.88.99.0/24"),
)

// globalUnicast is where every public IPv6 address lives (RFC 4291); production refuses the rest.
var globalUnicast = netip.MustParsePrefix("2000::/3")

// nat64 is the well-known NAT64 prefix (RFC 6052): DNS64 hands out addresses in it for IPv4-only
// merchants, so it is judged by the IPv4 address it embeds, not refused as non-global.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

func concat(lists ...[]rangeOf) []rangeOf {
	var out []rangeOf
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// Check reports whether a notification may go to addr.
func (p Policy) Check(addr netip.Addr) error {
	if !addr.IsValid() {
		return refuse("an invalid address")
	}
	if addr.Zone() != "" {
		// A zone routes the address through an interface of the gateway's own choosing, and
		// netip.Prefix.Contains is false for every zoned address: no range check can judge it.
		return refuse("%s: an IPv6 zone is never admitted", addr)
	}
	addr = addr.Unmap() // ::ffff:a.b.c.d is dialled as a.b.c.d
	embedded, form := embeddedIPv4(addr)
	for _, v4 := range embedded {
		if err := p.check(v4); err != nil {
			return fmt.Errorf("%w (embedded in %s %s)", err, form, addr)
		}
	}
	if addr.Is6() && len(embedded) > 0 && form != "6to4" && form != "Teredo" {
		// Translated or obsolete forms (NAT64, IPv4-compatible, SIIT) are the IPv4 they embed.
		return nil
	}
	return p.check(addr)
}

// check judges one address without looking for embedded IPv4.
func (p Policy) check(addr netip.Addr) error {
	for _, m := range metadata {
		if m.Contains(addr) {
			return refuse("%s: a cloud metadata address", addr)
		}
	}
	for _, r := range always {
		if r.prefix.Contains(addr) {
			return refuse("%s: %s", addr, r.what)
		}
	}
	for _, a := range p.Allow {
		if a.Contains(addr) {
			return nil
		}
	}
	if p.AllowPrivate {
		return nil
	}
	for _, r := range internal {
		if r.prefix.Contains(addr) {
			return refuse("%s: %s; allow it with --notify-allow", addr, r.what)
		}
	}
	if addr.Is6() && !globalUnicast.Contains(addr) && !nat64.Contains(addr) {
		return refuse("%s: not a global unicast IPv6 address", addr)
	}
	return nil
}

// embeddedIPv4 returns the IPv4 addresses an IPv6 address carries and the name of the form:
// traffic to them may end at that IPv4 address through a translator or a tunnel.
func embeddedIPv4(a netip.Addr) ([]netip.Addr, string) {
	if !a.Is6() {
		return nil, ""
	}
	a = a.WithZone("") // Check refuses zones; this reading must not depend on it
	b := a.As16()
	v4 := func(i int) netip.Addr { return netip.AddrFrom4([4]byte(b[i : i+4])) }
	zero := func(from, to int) bool {
		for _, c := range b[from:to] {
			if c != 0 {
				return false
			}
		}
		return true
	}
	switch {
	case nat64.Contains(a):
		return []netip.Addr{v4(12)}, "NAT64"
	case zero(0, 12) && a != netip.IPv6Unspecified() && a != netip.IPv6Loopback():
		// IPv4-compatible ::a.b.c.d (RFC 4291, deprecated); :: and ::1 keep their IPv6 meaning.
		return []netip.Addr{v4(12)}, "IPv4-compatible"
	case zero(0, 8) && b[8] == 0xff && b[9] == 0xff && b[10] == 0 && b[11] == 0:
		return []netip.Addr{v4(12)}, "SIIT" // ::ffff:0:a.b.c.d (RFC 2765)
	case b[0] == 0x20 && b[1] == 0x02:
		return []netip.Addr{v4(2)}, "6to4" // 2002:AABB:CCDD::/48 (RFC 3056)
	case b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0:
		// Teredo 2001:0::/32 (RFC 4380): the server's IPv4, then the client's, inverted.
		client := [4]byte{^b[12], ^b[13], ^b[14], ^b[15]}
		return []netip.Addr{v4(4), netip.AddrFrom4(client)}, "Teredo"
	}
	return nil, ""
}

// CheckHost refuses, before any lookup, host forms no mode delivers to: names of metadata
// services, hosts with an IPv6 zone, numeric hosts not written as canonical dotted quads
// (2130706433, 0177.0.0.1, 0x7f.1, 127.1, which resolvers read as 127.0.0.1), and literal
// addresses the policy refuses whatever the mode.
func CheckHost(host string) error {
	if why := hostProblem(host); why != "" {
		return refuse("host %q: %s", host, why)
	}
	return nil
}

// hostProblem says what is wrong with host, or "".
func hostProblem(host string) string {
	switch {
	case host == "":
		return "an empty host"
	case strings.Contains(host, "%"):
		return "an IPv6 zone is never admitted"
	case strings.Contains(host, "\\"):
		return "a backslash is never admitted"
	}
	if metadataNames[strings.TrimSuffix(strings.ToLower(host), ".")] {
		return "a cloud metadata service"
	}
	if addr, err := netip.ParseAddr(host); err == nil {
		// Only what no mode admits: the rest depends on the gateway's mode and --notify-allow.
		if err := (Policy{AllowPrivate: true}).Check(addr); err != nil {
			return strings.TrimPrefix(err.Error(), ErrRefused.Error()+" refuses ")
		}
		return ""
	}
	if numeric(strings.TrimSuffix(host, ".")) {
		return "a numeric host must be a canonical dotted-quad IPv4 address"
	}
	if strings.Contains(host, ":") {
		return "not an IPv6 address"
	}
	return ""
}

// numeric reports whether the URL standard would read host as an IPv4 address: its last label
// is a decimal number or a 0x hex number (WHATWG URL, "ends in a number").
func numeric(host string) bool {
	last := host[strings.LastIndexByte(host, '.')+1:]
	if last == "" {
		return false
	}
	digits := "0123456789"
	if len(last) >= 2 && last[0] == '0' && (last[1] == 'x' || last[1] == 'X') {
		last, digits = last[2:], "0123456789abcdefABCDEF"
	}
	for _, c := range last {
		if !strings.ContainsRune(digits, c) {
			return false
		}
	}
	return true
}

// CheckURL refuses notify URLs whose host no mode delivers to, or that parsers read differently:
// user information (http://good.example@10.0.0.1/), a backslash (read as a slash by browsers and
// some proxies), an IPv6 zone, a non-canonical numeric host, a metadata service. The error is the
// reason, to follow the field's name.
func CheckURL(raw string) error {
	if strings.Contains(raw, "\\") {
		return errors.New("must not contain a backslash")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("must be an absolute URL")
	}
	if u.User != nil {
		return errors.New("must not carry user information")
	}
	if why := hostProblem(u.Hostname()); why != "" {
		return fmt.Errorf("host %q is refused: %s", u.Hostname(), why)
	}
	return nil
}

// control is a net.Dialer Control function enforcing the policy on every connection attempt:
// address is what the socket is about to connect to, after every lookup.
func (p Policy) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return refuse("dial %s: %v", address, err)
	}
	return p.Check(ap.Addr())
}

// dialer returns a DialContext that applies the policy: to the host before any lookup, to every
// address the lookup answers, and again, in Control, to the address the socket connects to.
func (p Policy) dialer(timeoutDial func() *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := timeoutDial()
	d.Control = p.control
	resolver := p.Resolver
	if resolver == nil {
		resolver = net.DefaultResolver
	}
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(address)
		if err != nil {
			return nil, refuse("dial %s: %v", address, err)
		}
		if err := CheckHost(host); err != nil {
			return nil, err
		}
		var addrs []netip.Addr
		if a, err := netip.ParseAddr(host); err == nil {
			addrs = []netip.Addr{a}
		} else {
			addrs, err = resolver.LookupNetIP(ctx, ipNetwork(network), host)
			if err != nil {
				return nil, fmt.Errorf("notify: look up %s: %w", host, err)
			}
		}
		// Each admitted answer is dialled as a literal, so the dial cannot look the name up
		// again and get another answer.
		var refused error
		admitted := addrs[:0:0]
		for _, a := range addrs {
			if err := p.Check(a); err != nil {
				refused = cmp.Or(refused, err)
				continue
			}
			admitted = append(admitted, a)
		}
		if len(admitted) == 0 {
			return nil, cmp.Or(refused, fmt.Errorf("notify: look up %s: no addresses", host))
		}
		var dialErr error
		start := time.Now()
		for i, a := range admitted {
			// Share the timeout among the answers left, as net.Dialer does, so one dead
			// address does not spend the whole attempt.
			dctx, cancel := ctx, context.CancelFunc(func() {})
			if left := d.Timeout - time.Since(start); d.Timeout > 0 {
				per := max(left/time.Duration(len(admitted)-i), min(2*time.Second, left))
				dctx, cancel = context.WithTimeout(ctx, per)
			}
			c, err := d.DialContext(dctx, network, net.JoinHostPort(a.String(), port))
			cancel()
			if err == nil {
				return c, nil
			}
			dialErr = cmp.Or(dialErr, err)
			if ctx.Err() != nil {
				break
			}
		}
		// An admitted address was tried: its failure is what the merchant can act on.
		return nil, dialErr
	}
}

func ipNetwork(network string) string {
	switch network {
	case "tcp4":
		return "ip4"
	case "tcp6":
		return "ip6"
	}
	return "ip"
}
