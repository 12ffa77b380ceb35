package bench

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
)

// rawEchoServer echoes fixed 64-byte frames on every accepted connection:
// the floor under every gRPC row.
type rawEchoServer struct {
	ln net.Listener
	wg sync.WaitGroup
	mu sync.Mutex // guards conns and closed
	// conns are the live accepted connections, closed on shutdown.
	conns  map[net.Conn]struct{}
	closed bool
}

func newRawEchoServer(ln net.Listener) *rawEchoServer {
	s := &rawEchoServer{ln: ln, conns: make(map[net.Conn]struct{})}
	s.wg.Add(1)
	go s.acceptLoop()
	return s
}

func (s *rawEchoServer) acceptLoop() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go s.serve(c)
	}
}

func (s *rawEchoServer) serve(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.Close()
	}()
	buf := make([]byte, smallPayload)
	for {
		if _, err := io.ReadFull(c, buf); err != nil {
			return
		}
		if _, err := c.Write(buf); err != nil {
			return
		}
	}
}

// close stops accepting, closes every connection and waits for the goroutines.
func (s *rawEchoServer) close() error {
	err := s.ln.Close()
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

func startRawUDS(ctx context.Context, e *env) (*instance, error) {
	return startRaw(ctx, e, serverSpec{Kind: serverRaw, Network: "unix", Addr: e.socketPath("raw")}, nil)
}

func startRawTCP(ctx context.Context, e *env) (*instance, error) {
	return startRaw(ctx, e, serverSpec{Kind: serverRaw, Network: "tcp", Addr: "127.0.0.1:0"}, nil)
}

// startRawTLS is the TLS floor: the 64-byte echo over TLS 1.3 with client
// certificates, the same handshake grpc-tls and the mux session make.
func startRawTLS(ctx context.Context, e *env) (*instance, error) {
	return startRaw(ctx, e, serverSpec{Kind: serverRaw, Network: "tcp", Addr: "127.0.0.1:0", TLS: true}, e.pki.clientTLS())
}

// startRaw starts the echo server of spec and dials it; a dial completes
// the TLS handshake when clientTLS is set.
func startRaw(ctx context.Context, e *env, spec serverSpec, clientTLS *tls.Config) (*instance, error) {
	in := &instance{}
	addrs, err := e.startServer(ctx, in, spec)
	if err != nil {
		return nil, errors.Join(err, in.close())
	}
	network, target := spec.Network, addrs.Addr
	in.dialRaw = func(ctx context.Context) (net.Conn, error) {
		if clientTLS != nil {
			d := tls.Dialer{Config: clientTLS}
			return d.DialContext(ctx, network, target)
		}
		var d net.Dialer
		return d.DialContext(ctx, network, target)
	}
	in.openChannel = in.dialRaw
	c, err := in.dialRaw(ctx)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("dial %s %s: %w", network, target, err), in.close())
	}
	in.rawConn = c
	in.onClose(c.Close)
	return in, nil
}

// rawPing writes one 64-byte frame and reads its echo.
func rawPing(c net.Conn, out, in []byte) error {
	if _, err := c.Write(out); err != nil {
		return fmt.Errorf("raw ping write: %w", err)
	}
	if _, err := io.ReadFull(c, in); err != nil {
		return fmt.Errorf("raw ping read: %w", err)
	}
	return nil
}
