package webhook

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/require"
)

// The secret of the Standard Webhooks specification's own example.
const specSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func TestSignatureVerifiesWithTheStandardWebhooksLibrary(t *testing.T) {
	t.Parallel()
	body := []byte(`{"type":"JOB_FINISHED","timestamp":"2026-12-01T00:00:00Z","data":{"jobId":"gwc_1","status":"SUCCESS"}}`)
	at := time.Now()
	rotated := "whsec_" + "dGhpcyBpcyBhbm90aGVyIHNlY3JldCBvZiB0aGlydHkgdHdv"
	for _, tc := range []struct {
		name    string
		secrets []string
	}{
		{"one secret", []string{specSecret}},
		{"during a rotation's grace, both", []string{rotated, specSecret}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sig, err := Sign(tc.secrets, "whd_1", at, body)
			require.NoError(t, err)
			headers := http.Header{}
			headers.Set(HeaderID, "whd_1")
			headers.Set(HeaderTimestamp, strconv.FormatInt(at.Unix(), 10))
			headers.Set(HeaderSignature, sig)
			for _, secret := range tc.secrets {
				wh, err := standardwebhooks.NewWebhook(secret)
				require.NoError(t, err)
				require.NoError(t, wh.Verify(body, headers), "verifies with %s", secret[:10])
			}
			wh, _ := standardwebhooks.NewWebhook("whsec_" + "d3Jvbmcgc2VjcmV0IHdyb25nIHNlY3JldCB3cm9uZyE=")
			require.Error(t, wh.Verify(body, headers), "another secret does not verify")
			tampered := append([]byte{}, body...)
			tampered[10] = 'X'
			wh, _ = standardwebhooks.NewWebhook(tc.secrets[0])
			require.Error(t, wh.Verify(tampered, headers), "a changed body does not verify")
		})
	}
	// The specification's example, computed by its library, matches ours.
	wh, err := standardwebhooks.NewWebhook(specSecret)
	require.NoError(t, err)
	want, err := wh.Sign("msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	require.NoError(t, err)
	got, err := Sign([]string{specSecret}, "msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	require.NoError(t, err)
	require.Equal(t, want, got)
}

// fakeResolver answers names from a table that a test may change.
type fakeResolver struct {
	mu    sync.Mutex
	names map[string][]netip.Addr
}

func (r *fakeResolver) set(host string, ips ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var addrs []netip.Addr
	for _, ip := range ips {
		addrs = append(addrs, netip.MustParseAddr(ip))
	}
	r.names[host] = addrs
}

func (r *fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ips, ok := r.names[host]; ok {
		return append([]netip.Addr(nil), ips...), nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// dialRecorder stands in for the network: it records what would have been
// connected to and connects to nothing.
type dialRecorder struct {
	mu    sync.Mutex
	dials []string
}

var errNoNetwork = errors.New("test: no connection is made")

func (d *dialRecorder) dial(_ context.Context, _, address string) (net.Conn, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.dials = append(d.dials, address)
	return nil, errNoNetwork
}

func (d *dialRecorder) taken() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.dials...)
}

// TestGuardRefusesBeforeAnyConnection: private, loopback and link-local
// destinations are refused at the check and at the dial, before any
// connection; the allow list admits loopback and private ones, never
// link-local ones.
func TestGuardRefusesBeforeAnyConnection(t *testing.T) {
	t.Parallel()
	resolver := &fakeResolver{names: map[string][]netip.Addr{}}
	resolver.set("public.test", "203.0.113.10")
	resolver.set("internal.test", "10.1.2.3")
	resolver.set("mixed.test", "203.0.113.10", "192.168.1.5")
	resolver.set("metadata.test", "169.254.169.254")
	resolver.set("allowed-name.test", "10.9.9.9")
	resolver.set("allowed-but-metadata.test", "169.254.169.254")
	resolver.set("tunnel.test", "2002:a9fe:a9fe::1")

	for _, tc := range []struct {
		allow   string
		host    string
		refused bool
	}{
		{"", "203.0.113.10", false},
		{"", "public.test", false},
		{"", "127.0.0.1", true},
		{"", "::1", true},
		{"", "10.0.0.1", true},
		{"", "172.16.5.4", true},
		{"", "192.168.0.1", true},
		{"", "100.64.0.1", true},
		{"", "0.0.0.0", true},
		{"", "::ffff:10.0.0.1", true},
		{"", "64:ff9b::a00:1", true},
		{"", "fd00::1", true},
		{"", "169.254.169.254", true},
		{"", "fe80::1", true},
		{"", "internal.test", true},
		{"", "mixed.test", true},
		{"", "metadata.test", true},
		{"127.0.0.1", "127.0.0.1", false},
		{"127.0.0.0/8", "127.0.0.2", false},
		{"10.0.0.0/8", "internal.test", false},
		{"allowed-name.test", "allowed-name.test", false},
		{"10.0.0.0/8", "192.168.0.1", true},
		{"169.254.169.254", "169.254.169.254", true},
		{"169.254.0.0/16,0.0.0.0/0", "metadata.test", true},
		{"allowed-but-metadata.test", "allowed-but-metadata.test", true},
		{"fe80::/10", "fe80::1", true},
		// IPv6 forms that embed or tunnel to IPv4 are checked as the IPv4
		// they hold (every one of them, for Teredo's server and client).
		{"", "::ffff:127.0.0.1", true},
		{"169.254.0.0/16", "::ffff:169.254.169.254", true},
		{"", "::ffff:0:a00:1", true},
		{"", "64:ff9b::7f00:1", true},
		{"169.254.0.0/16", "64:ff9b::a9fe:a9fe", true},
		{"", "64:ff9b::cb00:710a", false},
		{"", "64:ff9b:1::a00:1", true},
		{"0.0.0.0/0,::/0", "64:ff9b:1:cb00:71:a00::", true},
		{"", "::a00:1", true},
		{"", "::7f00:1", true},
		{"169.254.0.0/16", "::a9fe:a9fe", true},
		{"", "::cb00:710a", false},
		{"", "2002:a00:1::1", true},
		{"", "2002:7f00:1::1", true},
		{"169.254.0.0/16", "2002:a9fe:a9fe::1", true},
		{"", "2002:cb00:710a::1", false},
		{"10.0.0.0/8", "2002:a00:1::1", false},
		{"", "tunnel.test", true},
		{"", "2001:0:cb00:710a::80ff:fffe", true},
		{"169.254.0.0/16", "2001:0:cb00:710a::5601:5601", true},
		{"", "2001:0:a00:1::39cc:9bf8", true},
		{"", "2001:0:cb00:710a::39cc:9bf8", false},
		{"", "2600:1f18::5efe:a00:1", true},
		{"169.254.0.0/16", "2600:1f18::200:5efe:a9fe:a9fe", true},
		{"", "2600:1f18::200:5efe:cb00:710a", false},
	} {
		name := tc.host + " allowing " + tc.allow
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			base, err := ParseAllowList(tc.allow)
			require.NoError(t, err)
			rec := &dialRecorder{}
			g := base.WithResolver(resolver).WithDial(rec.dial)

			err = g.CheckURL(context.Background(), "https://"+net.JoinHostPort(tc.host, "443")+"/hook")
			_, dialErr := g.DialContext(context.Background(), "tcp", net.JoinHostPort(tc.host, "443"))
			if tc.refused {
				require.Error(t, err, "refused at creation")
				var refused *RefusedError
				require.ErrorAs(t, dialErr, &refused, "refused at delivery")
				require.Empty(t, rec.taken(), "no connection was attempted")
				return
			}
			require.NoError(t, err)
			require.ErrorIs(t, dialErr, errNoNetwork, "allowed: the dial goes ahead")
			require.NotEmpty(t, rec.taken())
			for _, addr := range rec.taken() {
				host, _, _ := net.SplitHostPort(addr)
				_, perr := netip.ParseAddr(host)
				require.NoError(t, perr, "the connection goes to the checked address, not the name")
			}
		})
	}
}

