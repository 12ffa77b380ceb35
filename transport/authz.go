package transport

import (
	"context"
	"log/slog"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// policy is a parsed allow-list; immutable.
type policy struct {
	uids, gids []int
	spiffe     []string
	dns        []string
	selfUID    int // the server's uid, for the empty list on Unix sockets
	log        *slog.Logger
}

// parsePolicy parses allow-list entries; the error names the bad entry.
func parsePolicy(entries []string) (*policy, error) {
	p := &policy{selfUID: os.Getuid()}
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
				p.uids = append(p.uids, n)
			} else {
				p.gids = append(p.gids, n)
			}
		case "spiffe":
			u, err := url.Parse(e)
			if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Port() != "" {
				return nil, &AllowEntryError{Entry: e, Reason: "a SPIFFE ID is spiffe://trust-domain/path with no port, query or fragment"}
			}
			p.spiffe = append(p.spiffe, e)
		case "dns":
			if val == "" || strings.ContainsAny(val, " /:@") {
				return nil, &AllowEntryError{Entry: e, Reason: "dns: needs a host name"}
			}
			p.dns = append(p.dns, strings.ToLower(val))
		default:
			return nil, &AllowEntryError{Entry: e, Reason: "unknown kind " + strconv.Quote(kind)}
		}
	}
	return p, nil
}

// empty reports whether no entry was given.
func (p *policy) empty() bool {
	return len(p.uids)+len(p.gids)+len(p.spiffe)+len(p.dns) == 0
}

// allows reports whether peer may call, and a reason for the log.
func (p *policy) allows(pr Peer) (bool, string) {
	switch pr.Transport {
	case KindUnix:
		if p.empty() {
			if pr.UID == p.selfUID && pr.UID >= 0 {
				return true, ""
			}
			return false, "empty allow-list: only the server's uid " + strconv.Itoa(p.selfUID)
		}
		return slices.Contains(p.uids, pr.UID) || slices.Contains(p.gids, pr.GID), "uid/gid not in allow-list"
	case KindTLS, KindMuxTLS:
		if len(pr.Chain) == 0 {
			return false, "no verified client certificate"
		}
		if p.empty() {
			return true, ""
		}
		if pr.SPIFFEID != "" && slices.Contains(p.spiffe, pr.SPIFFEID) {
			return true, ""
		}
		for _, n := range pr.DNSNames {
			if slices.Contains(p.dns, strings.ToLower(n)) {
				return true, ""
			}
		}
		return false, "certificate SPIFFE ID/DNS names not in allow-list"
	case KindTCP:
		if p.empty() && isLoopbackAddr(pr.Addr) {
			return true, ""
		}
		return false, "plaintext TCP has no identity; only loopback with an empty allow-list is allowed"
	}
	return false, "connection not made by a podwire Listener/credentials"
}

// isLoopbackAddr reports whether a is a loopback TCP address.
func isLoopbackAddr(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

// check returns PermissionDenied (and logs) unless ctx's peer is allowed.
func (p *policy) check(ctx context.Context, method string) error {
	pr, ok := PeerFrom(ctx)
	allowed, reason := false, "no podwire peer identity on the connection (use transport.ServerOptions)"
	if ok {
		allowed, reason = p.allows(pr)
	}
	if allowed {
		return nil
	}
	p.log.Warn("podwire: permission denied", "method", method, "transport", pr.Transport.String(),
		"uid", pr.UID, "gid", pr.GID, "pid", pr.PID, "spiffe_id", pr.SPIFFEID, "dns", pr.DNSNames, "reason", reason)
	return status.Errorf(codes.PermissionDenied, "podwire: %s: caller not allowed (%s)", method, reason)
}

// unary is the unary authorization interceptor.
func (p *policy) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if err := p.check(ctx, info.FullMethod); err != nil {
		return nil, err
	}
	return h(ctx, req)
}

// stream is the stream authorization interceptor.
func (p *policy) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	if err := p.check(ss.Context(), info.FullMethod); err != nil {
		return err
	}
	return h(srv, ss)
}
