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
	return startRaw(ctx, "unix", e.socketPath("raw"), nil, nil)
}

func startRawTCP(ctx context.Context, _ *env) (*instance, error) {
	return startRaw(ctx, "tcp", "127.0.0.1:0", nil, nil)
}

// startRawTLS is the TLS floor: the 64-byte echo over TLS 1.3 with client
// certificates, the same handshake grpc-tls and the mux session make.
func startRawTLS(ctx context.Context, e *env) (*instance, error) {
	return startRaw(ctx, "tcp", "127.0.0.1:0", e.pki.serverTLS(), e.pki.clientTLS())
}

// startRaw listens on network/addr (with TLS when serverTLS is set) and
// dials the echo server; a dial completes the TLS handshake.
func startRaw(ctx context.Context, network, addr string, serverTLS, clientTLS *tls.Config) (*instance, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s %s: %w", network, addr, err)
	}
	target := ln.Addr().String()
	if serverTLS != nil {
		ln = tls.NewListener(ln, serverTLS)
	}
	srv := newRawEchoServer(ln)
	in := &instance{}
	in.onClose(srv.close)
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
		in.close()
		return nil, fmt.Errorf("dial %s %s: %w", network, target, err)
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
