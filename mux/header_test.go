package mux

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	wirev1 "github.com/podwire/podwire/proto/podwire/wire/v1"
	"google.golang.org/protobuf/proto"
)

func validHeader() *wirev1.StreamHeader {
	return &wirev1.StreamHeader{Version: 1, Service: "inventory", Payload: wirev1.Payload_PAYLOAD_GRPC,
		Metadata: map[string]string{"trace-id": "abc123"}}
}

func TestHeaderRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	want := validHeader()
	if err := WriteHeader(&buf, want); err != nil {
		t.Fatalf("WriteHeader: %v", err)
	}
	buf.WriteString("payload")
	got, err := ReadHeader(&buf)
	if err != nil {
		t.Fatalf("ReadHeader: %v", err)
	}
	if !proto.Equal(got, want) {
		t.Errorf("ReadHeader = %v, want %v", got, want)
	}
	if rest := buf.String(); rest != "payload" {
		t.Errorf("bytes left after header = %q, want %q (reader must not over-read)", rest, "payload")
	}
}

func TestHeaderValidation(t *testing.T) {
	long := strings.Repeat("a", 64)
	tests := []struct {
		name  string
		edit  func(h *wirev1.StreamHeader)
		field string // "" = valid
		code  uint32
	}{
		{"valid", func(*wirev1.StreamHeader) {}, "", 0},
		{"raw payload", func(h *wirev1.StreamHeader) { h.Payload = wirev1.Payload_PAYLOAD_RAW }, "", 0},
		{"63-byte service", func(h *wirev1.StreamHeader) { h.Service = long[:63] }, "", 0},
		{"version 0", func(h *wirev1.StreamHeader) { h.Version = 0 }, "version", codeFailedPrecondition},
		{"version 2", func(h *wirev1.StreamHeader) { h.Version = 2 }, "version", codeFailedPrecondition},
		{"empty service", func(h *wirev1.StreamHeader) { h.Service = "" }, "service", codeInvalidArgument},
		{"64-byte service", func(h *wirev1.StreamHeader) { h.Service = long }, "service", codeInvalidArgument},
		{"upper case", func(h *wirev1.StreamHeader) { h.Service = "Inventory" }, "service", codeInvalidArgument},
		{"digit first", func(h *wirev1.StreamHeader) { h.Service = "1nv" }, "service", codeInvalidArgument},
		{"dot", func(h *wirev1.StreamHeader) { h.Service = "a.b" }, "service", codeInvalidArgument},
		{"unknown payload", func(h *wirev1.StreamHeader) { h.Payload = 7 }, "payload", codeInvalidArgument},
		{"17 metadata", func(h *wirev1.StreamHeader) {
			for i := range 17 {
				h.Metadata[string(rune('a'+i))] = "v"
			}
		}, "metadata", codeInvalidArgument},
		{"bad key", func(h *wirev1.StreamHeader) { h.Metadata["Trace"] = "v" }, "metadata", codeInvalidArgument},
		{"empty key", func(h *wirev1.StreamHeader) { h.Metadata[""] = "v" }, "metadata", codeInvalidArgument},
		{"long key", func(h *wirev1.StreamHeader) { h.Metadata[long+"x"] = "v" }, "metadata", codeInvalidArgument},
		{"long value", func(h *wirev1.StreamHeader) { h.Metadata["k"] = strings.Repeat("v", 257) }, "metadata", codeInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := validHeader()
			tt.edit(h)
			// Encode without validation so the reader's checks are tested too.
			b, err := proto.Marshal(h)
			if err != nil {
				t.Fatal(err)
			}
			frame := binary.BigEndian.AppendUint16(nil, uint16(len(b)))
			_, readErr := ReadHeader(bytes.NewReader(append(frame, b...)))
			writeErr := WriteHeader(io.Discard, h)
			for _, err := range []error{readErr, writeErr} {
				if tt.field == "" {
					if err != nil {
						t.Fatalf("err = %v, want nil", err)
					}
					continue
				}
				var he *HeaderError
				if !errors.As(err, &he) || !errors.Is(err, ErrInvalidHeader) {
					t.Fatalf("err = %v, want *HeaderError", err)
				}
				if he.Field != tt.field || he.Code != tt.code {
					t.Errorf("HeaderError{Field: %q, Code: %d}, want {%q, %d}", he.Field, he.Code, tt.field, tt.code)
				}
			}
		})
	}
}

