package transport

import (
	"context"
	"crypto/tls"
	"sync"

	"github.com/podwire/podwire/mux"
	wirev1 "github.com/podwire/podwire/proto/podwire/wire/v1"
)

// muxServer runs the podwire-mux/1 sessions of a Listener: its MuxServer
// reads each stream's header, refuses streams for other services or
// payloads, and hands the rest to Listener.Accept. Safe for concurrent use.
type muxServer struct {
	l      *Listener
	cfg    mux.Config
	stream *MuxServer // the stream pipeline shared with the sidecar

	wg         sync.WaitGroup     // session accept loops, stream handshakes, drains
	hard       context.Context    // cancelled to cut drains short
	cancelHard context.CancelFunc // cancels hard

	mu       sync.Mutex              // guards sessions and closing
	sessions map[*mux.Session]string // live sessions → remote address
	closing  bool
}

// newMuxServer prepares mux serving for l.
func newMuxServer(l *Listener, cfg mux.Config) (*muxServer, error) {
	cfg = cfg.WithDefaults()
	if cfg.StreamQuota == nil {
		// One quota per listener, shared by all its sessions (#12.7).
		cfg.StreamQuota, _ = mux.NewStreamQuota(mux.DefaultStreamQuota)
	}
	if cfg.Logger == nil {
		cfg.Logger = l.log
	}
	m := &muxServer{l: l, cfg: cfg, sessions: map[*mux.Session]string{}}
	m.hard, m.cancelHard = context.WithCancel(context.Background())
	var err error
	m.stream, err = NewMuxServer(MuxServerConfig{
		Services: map[string]MuxService{l.cfg.Service: {
			Payloads: []wirev1.Payload{wirev1.Payload_PAYLOAD_GRPC, wirev1.Payload_PAYLOAD_UNSPECIFIED},
			Handler:  m.deliver,
		}},
		HeaderTimeout: cfg.HeaderTimeout,
		Logger:        l.log,
	})
	if err != nil {
		m.cancelHard()
		return nil, err
	}
	return m, nil
}

// deliver accepts an admitted stream and hands it to Listener.Accept.
func (m *muxServer) deliver(_ context.Context, st *MuxStream) {
	if c, err := st.Accept(); err == nil {
		m.l.deliver(c)
	}
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
			m.stream.ServeStream(m.hard, c, ai)
		}()
	}
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