// TestHeldIPv4: the IPv4 addresses each IPv6 form embeds or tunnels to,
// read from the bits its specification puts them in.
func TestHeldIPv4(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, ip string
		held     []string
		located  bool
	}{
		{"IPv4", "10.0.0.1", nil, true},
		{"plain IPv6", "2600:1f18::1", nil, true},
		{"loopback", "::1", nil, true},
		{"unspecified", "::", nil, true},
		{"IPv4-mapped", "::ffff:10.0.0.1", []string{"10.0.0.1"}, true},
		{"IPv4-translated", "::ffff:0:a00:1", []string{"10.0.0.1"}, true},
		{"well-known NAT64", "64:ff9b::a9fe:a9fe", []string{"169.254.169.254"}, true},
		{"local-use NAT64", "64:ff9b:1::a00:1", nil, false},
		{"IPv4-compatible", "::a00:1", []string{"10.0.0.1"}, true},
		{"6to4", "2002:a9fe:a9fe:1::1", []string{"169.254.169.254"}, true},
		{"Teredo: server, then the client inverted", "2001:0:cb00:710a:8000:f227:80ff:fffe", []string{"203.0.113.10", "127.0.0.1"}, true},
		{"ISATAP", "2600:1f18::5efe:a00:1", []string{"10.0.0.1"}, true},
		{"ISATAP, u bit set", "2600:1f18::200:5efe:a9fe:a9fe", []string{"169.254.169.254"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			held, located := heldIPv4(netip.MustParseAddr(tc.ip))
			require.Equal(t, tc.located, located)
			var got []string
			for _, a := range held {
				got = append(got, a.String())
			}
			require.Equal(t, tc.held, got)
		})
	}
}

