package mux

import (
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"
)

// FuzzSessionInput feeds arbitrary bytes to a server session as if from the
// network: the session must answer or die cleanly, never panic or hang, and
// Close must return with every goroutine stopped (goleak checks at exit).
func FuzzSessionInput(f *testing.F) {
	frame := func(typ byte, flags uint16, id, length uint32, body ...byte) []byte {
		h := make([]byte, 12, 12+len(body))
		h[1] = typ
		binary.BigEndian.PutUint16(h[2:], flags)
		binary.BigEndian.PutUint32(h[4:], id)
		binary.BigEndian.PutUint32(h[8:], length)
		return append(h, body...)
	}
	f.Add(frame(1, 1, 1, 0))                                              // window update SYN: open stream 1
	f.Add(append(frame(1, 1, 1, 0), frame(0, 0, 1, 3, 'a', 'b', 'c')...)) // open + data
	f.Add(frame(2, 1, 0, 7))                                              // ping
	f.Add(frame(3, 0, 0, 0))                                              // go away
	f.Add(frame(0, 1, 1, 1<<30))                                          // data beyond the window
	f.Add([]byte{1, 2, 3})                                                // bad version
	f.Fuzz(func(t *testing.T, in []byte) {
		c1, c2 := net.Pipe()
		cfg := testConfig()
		cfg.WriteTimeout = time.Second
		s, err := Server(c2, cfg)
		if err != nil {
			t.Fatal(err)
		}
		go io.Copy(io.Discard, c1) // drain whatever the session answers
		go func() {
			for {
				c, err := s.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		c1.SetWriteDeadline(time.Now().Add(time.Second))
		c1.Write(in)
		c1.Close()
		select {
		case <-s.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("session still alive 5s after its connection closed")
		}
		s.Close()
	})
}
