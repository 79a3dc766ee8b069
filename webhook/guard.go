package webhook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"strings"
)

// Resolver looks host names up (net.DefaultResolver; tests give their own).
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// DialFunc connects to an address that was already checked.
type DialFunc func(ctx context.Context, network, address string) (net.Conn, error)

// Guard decides which addresses deliveries may reach. Loopback, private,
// shared and reserved addresses are refused unless the host or a CIDR
// holding the address is allowed (WEBHOOK_ALLOW_HOSTS); link-local
// addresses (cloud metadata services live there), unspecified and multicast
// ones are refused whatever the list says. The check runs when an endpoint
// is created or changed and again on every connection: the addresses a name
// resolves to are checked, and the connection is made to the checked
// address itself, so a name that changes between the two cannot slip by.
type Guard struct {
	hosts    map[string]bool
	prefixes []netip.Prefix
	resolver Resolver
	dial     DialFunc
}

// RefusedError is a destination the guard refused, before connecting. Its
// message names the host and nothing the gateway learnt about it: a tenant's
// admin reads it (as an input error, or as a delivery's lastError), and the
// address a name resolved to, or the resolver's own answer, would map the
// gateway's network for them. The detail is for the server's log
// (LogValue).
type RefusedError struct {
	Host string
	// Addr is the address refused (invalid when the name did not resolve).
	Addr netip.Addr
	// Reason says why, for the log.
	Reason string
	// Err is the resolver's failure, for the log.
	Err error
}

func (e *RefusedError) Error() string {
	if e.Host == "" {
		return "destination refused: the URL has no host"
	}
	return "destination refused: " + e.Host + " does not resolve to an address webhooks may reach"
}

// LogValue implements slog.LogValuer: the detail the message leaves out.
func (e *RefusedError) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("host", e.Host), slog.String("reason", e.Reason)}
	if e.Addr.IsValid() {
		attrs = append(attrs, slog.String("address", e.Addr.String()))
	}
	if e.Err != nil {
		attrs = append(attrs, slog.String("err", e.Err.Error()))
	}
	return slog.GroupValue(attrs...)
}

// ParseAllowList builds a guard from WEBHOOK_ALLOW_HOSTS: comma-separated
// host names, IP addresses and CIDRs.
func ParseAllowList(list string) (*Guard, error) {
	g := &Guard{hosts: map[string]bool{}, resolver: net.DefaultResolver, dial: (&net.Dialer{}).DialContext}
	for entry := range strings.SplitSeq(list, ",") {
		entry = strings.TrimSpace(entry)
		switch {
		case entry == "":
		case strings.Contains(entry, "/"):
			p, err := netip.ParsePrefix(entry)
			if err != nil {
				return nil, fmt.Errorf("WEBHOOK_ALLOW_HOSTS: %q is not a CIDR: %w", entry, err)
			}
			g.prefixes = append(g.prefixes, p.Masked())
		default:
			if ip, err := netip.ParseAddr(strings.Trim(entry, "[]")); err == nil {
				g.prefixes = append(g.prefixes, netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()))
				continue
			}
			g.hosts[strings.ToLower(entry)] = true
		}
	}
	return g, nil
}

// WithResolver returns a copy of g that looks names up with r.
func (g *Guard) WithResolver(r Resolver) *Guard {
	c := *g
	c.resolver = r
	return &c
}

// WithDial returns a copy of g that connects with dial, once an address has
// passed the check.
func (g *Guard) WithDial(dial DialFunc) *Guard {
	c := *g
	c.dial = dial
	return &c
}

// CheckURL implements gateway.URLGuard: every address the URL's host
// resolves to must be reachable. A name that does not resolve is refused
// with the same message as one that resolves where deliveries may not go,
// so the check does not tell which internal names exist; the returned
// *RefusedError carries the detail for the log.
func (g *Guard) CheckURL(ctx context.Context, rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("is not a URL: %w", err)
	}
	host := u.Hostname()
	if _, err := g.resolve(ctx, host); err != nil {
		var refused *RefusedError
		if errors.As(err, &refused) {
			return refused
		}
		return &RefusedError{Host: host, Reason: "the name does not resolve", Err: err}
	}
	return nil
}

// DialContext connects to a checked address of addr's host; it refuses
// (*RefusedError) before any connection is made.
func (g *Guard) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	ips, err := g.resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, ip := range ips {
		conn, err := g.dial(ctx, network, net.JoinHostPort(ip.String(), port))
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

// resolve returns host's addresses if every one of them may be reached: a
// *RefusedError when one may not, the resolver's error when the name does
// not resolve.
func (g *Guard) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if host == "" {
		return nil, &RefusedError{Host: host, Reason: "no host"}
	}
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		ips = []netip.Addr{ip}
	} else {
		found, err := g.resolver.LookupNetIP(ctx, "ip", host)
		if err != nil {
			return nil, fmt.Errorf("resolving %s: %w", host, err)
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("resolving %s: no addresses", host)
		}
		ips = found
	}
	for i, ip := range ips {
		ips[i] = ip.Unmap()
		if reason := g.refusal(host, ips[i]); reason != "" {
			return nil, &RefusedError{Host: host, Addr: ips[i], Reason: reason}
		}
	}
	return ips, nil
}