// resolverOf answers names from a table; any other name fails the way a
// resolver does, naming the resolver's address.
type resolverOf map[string]string

func (r resolverOf) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if ip, ok := r[host]; ok {
		return []netip.Addr{netip.MustParseAddr(ip)}, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, Server: "10.0.0.53:53", IsNotFound: true}
}

// TestGuardRefusalsTellNothingOfTheNetwork: an endpoint refused at creation
// reads the same whether its name resolves to loopback, a private address,
// the metadata service, or nothing (the resolver's failure, which names the
// resolver, stays out); a refusal at delivery reads as it does at creation.
// The detail is in the error's log value.
func TestGuardRefusalsTellNothingOfTheNetwork(t *testing.T) {
	t.Parallel()
	base, err := ParseAllowList("")
	require.NoError(t, err)
	rec := &dialRecorder{}
	g := base.WithResolver(resolverOf{"loop.test": "127.0.0.1", "private.test": "10.1.2.3", "meta.test": "169.254.169.254"}).WithDial(rec.dial)
	for _, tc := range []struct {
		host, detail string
		resolves     bool
	}{
		{"loop.test", "127.0.0.1", true},
		{"private.test", "10.1.2.3", true},
		{"meta.test", "169.254.169.254", true},
		{"nx.test", "10.0.0.53:53", false},
	} {
		t.Run(tc.host, func(t *testing.T) {
			t.Parallel()
			want := "destination refused: " + tc.host + " does not resolve to an address webhooks may reach"
			err := g.CheckURL(context.Background(), "https://"+tc.host+"/hook")
			require.EqualError(t, err, want)
			var refused *RefusedError
			require.ErrorAs(t, err, &refused)
			require.Contains(t, refused.LogValue().String(), tc.detail, "the log has the detail")

			_, err = g.DialContext(context.Background(), "tcp", tc.host+":443")
			require.Error(t, err)
			if tc.resolves {
				require.EqualError(t, err, want)
			}
		})
	}
	require.Empty(t, rec.taken(), "no connection was attempted")
}

// TestGuardChecksAgainAtDelivery: a name that resolved to a public address
// when its endpoint was made and resolves to the metadata service later is
// refused at the dial.
func TestGuardChecksAgainAtDelivery(t *testing.T) {
	t.Parallel()
	resolver := &fakeResolver{names: map[string][]netip.Addr{}}
	resolver.set("rebind.test", "203.0.113.7")
	rec := &dialRecorder{}
	base, err := ParseAllowList("")
	require.NoError(t, err)
	g := base.WithResolver(resolver).WithDial(rec.dial)
	require.NoError(t, g.CheckURL(context.Background(), "https://rebind.test/hook"))

	resolver.set("rebind.test", "169.254.169.254")
	_, err = g.DialContext(context.Background(), "tcp", "rebind.test:443")
	var refused *RefusedError
	require.ErrorAs(t, err, &refused)
	require.Empty(t, rec.taken())
}

func TestParseAllowListAndSchedule(t *testing.T) {
	t.Parallel()
	_, err := ParseAllowList("10.0.0.0/33")
	require.Error(t, err)
	s, err := ParseSchedule("")
	require.NoError(t, err)
	require.Equal(t, ScheduleDefault, s)
	var total time.Duration
	for _, d := range s {
		total += d
	}
	require.Greater(t, total, 24*time.Hour, "the default schedule spans about a day")
	s, err = ParseSchedule("10ms, 1s")
	require.NoError(t, err)
	require.Equal(t, []time.Duration{10 * time.Millisecond, time.Second}, s)
	_, err = ParseSchedule("5s,soon")
	require.Error(t, err)
	_, err = ParseSchedule("-1s")
	require.Error(t, err)
}
