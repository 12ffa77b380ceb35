//go:build unix

package handoff

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"net"
	"os"
	"slices"
	"testing"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestSendReceive: listeners sent with their keys arrive as descriptors of
// the same sockets (a connection to the sent listener is accepted on the
// received one), over a socket pair as between two processes.
func TestSendReceive(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	conn := func(fd int) *net.UnixConn {
		f := os.NewFile(uintptr(fd), "pair")
		defer f.Close()
		c, err := net.FileConn(f)
		if err != nil {
			t.Fatal(err)
		}
		return c.(*net.UnixConn)
	}
	a, b := conn(fds[0]), conn(fds[1])
	defer a.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	lf, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	if err := send(a, map[string]*os.File{"tcp:x": lf}); err != nil {
		t.Fatal(err)
	}
	p := &Parent{conn: b, files: map[string]*os.File{}}
	defer p.Close()
	if err := p.receive(); err != nil {
		t.Fatal(err)
	}
	f := p.Take("tcp:x")
	if f == nil || p.Take("tcp:x") != nil {
		t.Fatalf("Take(tcp:x) = %v, then again non-nil; want the file once", f)
	}
	got, err := net.FileListener(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	if got.Addr().String() != ln.Addr().String() {
		t.Errorf("received listener on %s, want %s", got.Addr(), ln.Addr())
	}
	ln.Close() // only the received descriptor accepts now
	c, err := net.Dial("tcp", got.Addr().String())
	if err != nil {
		t.Fatalf("dial after the sender closed its listener: %v", err)
	}
	c.Close()
	ac, err := got.Accept()
	if err != nil {
		t.Fatal(err)
	}
	ac.Close()
}

// FuzzReadMessage: reading the length-prefixed key list from any bytes,
// split anywhere between the first read and the rest, never panics, and
// what it accepts is a key list that round-trips through JSON.
func FuzzReadMessage(f *testing.F) {
	body, _ := json.Marshal(message{Keys: []string{"tcp::15443", "unix:/run/podwire/a.sock"}})
	f.Add(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body, uint8(3))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff}, []byte("{}"), uint8(0))
	f.Fuzz(func(t *testing.T, head, rest []byte, split uint8) {
		in := append(slices.Clone(head), rest...)
		n := min(int(split), len(in))
		keys, err := readMessage(bytes.NewReader(in[n:]), in[:n])
		if err != nil {
			return
		}
		again, err := json.Marshal(message{Keys: keys})
		if err != nil {
			t.Fatal(err)
		}
		var m message
		if err := json.Unmarshal(again, &m); err != nil || !slices.Equal(m.Keys, keys) {
			t.Fatalf("keys %q do not round-trip", keys)
		}
	})
}
