package transport

import (
	"context"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// AllowList is a parsed allow-list: who may call a server. It is
// immutable and safe for concurrent use. Entries:
//
//	uid:N               a Unix socket peer with uid N (SO_PEERCRED)
//	gid:N               a Unix socket peer whose primary gid is N
//	spiffe://td/path    a TLS peer whose leaf's SPIFFE ID (URI SAN) is exactly this
//	dns:name            a TLS peer with this DNS SAN (case-insensitive)
//	dns:*.domain        a TLS peer with a DNS SAN of exactly one label
//	                    under domain: a.domain matches, a.b.domain and domain do not
//
// ServerOptions (WithAllow) builds its interceptors on it; the sidecar
// uses it for each inbound service. The zero AllowList is the empty list.
type AllowList struct {
	uids, gids []int
	spiffe     []string
	dns        []string // lower case; "*.domain" for a wildcard
	selfUID    int      // the server's uid, for the empty list on Unix sockets
	parsed     bool     // made by ParseAllowList (selfUID is set)
}

// ParseAllowList parses allow-list entries (see AllowList). A bad entry
// fails with an *AllowEntryError naming it (matching ErrBadAllowEntry).
// No entries is valid and means: over Unix sockets only the server's own
// uid, over TLS any certificate the CA signed, over plaintext TCP only
// loopback.
func ParseAllowList(entries []string) (*AllowList, error) {
	a := &AllowList{selfUID: os.Getuid(), parsed: true}
	for _, e := range entries {
		kind, val, ok := strings.Cut(e, ":")
		if !ok {
			return nil, &AllowEntryError{Entry: e, Reason: "missing kind prefix"}
		}
		switch kind {
		case "uid", "gid":
			n, err := strconv.Atoi(val)
			if err != nil || n < 0 {
				return nil, &AllowEntryError{Entry: e, Reason: kind + " must be a non-negative number"}
			}
			if kind == "uid" {
				a.uids = append(a.uids, n)
			} else {
				a.gids = append(a.gids, n)
			}
		case "spiffe":
			u, err := url.Parse(e)
			if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Port() != "" {
				return nil, &AllowEntryError{Entry: e, Reason: "a SPIFFE ID is spiffe://trust-domain/path with no port, query or fragment"}
			}
			a.spiffe = append(a.spiffe, e)
		case "dns":
			name := strings.ToLower(val)
			if !validDNSEntry(name) {
				return nil, &AllowEntryError{Entry: e, Reason: "dns: needs a host name, or *. and a domain for one label"}
			}
			a.dns = append(a.dns, name)
		default:
			return nil, &AllowEntryError{Entry: e, Reason: "unknown kind " + strconv.Quote(kind)}
		}
	}
	return a, nil
}

// validDNSEntry reports whether name (lower case) is a host name or
// "*." and a domain.
func validDNSEntry(name string) bool {
	rest := strings.TrimPrefix(name, "*.")
	return rest != "" && !strings.ContainsAny(rest, "* /:@") &&
		!strings.HasPrefix(rest, ".") && !strings.HasSuffix(rest, ".")
}

// Empty reports whether the list has no entries.
func (a *AllowList) Empty() bool {
	return len(a.uids)+len(a.gids)+len(a.spiffe)+len(a.dns) == 0
}

// HasUnixEntries reports whether the list has uid: or gid: entries, which
// only Unix socket peers can match.
func (a *AllowList) HasUnixEntries() bool { return len(a.uids)+len(a.gids) > 0 }

// Allows reports whether peer may call and, when it may not, why (for a
// log line or an error message). Unix peers match uid:/gid: entries, TLS
// and mux+tls peers need a verified client certificate and match
// spiffe:/dns: entries, plaintext TCP peers are allowed only from loopback
// with an empty list.
func (a *AllowList) Allows(pr Peer) (bool, string) {
	switch pr.Transport {
	case KindUnix:
		if a.Empty() {
			self := a.selfUID
			if !a.parsed {
				self = os.Getuid()
			}
			if pr.UID == self && pr.UID >= 0 {
				return true, ""
			}
			return false, "empty allow-list: only the server's uid " + strconv.Itoa(self)
		}
		return slices.Contains(a.uids, pr.UID) || slices.Contains(a.gids, pr.GID), "uid/gid not in allow-list"
	case KindTLS, KindMuxTLS:
		if len(pr.Chain) == 0 {
			return false, "no verified client certificate"
		}
		if a.Empty() {
			return true, ""
		}
		if pr.SPIFFEID != "" && slices.Contains(a.spiffe, pr.SPIFFEID) {
			return true, ""
		}
		if slices.ContainsFunc(pr.DNSNames, a.matchDNS) {
			return true, ""
		}
		return false, "certificate SPIFFE ID/DNS names not in allow-list"
	case KindTCP:
		if a.Empty() && isLoopbackAddr(pr.Addr) {
			return true, ""
		}
		return false, "plaintext TCP has no identity; only loopback with an empty allow-list is allowed"
	}
	return false, "connection not made by a podwire Listener/credentials"
}

// matchDNS reports whether the certificate DNS name n matches a dns: entry.
func (a *AllowList) matchDNS(n string) bool {
	n = strings.ToLower(n)
	for _, e := range a.dns {
		if n == e {
			return true
		}
		if domain, ok := strings.CutPrefix(e, "*."); ok {
			head, tail, found := strings.Cut(n, ".")
			if found && head != "" && tail == domain {
				return true
			}
		}
	}
	return false
}

// publicServices are the gRPC services any authenticated peer may call,
// whatever the allow-list says, unless WithHealthToAll(false): the
// standard health check and server reflection, which probes (kubelet,
// grpc-health-probe) and tools (grpcurl) call without being listed.
var publicServices = []string{
	"grpc.health.v1.Health",
	"grpc.reflection.v1.ServerReflection",
	"grpc.reflection.v1alpha.ServerReflection",
}

// isPublicMethod reports whether the full method "/pkg.Service/Method"
// belongs to one of publicServices.
func isPublicMethod(method string) bool {
	svc, _, ok := strings.Cut(strings.TrimPrefix(method, "/"), "/")
	return ok && slices.Contains(publicServices, svc)
}

// authenticated reports whether the connection proved who pr is: a Unix
// socket peer whose credentials the kernel reported (SO_PEERCRED), or a
// TLS peer with a certificate chain the CA verified. Plaintext TCP never
// is.
func authenticated(pr Peer) bool {
	switch pr.Transport {
	case KindUnix:
		return pr.UID >= 0
	case KindTLS, KindMuxTLS:
		return len(pr.Chain) > 0
	}
	return false
}

// authorizer is the gRPC authorization of ServerOptions: an allow-list,
// whether health and reflection are open to every authenticated peer, the
// rate-limited log of denials and their counter. Immutable.
type authorizer struct {
	allow       *AllowList
	healthToAll bool
	log         *denyLog
	denied      *prometheus.CounterVec // transport, method; nil without WithMetrics
}

// isLoopbackAddr reports whether a is a loopback TCP address.
func isLoopbackAddr(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

// check returns PermissionDenied (counts and logs it) unless ctx's peer is
// allowed to call method.
func (p *authorizer) check(ctx context.Context, method string) error {
	pr, ok := PeerFrom(ctx)
	allowed, reason := false, "no podwire peer identity on the connection (use transport.ServerOptions)"
	if ok {
		if p.healthToAll && isPublicMethod(method) && authenticated(pr) {
			return nil
		}
		allowed, reason = p.allow.Allows(pr)
	}
	if allowed {
		return nil
	}
	if p.denied != nil {
		p.denied.WithLabelValues(pr.Transport.String(), method).Inc()
	}
	p.log.denied(pr, method, reason)
	return status.Errorf(codes.PermissionDenied, "podwire: %s: caller not allowed (%s)", method, reason)
}

// unary is the unary authorization interceptor.
func (p *authorizer) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if err := p.check(ctx, info.FullMethod); err != nil {
		return nil, err
	}
	return h(ctx, req)
}

// stream is the stream authorization interceptor.
func (p *authorizer) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	if err := p.check(ss.Context(), info.FullMethod); err != nil {
		return err
	}
	return h(srv, ss)
}
