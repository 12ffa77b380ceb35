//go:build linux

package transport

import (
	"context"
	"github.com/podwire/podwire/internal/rawio"
	"net"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// sockopt reads an int socket option of c.
func sockopt(tb testing.TB, c syscall.Conn, level, opt int) int {
	tb.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		tb.Fatal(err)
	}
	var v int
	var serr error
	if err := rc.Control(func(fd uintptr) { v, serr = unix.GetsockoptInt(int(fd), level, opt) }); err != nil || serr != nil {
		tb.Fatalf("getsockopt(%d, %d): %v %v", level, opt, err, serr)
	}
	return v
}

func TestSocketOptions(t *testing.T) {
	cfg := DefaultConfig()
	cfg.KeepAliveIdle, cfg.KeepAliveInterval, cfg.KeepAliveCount = 45*time.Second, 7*time.Second, 4
	cfg.Linger = 3
	ln, err := cfg.listenConfig().Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if got := sockopt(t, ln.(*net.TCPListener), unix.SOL_SOCKET, unix.SO_REUSEADDR); got != 1 {
		t.Errorf("listener SO_REUSEADDR = %d, want 1", got)
	}
	accepted := acceptOne(ln)
	c, err := cfg.dialTCP(context.Background(), ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if sc := <-accepted; sc != nil {
		sc.Close()
	}
	rwc, ok := c.(*rawio.TCPConn)
	if !ok {
		t.Fatalf("dialed conn is %T, want *rawio.TCPConn (raw-syscall I/O, internal/rawio)", c)
	}
	tc := rwc.TCPConn
	tests := []struct {
		name       string
		level, opt int
		want       int
	}{
		{"TCP_NODELAY", unix.IPPROTO_TCP, unix.TCP_NODELAY, 1},
		{"SO_KEEPALIVE", unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1},
		{"TCP_KEEPIDLE", unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, 45},
		{"TCP_KEEPINTVL", unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, 7},
		{"TCP_KEEPCNT", unix.IPPROTO_TCP, unix.TCP_KEEPCNT, 4},
	}
	for _, tt := range tests {
		if got := sockopt(t, tc, tt.level, tt.opt); got != tt.want {
			t.Errorf("%s = %d, want %d", tt.name, got, tt.want)
		}
	}
	rc, _ := tc.SyscallConn()
	var l *unix.Linger
	rc.Control(func(fd uintptr) { l, err = unix.GetsockoptLinger(int(fd), unix.SOL_SOCKET, unix.SO_LINGER) })
	if err != nil || l.Onoff != 1 || l.Linger != 3 {
		t.Errorf("SO_LINGER = %+v (%v), want on, 3s", l, err)
	}
}
