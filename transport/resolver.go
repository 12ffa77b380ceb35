package transport

import (
	"context"
	"sync"
	"time"

	"github.com/podwire/podwire/mux"
	"google.golang.org/grpc/resolver"
)

// Scheme is the grpc resolver scheme podwire registers:
// grpc.NewClient("podwire:///inventory", transport.DialOptions()...) resolves
// a bare name the way Dial does.
const Scheme = "podwire"

// settleDelay re-checks the socket shortly after a file event, because a
// socket file appears at bind time, a moment before the server listens.
const settleDelay = 50 * time.Millisecond

// pollInterval re-checks a socket dir that cannot be watched (yet).
const pollInterval = time.Second

func init() {
	// The accepted grpc idiom for a resolver scheme; the only init in podwire.
	resolver.Register(&resolverBuilder{})
}

// route is one transport selection for a bare name.
type route struct {
	kind   Kind
	addr   string // dialer address (unix:/path or mux:service@host:port)
	reason string // low-cardinality: socket_live, peer_option, peer_env, peer_template
	detail string // for the log: the path or host:port
}

// selectRoute picks the transport for service: a live socket, else the peer
// address, else an *UnknownServiceError naming what was tried.
func (c *dialConfig) selectRoute(ctx context.Context, service string) (route, error) {
	path := socketPath(c.socketDir, service)
	sockErr := checkSocketPath(path)
	if sockErr == nil {
		if sockErr = probeUnix(ctx, path, c.tuning.ProbeTimeout); sockErr == nil {
			return route{kind: KindUnix, addr: addrNamed + path, reason: "socket_live", detail: path}, nil
		}
	}
	hp, source := c.peerAddr(service)
	if hp == "" {
		return route{}, &UnknownServiceError{Service: service, SocketPath: path, SocketErr: sockErr, EnvVar: envName(service)}
	}
	if !c.hasTLS() {
		return route{}, &TLSConfigError{What: "client certificate for " + service + " at peer address " + hp +
			" (no live socket at " + path + ")"}
	}
	return route{kind: remoteKind, addr: addrMux + service + "@" + hp, reason: "peer_" + source, detail: hp}, nil
}

// resolverBuilder builds resolvers for the podwire scheme with cfg, a
// configuration of client; cfg nil means DefaultClient with its defaults
// (the globally registered builder).
type resolverBuilder struct {
	client *Client
	cfg    *dialConfig
}

// Scheme returns "podwire".
func (*resolverBuilder) Scheme() string { return Scheme }

// Build starts a resolver that selects a transport for the target's service
// name and re-selects when its socket appears or goes away.
func (b *resolverBuilder) Build(t resolver.Target, cc resolver.ClientConn, _ resolver.BuildOptions) (resolver.Resolver, error) {
	cfg := b.cfg
	if cfg == nil {
		var err error
		if cfg, err = DefaultClient.config(nil); err != nil {
			return nil, err
		}
	}
	service := t.Endpoint()
	if err := mux.ValidateServiceName(service); err != nil {
		return nil, &TargetError{Target: t.String(), Reason: err.Error()}
	}
	// The resolver's selections end when it closes or its Client does.
	ctx, cancel := context.WithCancel(cfg.client.ctx)
	r := &nameResolver{
		service: service,
		cfg:     cfg,
		ctx:     ctx,
		cancel:  cancel,
		cc:      cc,
		kick:    make(chan struct{}, 1),
		fsKick:  make(chan struct{}, 1),
	}
	r.watch()
	r.wg.Add(1)
	go r.run()
	return r, nil
}

// nameResolver follows one bare name.
type nameResolver struct {
	service string
	cfg     *dialConfig
	cc      resolver.ClientConn
	unwatch func() // stops the socket dir subscription; nil if not watching
	// watchFailed is set after the first failed watch is logged; only
	// Build and then run touch it.
	watchFailed bool
	fsKick      chan struct{}      // socket file events, capacity 1
	kick        chan struct{}      // ResolveNow requests, capacity 1
	ctx         context.Context    // ends at Close or Client.Close; bounds selections
	cancel      context.CancelFunc // ends ctx
	wg          sync.WaitGroup     // the run goroutine
	once        sync.Once
	// pool keeps the shared mux pool alive between connections once a
	// remote route was selected; only run touches it, Close releases it.
	pool *poolEntry
}

// watch subscribes to the socket dir and reports success; until it
// succeeds, run polls.
func (r *nameResolver) watch() bool {
	unwatch, err := r.cfg.client.dirs.subscribe(r.cfg.socketDir, r.service+".sock", r.fsKick)
	if err != nil {
		if !r.watchFailed {
			r.cfg.log.Info("podwire: socket dir not watchable yet; polling it", "dir", r.cfg.socketDir,
				"every", pollInterval, "err", err)
			r.watchFailed = true
		}
		return false
	}
	r.unwatch = unwatch
	return true
}

// run selects at start, then on file events (after settleDelay) and
// ResolveNow, until Close.
func (r *nameResolver) run() {
	defer r.wg.Done()
	settle := time.NewTimer(time.Hour)
	settle.Stop()
	defer settle.Stop()
	// Without a watch (the socket dir does not exist yet), poll: retry the
	// watch and re-select every pollInterval.
	var poll <-chan time.Time
	if r.unwatch == nil {
		t := time.NewTicker(pollInterval)
		defer t.Stop()
		poll = t.C
	}
	last := r.update(route{})
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-r.fsKick:
			settle.Reset(settleDelay)
			continue
		case <-r.kick:
		case <-settle.C:
		case <-poll:
			if r.watch() {
				poll = nil
			}
		}
		last = r.update(last)
	}
}

// update selects again and pushes a new state when the route changed.
func (r *nameResolver) update(last route) route {
	rt, err := r.cfg.selectRoute(r.ctx, r.service)
	if err != nil {
		r.cfg.log.Warn("podwire: no transport for service", "service", r.service, "err", err)
		r.cc.ReportError(err)
		return route{}
	}
	if rt == last {
		return last
	}
	if rt.kind == remoteKind && r.pool == nil {
		if r.pool, err = r.cfg.client.acquirePool(r.cfg); err != nil {
			r.cc.ReportError(err)
			return route{}
		}
	}
	r.cfg.log.Info("podwire: transport selected", "service", r.service, "transport", rt.kind.String(),
		"reason", rt.reason, "addr", rt.detail)
	r.cfg.client.m.selections.WithLabelValues(r.service, rt.kind.String(), rt.reason).Inc()
	if err := r.cc.UpdateState(resolver.State{Addresses: []resolver.Address{{Addr: rt.addr}}}); err != nil {
		r.cfg.log.Debug("podwire: resolver state not accepted", "service", r.service, "err", err)
	}
	return rt
}

// ResolveNow asks for a new selection.
func (r *nameResolver) ResolveNow(resolver.ResolveNowOptions) {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// Close stops watching and waits for the resolver goroutine.
func (r *nameResolver) Close() {
	r.once.Do(func() {
		r.cancel()
		r.wg.Wait()
		if r.unwatch != nil {
			r.unwatch()
		}
		if r.pool != nil {
			r.cfg.client.releasePool(r.pool)
		}
	})
}
