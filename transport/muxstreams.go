package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/code"

	"github.com/podwire/podwire/mux"
	wirev1 "github.com/podwire/podwire/proto/podwire/wire/v1"
)

// MuxServer is podwire's one server of podwire-mux/1 streams, shared by
// the SDK Listener (its handler hands streams to a gRPC server) and the
// sidecar's inbound side (its handler proxies bytes to the local app).
// For each stream it reads the podwire.wire.v1 header under a deadline
// (mux.ReadStreamHeader also checks the version), looks up the service,
// checks the caller's identity against the service's allow-list and
// whether the server is draining, then hands the stream to the service's
// handler, which accepts it or refuses it. Every refusal is answered with
// a google.rpc.Code and a message that names only the requested service
// and says what to do, logged, and reported to OnRefuse. Safe for
// concurrent use; it holds no goroutines of its own (ServeStream runs on
// the caller's).
type MuxServer struct {
	cfg MuxServerConfig
	log *slog.Logger
}

// MuxServerConfig configures NewMuxServer.
type MuxServerConfig struct {
	// Services maps each served service name to how it is served;
	// required, names must pass mux.ValidateServiceName.
	Services map[string]MuxService
	// HeaderTimeout bounds reading a stream's header. Zero means
	// mux.DefaultConfig().HeaderTimeout (5 s).
	HeaderTimeout time.Duration
	// Draining, when set and returning true, refuses new streams with
	// UNAVAILABLE (the caller retries another replica).
	Draining func() bool
	// OnRefuse, when set, is called for every refused stream with a
	// low-cardinality reason: bad_header, version, header_timeout,
	// header_read, unknown_service, payload, forbidden, draining, reply, or
	// a handler's own Refusal.Reason. It must not block.
	OnRefuse func(reason string)
	// Logger receives refusals (info) and header failures; nil discards.
	Logger *slog.Logger
}

// MuxService is how a MuxServer serves one service.
type MuxService struct {
	// Allow admits only the peers it allows (PERMISSION_DENIED for the
	// others); nil admits every peer its session's TLS handshake verified.
	Allow *AllowList
	// Payloads lists the payloads served; others are refused with
	// UNIMPLEMENTED. Empty means any.
	Payloads []wirev1.Payload
	// Handler serves the admitted streams; required.
	Handler MuxHandler
}

// MuxHandler serves one admitted stream: it calls st.Accept and then owns
// the returned conn, or st.Refuse. If it returns having done neither, the
// MuxServer closes the stream. ctx is the one given to ServeStream; it
// ends when the stream's owner closes.
type MuxHandler func(ctx context.Context, st *MuxStream)

// MuxStream is a stream whose header passed the MuxServer's checks,
// handed to a MuxHandler.
type MuxStream struct {
	// Header is the stream's podwire.wire.v1 header.
	Header *wirev1.StreamHeader
	// Peer is the identity of the stream's session (shared, read-only).
	Peer *AuthInfo

	srv     *MuxServer
	conn    net.Conn
	decided bool
}

// Refusal is a MuxServer's answer to a stream it does not serve.
type Refusal struct {
	Code    code.Code // the google.rpc.Code sent to the peer
	Reason  string    // low-cardinality label for metrics and logs
	Message string    // for the peer: what went wrong and what to do
}

// Error returns the reason, code and message.
func (r *Refusal) Error() string {
	return fmt.Sprintf("podwire/transport: stream refused (%s, %s): %s", r.Reason, r.Code, r.Message)
}

// NewMuxServer checks cfg and returns a MuxServer.
func NewMuxServer(cfg MuxServerConfig) (*MuxServer, error) {
	if len(cfg.Services) == 0 {
		return nil, configError("MuxServerConfig.Services", "no service to serve")
	}
	for name, svc := range cfg.Services {
		if err := mux.ValidateServiceName(name); err != nil {
			return nil, configError("MuxServerConfig.Services", "%v", err)
		}
		if svc.Handler == nil {
			return nil, configError("MuxServerConfig.Services", "service %q has no Handler", name)
		}
	}
	if cfg.HeaderTimeout == 0 {
		cfg.HeaderTimeout = mux.DefaultConfig().HeaderTimeout
	}
	if cfg.HeaderTimeout < 0 {
		return nil, configError("MuxServerConfig.HeaderTimeout", "must be >= 0, got %v", cfg.HeaderTimeout)
	}
	return &MuxServer{cfg: cfg, log: loggerOr(cfg.Logger)}, nil
}

// NewAuthConn returns tc, whose handshake has completed, as an AuthConn
// identified by its verified certificate chain, with transport kind
// (KindMuxTLS for a mux session's connection, KindTLS for h2). Start a mux
// session on it and give its AuthInfo to ServeStream.
func NewAuthConn(kind Kind, tc *tls.Conn) (AuthConn, error) {
	return withTLSIdentity(kind, tc)
}

