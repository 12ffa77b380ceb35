//go:build linux

package mux

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"testing"

	"github.com/podwire/podwire/internal/rawio"
)

// rawTLSConns is tlsConns over sockets that do raw-syscall I/O, as
// transport and the sidecar make them.
func rawTLSConns(tb testing.TB) (net.Conn, net.Conn) {
	tb.Helper()
	c, s := tcpConns(tb)
	return handshakeTLS(tb, rawio.Wrap(c), rawio.Wrap(s))
}

// TestWireBatchesTLSRecords: over TLS on a raw-I/O socket the session's
// wire corks the socket around each batch (one write(2) per batch instead
// of one per 16 KiB TLS record) and reads ahead (up to four records per
// read(2)); over anything else it writes through. Both carry 4 MiB
// intact each way. Fails if the batching is switched off or lost under a
// new wrapper.
func TestWireBatchesTLSRecords(t *testing.T) {
	tests := []struct {
		name    string
		conns   connMaker
		batched bool
	}{
		{"tls over raw socket", rawTLSConns, true},
		{"tls over raw socket, handshake left to the first write", func(tb testing.TB) (net.Conn, net.Conn) {
			c, s := tcpConns(tb)
			pki := testPKI(tb)
			return tls.Client(rawio.Wrap(c), pki.client), tls.Server(rawio.Wrap(s), pki.server)
		}, false},
		{"tls over net.TCPConn", tlsConns, false},
		{"raw socket, no tls", func(tb testing.TB) (net.Conn, net.Conn) {
			c, s := tcpConns(tb)
			return rawio.Wrap(c), rawio.Wrap(s)
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, server := sessionPair(t, tt.conns, testConfig())
			for side, s := range map[string]*Session{"client": client, "server": server} {
				if got := s.wire.sock != nil; got != tt.batched {
					t.Errorf("%s wire batches socket writes = %v, want %v", side, got, tt.batched)
				}
			}
			msg := bytes.Repeat([]byte("0123456789abcdef"), 1<<18) // 4 MiB
			accepted := make(chan net.Conn, 1)
			go func() {
				st, err := server.Accept()
				if err != nil {
					accepted <- nil
					return
				}
				accepted <- st
			}()
			cs, err := client.Open(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			defer cs.Close()
			ss := <-accepted
			if ss == nil {
				t.Fatal("Accept failed")
			}
			defer ss.Close()
			errc := make(chan error, 1)
			go func() {
				// Echo everything back, in pieces of another size.
				_, err := io.CopyBuffer(ss, io.LimitReader(ss, int64(len(msg))), make([]byte, 48<<10))
				errc <- err
			}()
			go func() {
				_, err := cs.Write(msg)
				errc <- err
			}()
			got := make([]byte, len(msg))
			if _, err := io.ReadFull(cs, got); err != nil {
				t.Fatalf("read back: %v", err)
			}
			for range 2 {
				if err := <-errc; err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(got, msg) {
				t.Fatal("4 MiB came back different")
			}
		})
	}
}