func TestReadHeaderFraming(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		wantErr error
	}{
		{"too large", []byte{0x10, 0x01}, ErrHeaderTooLarge},
		{"empty", nil, io.ErrUnexpectedEOF},
		{"short prefix", []byte{0}, io.ErrUnexpectedEOF},
		{"short body", []byte{0, 10, 1, 2}, io.ErrUnexpectedEOF},
		{"garbage", []byte{0, 3, 0xff, 0xff, 0xff}, ErrInvalidHeader},
		{"empty message", []byte{0, 0}, ErrInvalidHeader}, // version 0
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ReadHeader(bytes.NewReader(tt.in)); !errors.Is(err, tt.wantErr) {
				t.Fatalf("ReadHeader = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestWriteHeaderTooLarge(t *testing.T) {
	h := validHeader()
	clear(h.Metadata)
	for i := range 16 {
		h.Metadata[strings.Repeat(string(rune('a'+i)), 60)] = strings.Repeat("v", 256)
	}
	// 16 entries of ~320 bytes encode to more than 4096 bytes.
	var he *HeaderError
	if err := WriteHeader(io.Discard, h); !errors.As(err, &he) || he.Field != "header" {
		t.Fatalf("WriteHeader of %d bytes = %v, want *HeaderError on header", proto.Size(h), err)
	}
}

func TestReplyRoundTripAndLimits(t *testing.T) {
	var buf bytes.Buffer
	want := &wirev1.StreamReply{Code: 5, Message: "no such service"}
	if err := WriteReply(&buf, want); err != nil {
		t.Fatal(err)
	}
	got, err := ReadReply(&buf)
	if err != nil || !proto.Equal(got, want) {
		t.Fatalf("ReadReply = %v, %v; want %v", got, err, want)
	}
	long := &wirev1.StreamReply{Code: 5, Message: strings.Repeat("x", 513)}
	if err := WriteReply(io.Discard, long); !errors.Is(err, ErrInvalidHeader) {
		t.Fatalf("WriteReply with 513-byte message = %v, want ErrInvalidHeader", err)
	}
}

// acceptService answers each stream on s: known services are accepted and
// echo their payload; others are refused with NOT_FOUND.
func acceptService(tb testing.TB, s *Session, known string) {
	tb.Helper()
	done := make(chan struct{})
	tb.Cleanup(func() { s.Close(); <-done })
	go func() {
		defer close(done)
		for {
			c, err := s.Accept()
			if err != nil {
				return
			}
			go func() {
				h, err := ReadStreamHeader(c, s.cfg.HeaderTimeout)
				var he *HeaderError
				switch {
				case errors.As(err, &he):
					Refuse(c, he.Code, he.Error())
				case err != nil:
					c.Close()
				case h.GetService() != known:
					Refuse(c, codeNotFound, "no service "+h.GetService())
				default:
					if Accept(c) == nil {
						io.Copy(c, c)
					}
					c.Close()
				}
			}()
		}
	}()
}

func TestDialService(t *testing.T) {
	for _, kind := range connKinds {
		t.Run(kind.name, func(t *testing.T) {
			client, server := sessionPair(t, kind.make, testConfig())
			acceptService(t, server, "inventory")
			ctx := context.Background()
			c, err := client.DialService(ctx, validHeader())
			if err != nil {
				t.Fatalf("DialService: %v", err)
			}
			echoRoundTrip(t, c, []byte("hello"))
			c.Close()

			h := validHeader()
			h.Service = "purchase"
			_, err = client.DialService(ctx, h)
			var re *RefusedError
			if !errors.As(err, &re) || re.Code != codeNotFound {
				t.Fatalf("DialService to unknown service = %v, want *RefusedError code 5", err)
			}
			if !strings.Contains(err.Error(), "NOT_FOUND") || !strings.Contains(err.Error(), "check the service name") {
				t.Errorf("refusal error %q does not say the code and what to do", err)
			}
		})
	}
}

func TestDialServiceContext(t *testing.T) {
	client, server := sessionPair(t, tcpConns, testConfig())
	// The server accepts streams but never answers the header.
	go func() {
		for {
			c, err := server.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := client.DialService(ctx, validHeader()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("DialService to a silent peer = %v, want DeadlineExceeded", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("DialService took %v after a 100ms deadline", took)
	}
	if err := client.Err(); err != nil {
		t.Fatalf("session died: %v", err)
	}
	if got := client.NumStreams(); got != 0 {
		t.Errorf("NumStreams after failed DialService = %d, want 0", got)
	}
}

func TestReadStreamHeaderTimeout(t *testing.T) {
	client, server := sessionPair(t, pipeConns, testConfig())
	_, b := openAccept(t, client, server)
	if _, err := ReadStreamHeader(b, 50*time.Millisecond); !errors.Is(err, ErrHeaderTimeout) {
		t.Fatalf("ReadStreamHeader with no header = %v, want ErrHeaderTimeout", err)
	}
}

func TestInboundLimits(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*Config)
		accept  bool // the acceptor calls Accept (so only MaxInboundStreams binds)
		wantMsg string
	}{
		{"max inbound", func(c *Config) { c.MaxInboundStreams = 3 }, true, "too many concurrent streams"},
		{"backlog", func(c *Config) { c.AcceptBacklog = 3 }, false, "accept backlog full"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			tt.edit(&cfg)
			client, server := sessionPair(t, tcpConns, cfg)
			ctx := context.Background()
			for i := 0; i < 3; i++ {
				c, err := client.Open(ctx)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { c.Close() })
				if tt.accept {
					if _, err := server.Accept(); err != nil {
						t.Fatal(err)
					}
				}
			}
			_, err := client.DialService(ctx, validHeader())
			var re *RefusedError
			if !errors.As(err, &re) || re.Code != codeResourceExhausted || !strings.Contains(re.Message, tt.wantMsg) {
				t.Fatalf("DialService past the limit = %v, want RESOURCE_EXHAUSTED %q", err, tt.wantMsg)
			}
			if !re.Temporary() {
				t.Error("RESOURCE_EXHAUSTED refusal should be Temporary")
			}
		})
	}
}

func TestRefuseCodeZero(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	if err := Refuse(b, 0, "no"); !errors.Is(err, ErrInvalidHeader) {
		t.Fatalf("Refuse(code 0) = %v, want ErrInvalidHeader", err)
	}
	if _, err := b.Write([]byte("x")); !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("conn after Refuse: write = %v, want closed", err)
	}
}

