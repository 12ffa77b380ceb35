package integration

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/podwire/podwire/mux"
	wirev1 "github.com/podwire/podwire/proto/podwire/wire/v1"
	"github.com/podwire/podwire/sidecar"
	"github.com/podwire/podwire/transport/certs"
)

// hostileHandshake is pod B's sidecar handshake deadline in scenario 5,
// shorter than the default so the silent client case stays quick.
const hostileHandshake = 3 * time.Second

// hostileEnv is what every hostile case may use.
type hostileEnv struct {
	s       *shop
	addr    string      // pod B's sidecar, host:15443 on the suite network
	good    *tls.Config // purchase's identity: allowed
	intrude *tls.Config // same CA, not on the allow list
	expired *tls.Config // same CA, validity in the past
	foreign *tls.Config // purchase's name, signed by another CA
}

// TestHostileInput is scenario 5: hostile clients against pod B's sidecar
// and inventory's socket. Each is refused the way the case says, and after
// each a good order still goes through, on the same untouched session
// from pod A.
func TestHostileInput(t *testing.T) {
	s := newShop(t, func(c *sidecar.Config) { c.HandshakeTimeout = hostileHandshake })
	env := &hostileEnv{s: s, addr: net.JoinHostPort(ipOn(t, s.sideB, s.net), strconv.Itoa(sidecarPort))}
	now := time.Now()
	addLeaves(t, s.tls, []string{"intruder"})
	addLeaves(t, s.tls, []string{"expired"}, certs.WithValidity(now.Add(-48*time.Hour), now.Add(-24*time.Hour)))
	other := tlsDir(t, []string{"purchase"})
	env.good = clientTLS(t, s.tls, "purchase", s.tls, "inventory")
	env.intrude = clientTLS(t, s.tls, "intruder", s.tls, "inventory")
	env.expired = clientTLS(t, s.tls, "expired", s.tls, "inventory")
	env.foreign = clientTLS(t, other, "purchase", s.tls, "inventory")

	// The good path works before anything hostile happens.
	goodOrder(t, s, "hostile-first")
	sessionsBefore := inboundFrom(s.b.snapshot(t, adminOfPod), spiffeOf("purchase"))

	cases := []struct {
		name string
		run  func(t *testing.T, env *hostileEnv)
	}{
		{"random-bytes", func(t *testing.T, env *hostileEnv) { rawClient(t, env.addr, randomBytes(t, 64<<10)) }},
		{"silent-connection", func(t *testing.T, env *hostileEnv) { rawClient(t, env.addr, nil) }},
		{"untrusted-client-cert", func(t *testing.T, env *hostileEnv) { wantNoSession(t, env.addr, env.foreign) }},
		{"expired-client-cert", func(t *testing.T, env *hostileEnv) { wantNoSession(t, env.addr, env.expired) }},
		{"spiffe-id-not-allowed", func(t *testing.T, env *hostileEnv) {
			wantRefused(t, env.addr, env.intrude, nil, codes.PermissionDenied)
		}},
		{"oversized-stream-header", func(t *testing.T, env *hostileEnv) {
			frame := binary.BigEndian.AppendUint16(nil, mux.MaxHeaderSize+1)
			wantRefused(t, env.addr, env.good, append(frame, make([]byte, mux.MaxHeaderSize+1)...), codes.InvalidArgument)
		}},
		{"malformed-stream-header", func(t *testing.T, env *hostileEnv) {
			garbage := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
			wantRefused(t, env.addr, env.good, append(binary.BigEndian.AppendUint16(nil, uint16(len(garbage))), garbage...), codes.InvalidArgument)
		}},
		{"invalid-service-in-header", func(t *testing.T, env *hostileEnv) {
			wantRefused(t, env.addr, env.good, frameOf(t, &wirev1.StreamHeader{Version: mux.HeaderVersion, Service: "Inventory!", Payload: wirev1.Payload_PAYLOAD_GRPC}), codes.InvalidArgument)
		}},
		{"uds-client-uid-not-allowed", func(t *testing.T, env *hostileEnv) {
			if got := probeAs(t, env.s.b.socket("inventory"), 4242, runtimeUID); got != codes.PermissionDenied {
				t.Errorf("uid 4242 calling inventory over its socket got %v, want PermissionDenied", got)
			}
		}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.run(t, env)
			goodOrder(t, s, fmt.Sprintf("hostile-after-%d", i))
		})
	}

	snap := s.b.snapshot(t, adminOfPod)
	if !snap.Ready {
		t.Errorf("pod B's sidecar is not ready after the hostile cases: %s", snap.NotReady)
	}
	after := inboundFrom(snap, spiffeOf("purchase"))
	if len(sessionsBefore) != 1 || len(after) != 1 || after[0].Remote != sessionsBefore[0].Remote {
		t.Errorf("pod A's sessions before %+v and after %+v the hostile cases; want the same single session", sessionsBefore, after)
	}
	for _, si := range snap.Sessions {
		if si.Direction == "inbound" && si.SPIFFEID != spiffeOf("purchase") {
			t.Errorf("a hostile session outlived its case: %+v", si)
		}
	}
}

