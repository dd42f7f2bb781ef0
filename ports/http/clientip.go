package http

import (
	"fmt"
	"net"
	"strings"

	"github.com/labstack/echo/v4"
)

// ParseTrustedProxies reads TRUSTED_PROXIES: a comma-separated list of IP addresses and CIDR ranges
// (10.0.0.5, 10.0.0.0/24, fd00::/8). An empty list trusts no proxy.
func ParseTrustedProxies(list string) ([]*net.IPNet, error) {
	var nets []*net.IPNet
	for item := range strings.SplitSeq(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if strings.Contains(item, "/") {
			_, n, err := net.ParseCIDR(item)
			if err != nil {
				return nil, fmt.Errorf("TRUSTED_PROXIES %q: want an IP address or a CIDR range such as 10.0.0.0/24: %w", item, err)
			}
			nets = append(nets, n)
			continue
		}
		ip := net.ParseIP(item)
		if ip == nil {
			return nil, fmt.Errorf("TRUSTED_PROXIES %q: want an IP address or a CIDR range such as 10.0.0.0/24", item)
		}
		bits := 128
		if v4 := ip.To4(); v4 != nil {
			ip, bits = v4, 32
		}
		nets = append(nets, &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)})
	}
	return nets, nil
}

// clientIPExtractor says where a request's client address comes from. With no trusted proxy it is
// the connection's peer: a header is the client's own word. Behind trusted proxies it is the
// nearest address in X-Forwarded-For that is not one of them, and only when the peer itself is one
// (else the header is ignored). Echo trusts loopback, link-local and private addresses by default;
// that is turned off, so that only what the operator listed is trusted: on a shared private network
// any neighbour could otherwise name itself anyone.
func clientIPExtractor(trusted []*net.IPNet) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, n := range trusted {
		opts = append(opts, echo.TrustIPRange(n))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}