func FuzzReadHeader(f *testing.F) {
	var buf bytes.Buffer
	WriteHeader(&buf, validHeader())
	f.Add(buf.Bytes())
	f.Add([]byte{0, 0})
	f.Add([]byte{0xff, 0xff})
	f.Add([]byte{0, 2, 8, 1})
	f.Fuzz(func(t *testing.T, in []byte) {
		h, err := ReadHeader(bytes.NewReader(in))
		if err != nil {
			return
		}
		if err := ValidateHeader(h); err != nil {
			t.Fatalf("ReadHeader returned a header that fails validation: %v", err)
		}
		var out bytes.Buffer
		if err := WriteHeader(&out, h); err != nil && 2+proto.Size(h) <= MaxHeaderSize {
			t.Fatalf("re-encoding an accepted header: %v", err)
		}
	})
}

func FuzzReadReply(f *testing.F) {
	var buf bytes.Buffer
	WriteReply(&buf, &wirev1.StreamReply{Code: 8, Message: "busy"})
	f.Add(buf.Bytes())
	f.Add([]byte{0, 0})
	f.Add([]byte{0x10, 0x00})
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := ReadReply(bytes.NewReader(in))
		if err != nil {
			return
		}
		if len(r.GetMessage()) > maxReplyMessage {
			t.Fatalf("ReadReply accepted a %d-byte message", len(r.GetMessage()))
		}
		if err := WriteReply(io.Discard, r); err != nil {
			t.Fatalf("re-encoding an accepted reply: %v", err)
		}
	})
}