// goodOrder places one order through pod A and wants it accepted.
func goodOrder(t testing.TB, s *shop, key string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := s.pur.PlaceOrder(ctx, orderFor(key, s.sku(0), 1)); err != nil {
		t.Errorf("a good order (%s) failed: %v", key, err)
	}
}

// rawClient connects over plain TCP, sends payload (nothing if nil) and
// wants the sidecar to close the connection within its handshake deadline.
func rawClient(t *testing.T, addr string, payload []byte) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer c.Close()
	began := time.Now()
	if payload != nil {
		// The server may close mid-write; that is the point.
		_, _ = c.Write(payload)
	}
	c.SetReadDeadline(began.Add(hostileHandshake + 5*time.Second))
	buf := make([]byte, 4096)
	for {
		_, err = c.Read(buf)
		if err != nil {
			break
		}
	}
	closedAfter := time.Since(began)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the sidecar kept the connection open for %s, want it closed within the handshake deadline %s", closedAfter.Round(time.Millisecond), hostileHandshake)
	}
	t.Logf("connection closed by the sidecar after %s (handshake deadline %s): %v", closedAfter.Round(time.Millisecond), hostileHandshake, err)
	if slack := 1500 * time.Millisecond; closedAfter > hostileHandshake+slack {
		t.Errorf("closed after %s, want within the handshake deadline %s (+%s slack)", closedAfter, hostileHandshake, slack)
	}
}

// muxSession does a TLS handshake offering podwire-mux/1 and starts a
// client session; closing the session closes the connection.
func muxSession(t *testing.T, addr string, conf *tls.Config) (*mux.Session, error) {
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 5 * time.Second}, Config: conf}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	sess, err := mux.Client(c, mux.DefaultConfig())
	if err != nil {
		c.Close()
		t.Fatalf("starting a mux session: %v", err)
	}
	t.Cleanup(func() { sess.Close() })
	return sess, nil
}

// wantNoSession wants a client with conf to get no stream at all: the
// sidecar ends the connection during the handshake, before any header.
func wantNoSession(t *testing.T, addr string, conf *tls.Config) {
	sess, err := muxSession(t, addr, conf)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var c net.Conn
		c, err = sess.DialService(ctx, &wirev1.StreamHeader{Version: mux.HeaderVersion, Service: "inventory", Payload: wirev1.Payload_PAYLOAD_GRPC})
		if err == nil {
			c.Close()
			t.Fatalf("the sidecar accepted a stream from a client it must not trust")
		}
	}
	var re *mux.RefusedError
	if errors.As(err, &re) {
		t.Fatalf("got a stream refusal %v, want the connection cut during the TLS handshake", re)
	}
	t.Logf("refused: %v", err)
}

// wantRefused opens a stream with conf and wants it refused with code.
// frame is the raw header to send; nil sends a valid header through
// DialService (the path a real client takes).
func wantRefused(t *testing.T, addr string, conf *tls.Config, frame []byte, code codes.Code) {
	sess, err := muxSession(t, addr, conf)
	if err != nil {
		t.Fatalf("TLS with an identity the CA signed: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var rep *wirev1.StreamReply
	if frame == nil {
		c, err := sess.DialService(ctx, &wirev1.StreamHeader{Version: mux.HeaderVersion, Service: "inventory", Payload: wirev1.Payload_PAYLOAD_GRPC})
		var re *mux.RefusedError
		if !errors.As(err, &re) {
			if c != nil {
				c.Close()
			}
			t.Fatalf("DialService = %v, want a refusal with %v", err, code)
		}
		rep = &wirev1.StreamReply{Code: re.Code, Message: re.Message}
	} else {
		c, err := sess.Open(ctx)
		if err != nil {
			t.Fatalf("opening a stream: %v", err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write(frame); err != nil {
			t.Fatalf("writing the header: %v", err)
		}
		if rep, err = mux.ReadReply(c); err != nil {
			t.Fatalf("reading the reply to a bad header: %v", err)
		}
	}
	if got := codes.Code(rep.GetCode()); got != code {
		t.Errorf("reply code = %v (%q), want %v", got, rep.GetMessage(), code)
	}
	t.Logf("refused with %v: %s", codes.Code(rep.GetCode()), rep.GetMessage())
}

// frameOf frames h as the wire does, without the writer's validation.
func frameOf(t *testing.T, h *wirev1.StreamHeader) []byte {
	b, err := proto.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(b))), b...)
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}
