//go:build linux

package transport

import (
	"github.com/podwire/podwire/internal/rawio"
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestListenerConfigKeepsNoDelay: a Listener given a Config that sets only
// HandshakeTimeout still sets TCP_NODELAY on accepted connections.
func TestListenerConfigKeepsNoDelay(t *testing.T) {
	ln, err := Listen(ctxT(t), ListenConfig{Service: "inventory", NoUnix: true, PlainAddr: "127.0.0.1:0",
		Config: Config{HandshakeTimeout: 5 * time.Second}, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	defer ln.Close()
	accepted := acceptOne(ln)
	c, err := net.Dial("tcp", ln.PlainAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sc := <-accepted
	if sc == nil {
		t.Fatal("Accept failed")
	}
	defer sc.Close()
	raw, ok := sc.(*serverConn).Conn.(*rawio.TCPConn)
	if !ok {
		t.Fatalf("accepted conn is %T, want *rawio.TCPConn (raw-syscall I/O, internal/rawio)", sc.(*serverConn).Conn)
	}
	if got := sockopt(t, raw.TCPConn, unix.IPPROTO_TCP, unix.TCP_NODELAY); got != 1 {
		t.Errorf("accepted conn TCP_NODELAY = %d, want 1 (the default)", got)
	}
}