// refusal says why ip may not be reached through host ("" when it may). An
// IPv6 address that embeds or tunnels to IPv4 addresses is refused when any
// of them would be.
func (g *Guard) refusal(host string, ip netip.Addr) string {
	held, located := heldIPv4(ip)
	if !located {
		return "an IPv6 address that may hold an IPv4 address at a place it does not tell (never allowed)"
	}
	for _, addr := range append([]netip.Addr{ip}, held...) {
		if reason := g.refusalOf(host, addr); reason != "" {
			return reason
		}
	}
	return ""
}

// refusalOf says why one address may not be reached through host.
func (g *Guard) refusalOf(host string, ip netip.Addr) string {
	switch {
	case ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast():
		return "a link-local address (never allowed)"
	case ip.IsUnspecified() || ip.IsMulticast():
		return "an unspecified or multicast address (never allowed)"
	}
	kind := ""
	switch {
	case ip.IsLoopback():
		kind = "a loopback address"
	case ip.IsPrivate():
		kind = "a private address"
	default:
		for _, p := range notPublic {
			if p.Contains(ip) {
				kind = "a shared or reserved address"
				break
			}
		}
	}
	if kind == "" || g.hosts[strings.ToLower(host)] {
		return ""
	}
	for _, p := range g.prefixes {
		if p.Contains(ip) {
			return ""
		}
	}
	return kind + " not in WEBHOOK_ALLOW_HOSTS"
}

// notPublic are the IPv4 ranges, besides loopback, private and link-local,
// that are not the public internet.
var notPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("fec0::/10"),
}

// The IPv6 forms that embed an IPv4 address, or reach one through a tunnel
// or a translator: a connection to them may end at that IPv4 address.
var (
	// IPv4-mapped (::ffff:0:0/96) and IPv4-translated (::ffff:0:0:0/96, SIIT)
	// addresses, and the well-known NAT64 prefix (RFC 6052): the IPv4
	// address is the last 32 bits.
	mappedPrefix     = netip.MustParsePrefix("::ffff:0:0/96")
	translatedPrefix = netip.MustParsePrefix("::ffff:0:0:0/96")
	nat64Prefix      = netip.MustParsePrefix("64:ff9b::/96")
	// IPv4-compatible addresses (::/96, deprecated by RFC 4291 but still
	// tunnelled by some stacks): the last 32 bits, :: and ::1 aside.
	compatiblePrefix = netip.MustParsePrefix("::/96")
	// The local-use NAT64 prefix (RFC 8215): its operator picks a prefix
	// length from /48 to /96, and the IPv4 address sits at a place that
	// depends on it, so it cannot be checked.
	localNAT64Prefix = netip.MustParsePrefix("64:ff9b:1::/48")
	// 6to4 (RFC 3056): the relay's IPv4 address is bits 16-47.
	sixToFourPrefix = netip.MustParsePrefix("2002::/16")
	// Teredo (RFC 4380): the server's IPv4 address is bits 32-63, the
	// client's the last 32 bits inverted.
	teredoPrefix = netip.MustParsePrefix("2001::/32")
)

// heldIPv4 returns the IPv4 addresses ip embeds or tunnels to (none for
// an IPv4 address or a plain IPv6 one). located is false when ip may hold
// one at a place it does not tell.
func heldIPv4(ip netip.Addr) (held []netip.Addr, located bool) {
	if !ip.Is6() {
		return nil, true
	}
	b := ip.As16()
	last := netip.AddrFrom4([4]byte(b[12:16]))
	switch {
	case localNAT64Prefix.Contains(ip):
		return nil, false
	case mappedPrefix.Contains(ip), translatedPrefix.Contains(ip), nat64Prefix.Contains(ip):
		held = append(held, last)
	case compatiblePrefix.Contains(ip):
		if !ip.IsUnspecified() && !ip.IsLoopback() {
			held = append(held, last)
		}
	case sixToFourPrefix.Contains(ip):
		held = append(held, netip.AddrFrom4([4]byte(b[2:6])))
	case teredoPrefix.Contains(ip):
		client := [4]byte{^b[12], ^b[13], ^b[14], ^b[15]}
		held = append(held, netip.AddrFrom4([4]byte(b[4:8])), netip.AddrFrom4(client))
	}
	// ISATAP (RFC 5214) puts an IPv4 address in the interface identifier
	// of any prefix: 0000:5efe or 0200:5efe (the u and g bits may be set),
	// then the address.
	if b[8]&^0x03 == 0 && b[9] == 0 && b[10] == 0x5e && b[11] == 0xfe {
		held = append(held, last)
	}
	return held, true
}
