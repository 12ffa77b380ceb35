package purchase

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	inventoryv1 "github.com/podwire/podwire/proto/podwire/inventory/v1"
	"github.com/podwire/podwire/transport"
)

// errInventoryNotDialed is what calls to inventory get before purchase has
// found it; Unavailable, so they are retried within their deadline.
var errInventoryNotDialed = status.Error(codes.Unavailable,
	"purchase: inventory is not reachable yet (start inventory, or point purchase's --inventory at it)")

// Backoff between attempts to find inventory and to watch its health.
const (
	invRetryMin = 50 * time.Millisecond
	invRetryMax = 2 * time.Second
)

// inventoryConn is a grpc.ClientConnInterface that purchase's server uses
// from the start: calls fail Unavailable until the first transport.Dial of
// inventory succeeds, then go to that connection, which follows inventory
// as it comes and goes. Safe for concurrent use.
type inventoryConn struct {
	target string
	opts   []transport.DialOption
	log    *slog.Logger
	cc     atomic.Pointer[grpc.ClientConn] // nil until dialled

	mu    sync.Mutex // guards state
	state string     // last logged state, so each change logs one line
}

// newInventoryConn tries once to dial target. A target that can never work
// (malformed, or remote without certificates) is an error; an inventory that
// is merely absent is not: watch keeps looking for it.
func newInventoryConn(ctx context.Context, target string, opts []transport.DialOption, log *slog.Logger) (*inventoryConn, error) {
	c := &inventoryConn{target: target, opts: opts, log: log}
	if err := c.tryDial(ctx); err != nil && permanent(err) {
		return nil, err
	}
	return c, nil
}

// permanent reports whether a Dial error will not go away by waiting.
func permanent(err error) bool {
	var te *transport.TargetError
	var ce *transport.TLSConfigError
	return errors.As(err, &te) || errors.As(err, &ce)
}

func (c *inventoryConn) tryDial(ctx context.Context) error {
	if c.cc.Load() != nil {
		return nil
	}
	cc, err := transport.Dial(ctx, c.target, c.opts...)
	if err != nil {
		return err
	}
	c.cc.Store(cc)
	return nil
}

// Invoke implements grpc.ClientConnInterface.
func (c *inventoryConn) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	cc := c.cc.Load()
	if cc == nil {
		return errInventoryNotDialed
	}
	return cc.Invoke(ctx, method, args, reply, opts...)
}

// NewStream implements grpc.ClientConnInterface.
func (c *inventoryConn) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	cc := c.cc.Load()
	if cc == nil {
		return nil, errInventoryNotDialed
	}
	return cc.NewStream(ctx, desc, method, opts...)
}

// Close closes the connection, if one was made.
func (c *inventoryConn) Close() error {
	if cc := c.cc.Load(); cc != nil {
		return cc.Close()
	}
	return nil
}

// watch keeps set in step with inventory's health until ctx ends: set(true)
// while inventory's health says SERVING, set(false) otherwise. It dials
// until inventory is found, then follows its grpc.health.v1 Watch stream,
// re-opening it (with backoff) when it breaks. onReady runs at each change
// to ready. Each change of state is logged once.
func (c *inventoryConn) watch(ctx context.Context, set func(bool), onReady func()) {
	wait := invRetryMin
	for ctx.Err() == nil {
		if err := c.tryDial(ctx); err != nil {
			set(false)
			c.changed(slog.LevelWarn, "inventory not found; purchase reports not ready until it is", err)
		} else if c.follow(ctx, set, onReady) {
			wait = invRetryMin // it was serving: start over quickly
		}
		if sleep(ctx, wait) != nil {
			return
		}
		wait = min(2*wait, invRetryMax)
	}
}

// follow watches inventory's health until the stream breaks or ctx ends
// and reports whether inventory was SERVING at some point.
func (c *inventoryConn) follow(ctx context.Context, set func(bool), onReady func()) bool {
	req := &healthpb.HealthCheckRequest{Service: inventoryv1.InventoryService_ServiceDesc.ServiceName}
	// WaitForReady: while inventory is down the stream waits for it to come
	// back instead of failing (and logging) every backoff period.
	stream, err := healthpb.NewHealthClient(c.cc.Load()).Watch(ctx, req, grpc.WaitForReady(true))
	served := false
	for err == nil {
		var resp *healthpb.HealthCheckResponse
		if resp, err = stream.Recv(); err != nil {
			break
		}
		ok := resp.GetStatus() == healthpb.HealthCheckResponse_SERVING
		set(ok)
		if ok {
			served = true
			if c.changed(slog.LevelInfo, "inventory reachable; purchase is ready", nil) {
				onReady()
			}
		} else {
			c.changed(slog.LevelWarn, "inventory reports "+resp.GetStatus().String()+"; purchase reports not ready", nil)
		}
	}
	set(false)
	if ctx.Err() == nil {
		c.changed(slog.LevelWarn, "inventory not reachable; purchase reports not ready until it is", err)
	}
	return served
}

// changed logs msg if it differs from the last state logged, and reports
// whether it did.
func (c *inventoryConn) changed(level slog.Level, msg string, err error) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == msg {
		return false
	}
	c.state = msg
	attrs := []any{"target", c.target}
	if err != nil {
		attrs = append(attrs, "err", err)
	}
	c.log.Log(context.Background(), level, "purchase: "+msg, attrs...)
	return true
}