// ServeStream serves one stream c accepted on a mux session whose peer is
// ai, on the calling goroutine, until the handler returns.
func (m *MuxServer) ServeStream(ctx context.Context, c net.Conn, ai *AuthInfo) {
	h, err := mux.ReadStreamHeader(c, m.cfg.HeaderTimeout)
	if err != nil {
		m.refuseHeader(c, ai, err)
		return
	}
	st := &MuxStream{Header: h, Peer: ai, srv: m, conn: c}
	svc, ok := m.cfg.Services[h.GetService()]
	if !ok {
		st.Refuse(&Refusal{Code: code.Code_NOT_FOUND, Reason: "unknown_service",
			Message: fmt.Sprintf("service %q is not served here; check the service name and the peer address in the caller's config", h.GetService())})
		return
	}
	if len(svc.Payloads) > 0 && !slices.Contains(svc.Payloads, h.GetPayload()) {
		st.Refuse(&Refusal{Code: code.Code_UNIMPLEMENTED, Reason: "payload",
			Message: fmt.Sprintf("payload %v is not served for service %q here; use %v", h.GetPayload(), h.GetService(), svc.Payloads)})
		return
	}
	if svc.Allow != nil {
		if ok, _ := svc.Allow.Allows(ai.Peer); !ok {
			st.Refuse(&Refusal{Code: code.Code_PERMISSION_DENIED, Reason: "forbidden",
				Message: fmt.Sprintf("peer %s is not allowed to call service %q; add it to that service's allow list on the callee", PeerName(ai.Peer), h.GetService())})
			return
		}
	}
	if m.cfg.Draining != nil && m.cfg.Draining() {
		st.Refuse(&Refusal{Code: code.Code_UNAVAILABLE, Reason: "draining",
			Message: "this server is shutting down; retry on another replica"})
		return
	}
	svc.Handler(ctx, st)
	if !st.decided {
		c.Close()
	}
}

// refuseHeader answers a stream whose header could not be read.
func (m *MuxServer) refuseHeader(c net.Conn, ai *AuthInfo, err error) {
	var he *mux.HeaderError
	reason := "header_read"
	switch {
	case errors.As(err, &he):
		reason = "bad_header"
		if he.Field == "version" {
			reason = "version"
		}
		_ = mux.Refuse(c, he.Code, he.Error())
	case errors.Is(err, mux.ErrHeaderTooLarge):
		reason = "bad_header"
		_ = mux.Refuse(c, uint32(code.Code_INVALID_ARGUMENT), err.Error())
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		// Closed before any header: a liveness probe (a pool keeping a
		// session warm) or a client that gave up. Nothing to answer.
		m.log.Debug("podwire: mux stream closed before its header", "peer", PeerName(ai.Peer))
		c.Close()
		return
	default:
		if errors.Is(err, mux.ErrHeaderTimeout) {
			reason = "header_timeout"
		}
		c.Close()
	}
	m.log.Info("podwire: mux stream header rejected", "peer", PeerName(ai.Peer), "reason", reason, "err", err)
	m.refused(reason)
}

// refused reports a refusal to OnRefuse.
func (m *MuxServer) refused(reason string) {
	if m.cfg.OnRefuse != nil {
		m.cfg.OnRefuse(reason)
	}
}

// Accept answers the stream's header with OK and returns the stream, an
// AuthConn carrying its session's identity; the caller owns it. If the
// reply cannot be written the stream is closed (reason "reply").
func (s *MuxStream) Accept() (AuthConn, error) {
	s.decided = true
	if err := mux.Accept(s.conn); err != nil {
		s.conn.Close()
		s.srv.refused("reply")
		return nil, err
	}
	return &authStream{Conn: s.conn, ai: s.Peer}, nil
}

// Refuse answers the stream's header with r's code and message, closes
// the stream, logs the refusal and reports r.Reason.
func (s *MuxStream) Refuse(r *Refusal) {
	s.decided = true
	s.srv.log.Info("podwire: mux stream refused", "peer", PeerName(s.Peer.Peer), "service", s.Header.GetService(),
		"reason", r.Reason, "code", r.Code.String(), "msg", r.Message)
	s.srv.refused(r.Reason)
	_ = mux.Refuse(s.conn, uint32(r.Code), r.Message)
}

// PeerName names a peer for logs and messages: its SPIFFE ID, else
// "dns:" and its DNS names, else "cn:" and its certificate's common name,
// else "uid:N" over a Unix socket, else "(no identity)".
func PeerName(p Peer) string {
	switch {
	case p.SPIFFEID != "":
		return p.SPIFFEID
	case len(p.DNSNames) > 0:
		return "dns:" + strings.Join(p.DNSNames, ",")
	case len(p.Chain) > 0 && p.Chain[0].Subject.CommonName != "":
		return "cn:" + p.Chain[0].Subject.CommonName
	case p.Transport == KindUnix && p.UID >= 0:
		return fmt.Sprintf("uid:%d", p.UID)
	}
	return "(no identity)"
}
