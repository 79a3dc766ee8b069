package webhook

import (
	"context"
	"errors"
	"fmt"
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

// RefusedError is a destination the guard refused, before connecting.
type RefusedError struct {
	Host   string
	Reason string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("destination %s refused: %s", e.Host, e.Reason)
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
// resolves to must be reachable.
func (g *Guard) CheckURL(ctx context.Context, rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("is not a URL: %w", err)
	}
	if _, err := g.resolve(ctx, u.Hostname()); err != nil {
		var refused *RefusedError
		if errors.As(err, &refused) {
			return errors.New("resolves to an address webhooks may not reach (" + refused.Reason + ")")
		}
		return err
	}
	return nil
}

// DialContext connects to a checked address of addr's host; it refuses
// before any connection is made.
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

// resolve returns host's addresses if every one of them may be reached.
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
			return nil, fmt.Errorf("cannot resolve %s: %w", host, err)
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("cannot resolve %s: no addresses", host)
		}
		ips = found
	}
	for i, ip := range ips {
		ips[i] = ip.Unmap()
		if reason := g.refusal(host, ips[i]); reason != "" {
			return nil, &RefusedError{Host: host, Reason: reason}
		}
	}
	return ips, nil
}

// refusal says why ip may not be reached through host ("" when it may).
func (g *Guard) refusal(host string, ip netip.Addr) string {
	if embedded, ok := nat64(ip); ok {
		ip = embedded
	}
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

var nat64Prefix = netip.MustParsePrefix("64:ff9b::/96")

// nat64 returns the IPv4 address a NAT64 address stands for.
func nat64(ip netip.Addr) (netip.Addr, bool) {
	if !ip.Is6() || !nat64Prefix.Contains(ip) {
		return netip.Addr{}, false
	}
	b := ip.As16()
	return netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}), true
}
