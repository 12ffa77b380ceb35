package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// The echo service is written by hand (no protoc) so the benchmark carries
// its own tiny service: Unary echoes a BytesValue, PingPong echoes every
// message of a bidi stream, Bulk answers one request with N messages of
// bulkMessageSize bytes.
const (
	echoServiceName = "podwire.bench.v1.Echo"
	methodUnary     = "/" + echoServiceName + "/Unary"
	methodPingPong  = "/" + echoServiceName + "/PingPong"
	methodBulk      = "/" + echoServiceName + "/Bulk"

	// smallPayload is the request and reply size of unary and ping-pong.
	smallPayload = 64
	// bulkMessageSize is the size of one bulk message (1 MiB).
	bulkMessageSize = 1 << 20
	// maxMessageSize lets a bulk message and its framing through with room to spare.
	maxMessageSize = 4 * bulkMessageSize
)

// echoServer is the handler type of echoDesc.
type echoServer interface {
	unary(ctx context.Context, in *wrapperspb.BytesValue) (*wrapperspb.BytesValue, error)
	pingPong(stream grpc.ServerStream) error
	bulk(in *wrapperspb.BytesValue, stream grpc.ServerStream) error
}

// echoImpl implements echoServer; bulkPayload is shared read-only.
type echoImpl struct {
	bulkPayload []byte
}

func newEcho() *echoImpl {
	p := make([]byte, bulkMessageSize)
	for i := range p {
		p[i] = byte(i)
	}
	return &echoImpl{bulkPayload: p}
}

func (e *echoImpl) unary(_ context.Context, in *wrapperspb.BytesValue) (*wrapperspb.BytesValue, error) {
	return in, nil
}

func (e *echoImpl) pingPong(stream grpc.ServerStream) error {
	for {
		m := new(wrapperspb.BytesValue)
		if err := stream.RecvMsg(m); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if err := stream.SendMsg(m); err != nil {
			return err
		}
	}
}

// bulk reads the message count as a big-endian uint32 from the request.
func (e *echoImpl) bulk(in *wrapperspb.BytesValue, stream grpc.ServerStream) error {
	n, err := decodeBulkCount(in.GetValue())
	if err != nil {
		return err
	}
	m := wrapperspb.Bytes(e.bulkPayload)
	for range n {
		if err := stream.SendMsg(m); err != nil {
			return err
		}
	}
	return nil
}

func encodeBulkCount(n uint32) []byte {
	return binary.BigEndian.AppendUint32(nil, n)
}

func decodeBulkCount(b []byte) (uint32, error) {
	if len(b) != 4 {
		return 0, fmt.Errorf("podwire/bench: bulk request carries %d bytes, want a 4-byte count", len(b))
	}
	return binary.BigEndian.Uint32(b), nil
}

var echoDesc = grpc.ServiceDesc{
	ServiceName: echoServiceName,
	HandlerType: (*echoServer)(nil),
	Methods:     []grpc.MethodDesc{{MethodName: "Unary", Handler: unaryHandler}},
	Streams: []grpc.StreamDesc{
		{StreamName: "PingPong", Handler: pingPongHandler, ServerStreams: true, ClientStreams: true},
		{StreamName: "Bulk", Handler: bulkHandler, ServerStreams: true},
	},
}

func unaryHandler(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
	in := new(wrapperspb.BytesValue)
	if err := dec(in); err != nil {
		return nil, err
	}
	if interceptor == nil {
		return srv.(echoServer).unary(ctx, in)
	}
	info := &grpc.UnaryServerInfo{Server: srv, FullMethod: methodUnary}
	return interceptor(ctx, in, info, func(ctx context.Context, req any) (any, error) {
		return srv.(echoServer).unary(ctx, req.(*wrapperspb.BytesValue))
	})
}

func pingPongHandler(srv any, stream grpc.ServerStream) error {
	return srv.(echoServer).pingPong(stream)
}

func bulkHandler(srv any, stream grpc.ServerStream) error {
	in := new(wrapperspb.BytesValue)
	if err := stream.RecvMsg(in); err != nil {
		return err
	}
	return srv.(echoServer).bulk(in, stream)
}

// registerEcho registers a fresh echo service on s.
func registerEcho(s *grpc.Server) {
	s.RegisterService(&echoDesc, newEcho())
}

// messageSizeServerOptions raise grpc-go's message limits for bulk messages.
func messageSizeServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{grpc.MaxRecvMsgSize(maxMessageSize), grpc.MaxSendMsgSize(maxMessageSize)}
}

// messageSizeCallOptions raise the client's message limits for bulk messages.
func messageSizeDialOption() grpc.DialOption {
	return grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMessageSize), grpc.MaxCallSendMsgSize(maxMessageSize))
}

// callUnary sends one unary echo and checks the reply length.
func callUnary(ctx context.Context, cc grpc.ClientConnInterface, payload []byte) error {
	out := new(wrapperspb.BytesValue)
	if err := cc.Invoke(ctx, methodUnary, wrapperspb.Bytes(payload), out); err != nil {
		return fmt.Errorf("unary echo: %w", err)
	}
	if len(out.GetValue()) != len(payload) {
		return fmt.Errorf("unary echo: got %d bytes back, want %d", len(out.GetValue()), len(payload))
	}
	return nil
}

// openPingPong starts a ping-pong stream on cc.
func openPingPong(ctx context.Context, cc grpc.ClientConnInterface) (grpc.ClientStream, error) {
	s, err := cc.NewStream(ctx, &echoDesc.Streams[0], methodPingPong)
	if err != nil {
		return nil, fmt.Errorf("open ping-pong stream: %w", err)
	}
	return s, nil
}

// pingOnce sends m on s and waits for its echo.
func pingOnce(s grpc.ClientStream, m, reply *wrapperspb.BytesValue) error {
	if err := s.SendMsg(m); err != nil {
		return fmt.Errorf("ping-pong send: %w", err)
	}
	if err := s.RecvMsg(reply); err != nil {
		return fmt.Errorf("ping-pong receive: %w", err)
	}
	return nil
}

// closePingPong half-closes s and drains it so the server handler returns.
func closePingPong(s grpc.ClientStream) error {
	if err := s.CloseSend(); err != nil {
		return fmt.Errorf("ping-pong close: %w", err)
	}
	var m wrapperspb.BytesValue
	if err := s.RecvMsg(&m); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("ping-pong drain: %w", err)
	}
	return nil
}

// callBulk asks for n bulk messages and returns the payload bytes received.
func callBulk(ctx context.Context, cc grpc.ClientConnInterface, n uint32) (int64, error) {
	s, err := cc.NewStream(ctx, &echoDesc.Streams[1], methodBulk)
	if err != nil {
		return 0, fmt.Errorf("open bulk stream: %w", err)
	}
	if err := s.SendMsg(wrapperspb.Bytes(encodeBulkCount(n))); err != nil {
		return 0, fmt.Errorf("bulk request: %w", err)
	}
	if err := s.CloseSend(); err != nil {
		return 0, fmt.Errorf("bulk close-send: %w", err)
	}
	var total int64
	for {
		var m wrapperspb.BytesValue
		if err := s.RecvMsg(&m); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return total, fmt.Errorf("bulk receive: %w", err)
		}
		total += int64(len(m.GetValue()))
	}
	if want := int64(n) * bulkMessageSize; total != want {
		return total, fmt.Errorf("bulk: received %d bytes, want %d", total, want)
	}
	return total, nil
}

// wrapBytes wraps b as the echo service's message type.
func wrapBytes(b []byte) *wrapperspb.BytesValue { return wrapperspb.Bytes(b) }
