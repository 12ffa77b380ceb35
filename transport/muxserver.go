package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"sync"

	"github.com/podwire/podwire/mux"
	wirev1 "github.com/podwire/podwire/proto/podwire/wire/v1"
)

// gRPC status codes written in stream replies (google.rpc.Code).
const (
	codeNotFound      = 5
	codeUnimplemented = 12
)

// muxServer runs the podwire-mux/1 sessions of a Listener: it reads each
// stream's podwire.wire.v1 header, refuses streams for other services, and
// hands the rest to Listener.Accept. Safe for concurrent use.
type muxServer struct {
	l   *Listener
	cfg mux.Config

	wg         sync.WaitGroup     // session accept loops, stream handshakes, drains
	hard       context.Context    // cancelled to cut drains short
	cancelHard context.CancelFunc // cancels hard

	mu       sync.Mutex              // guards sessions and closing
	sessions map[*mux.Session]string // live sessions → remote address
	closing  bool
}

// newMuxServer prepares mux serving for l.
func newMuxServer(l *Listener, cfg mux.Config) *muxServer {
	if cfg == (mux.Config{}) {
		cfg = mux.DefaultConfig()
	}
	if cfg.Logger == nil {
		cfg.Logger = l.log
	}
	hard, cancel := context.WithCancel(context.Background())
	return &muxServer{l: l, cfg: cfg, hard: hard, cancelHard: cancel, sessions: map[*mux.Session]string{}}
}

// start runs a server session on a handshaken TLS conn; its streams carry
// the identity of that handshake.
func (m *muxServer) start(tc *tls.Conn) {
	ac, err := withTLSIdentity(KindMuxTLS, tc)
	if err != nil {
		m.l.log.Warn("podwire: mux connection without identity; closing", "remote", tc.RemoteAddr().String(), "err", err)
		tc.Close()
		return
	}
	sess, err := mux.Server(ac, m.cfg)
	if err != nil {
		m.l.log.Warn("podwire: starting mux session failed", "remote", tc.RemoteAddr().String(), "err", err)
		tc.Close()
		return
	}
	m.mu.Lock()
	if m.closing {
		m.mu.Unlock()
		sess.Close()
		return
	}
	m.sessions[sess] = tc.RemoteAddr().String()
	m.wg.Add(1)
	m.mu.Unlock()
	go m.acceptLoop(sess, ac.ai)
}

// acceptLoop accepts streams until the session ends.
func (m *muxServer) acceptLoop(sess *mux.Session, ai *AuthInfo) {
	defer m.wg.Done()
	defer func() {
		m.mu.Lock()
		delete(m.sessions, sess)
		m.mu.Unlock()
	}()
	for {
		c, err := sess.Accept()
		if err != nil {
			return
		}
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			m.handleStream(&authStream{Conn: c, ai: ai})
		}()
	}
}

// handleStream reads the header and accepts or refuses the stream.
func (m *muxServer) handleStream(c *authStream) {
	h, err := mux.ReadStreamHeader(c, m.cfg.HeaderTimeout)
	if err != nil {
		var he *mux.HeaderError
		if errors.As(err, &he) {
			_ = mux.Refuse(c, he.Code, he.Error())
		} else {
			c.Close()
		}
		m.l.log.Info("podwire: mux stream header rejected", "remote", c.RemoteAddr().String(), "err", err)
		return
	}
	if code, msg := m.refusal(h); code != 0 {
		m.l.log.Info("podwire: mux stream refused", "service", h.GetService(), "code", code, "reason", msg)
		_ = mux.Refuse(c, code, msg)
		return
	}
	if err := mux.Accept(c); err != nil {
		c.Close()
		return
	}
	m.l.deliver(c)
}

// refusal returns a non-zero code for a header this Listener does not serve.
func (m *muxServer) refusal(h *wirev1.StreamHeader) (uint32, string) {
	if h.GetService() != m.l.cfg.Service {
		return codeNotFound, fmt.Sprintf("service %q is not served here (this listener serves %q); check the peer address",
			h.GetService(), m.l.cfg.Service)
	}
	if p := h.GetPayload(); p != wirev1.Payload_PAYLOAD_GRPC && p != wirev1.Payload_PAYLOAD_UNSPECIFIED {
		return codeUnimplemented, fmt.Sprintf("payload %v is not served by a podwire SDK listener; use PAYLOAD_GRPC or a sidecar", p)
	}
	return 0, ""
}

// close stops new sessions and starts draining live ones: each gets a GoAway
// and closes when its last stream closes (the gRPC server closes the
// streams it serves on Stop/GracefulStop). It does not wait; see wait.
func (m *muxServer) close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closing {
		return
	}
	m.closing = true
	for sess := range m.sessions {
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			_ = sess.Shutdown(m.hard)
		}()
	}
}

// wait waits for drains to finish or ctx to end, then closes what is left.
func (m *muxServer) wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		m.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		m.cancelHard()
		return nil
	case <-ctx.Done():
		m.cancelHard()
		<-done
		return ctx.Err()
	}
}

// alpn is the protocols the TLS port offers.
func (l *Listener) alpn() []string { return []string{ALPNGRPC, ALPNMux} }
