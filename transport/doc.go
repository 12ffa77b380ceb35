// Package transport is the podwire SDK: it turns a service name into a gRPC
// connection over a Unix domain socket when the peer is co-located, and over
// TCP with mutual TLS (multiplexed with yamux) when it is not, and gives
// servers one net.Listener for both.
//
// # Clients
//
// Dial takes a target:
//
//	unix:///run/podwire/inventory.sock   a Unix socket
//	unix-abstract:name                   a Linux abstract socket
//	tls://host:port                      gRPC over TLS (ALPN h2); needs WithTLSFiles or WithTLSConfig
//	tcp://127.0.0.1:port                 plaintext, loopback only, needs WithInsecureLoopback
//	inventory                            a bare service name
//
// A bare name resolves to the live socket <socket dir>/inventory.sock
// (WithSocketDir, PODWIRE_SOCKET_DIR, default /run/podwire), else to the peer
// address (WithPeerAddr, else PODWIRE_PEER_INVENTORY=host:port, else the DNS
// name from WithPeerTemplate or PODWIRE_PEER_TEMPLATE such as
// "{service}.shop.svc.cluster.local:15443") reached as a stream of a shared
// podwire-mux/1 session over TCP+TLS, else Dial fails with an
// *UnknownServiceError naming the socket path and the variables it tried.
// The resolver watches the socket dir: when the socket appears or goes away,
// new RPCs switch transport while RPCs in flight finish on the old one. Each
// selection is logged once with its reason and counted in
// podwire_transport_selections_total (see WithRegisterer). The same resolution
// is registered as the grpc scheme "podwire", so
// grpc.NewClient("podwire:///inventory", transport.DialOptions()...) works.
//
// Dial and DialOptions use DefaultClient. A Client, like http.Client, owns
// what its channels share: the mux pools that carry bare names to remote
// peers, the certificates loaded from WithTLSFiles, the socket-dir watches
// of its resolvers, client mux tuning (WithMuxPool) and its metrics
// (WithRegisterer). Nothing else in the package holds state: two Clients
// never share a session, and Client.Close releases everything:
//
//	client, err := transport.NewClient(transport.WithTLSFiles(cert, key, ca), transport.WithRegisterer(reg))
//	defer client.Close()
//	cc, err := client.Dial(ctx, "inventory")
//
// # Servers
//
// Listen opens <socket dir>/<service>.sock (dir 0750, socket 0660, a live
// socket is never stolen and a stale one is removed) and, with TLSAddr, one
// TLS port where ALPN h2 is plain gRPC and podwire-mux/1 is a mux session
// whose streams name this service. ServerOptions gives the grpc.Server
// credentials that record each caller's identity and the allow-list
// interceptors:
//
//	ln, err := transport.Listen(ctx, transport.ListenConfig{Service: "inventory"})
//	opts, err := transport.ServerOptions(transport.WithAllow("uid:1000", "spiffe://podwire.local/purchase"))
//	srv := grpc.NewServer(opts...)
//	srv.Serve(ln)
//
// The TLS port runs at most Config.MaxPendingHandshakes (default 256)
// handshakes at once, so a flood of silent clients cannot grow goroutines
// without bound, and shares them fairly between source addresses: at most
// Config.MaxPendingHandshakesPerSource (default 16) each, and when all are
// taken a newcomer evicts the oldest silent connection of the biggest
// source. A connection silent for Config.FirstByteTimeout is closed; each
// handshake is bounded by Config.HandshakeTimeout. On the h2 ALPN, a client
// that resets streams faster than a budget (HTTP/2 rapid reset) is
// disconnected; servers advertise 1000 concurrent streams
// (WithMaxConcurrentStreams).
//
// # Building blocks
//
// The pieces Listen and Dial are made of are exported for servers that do
// not speak gRPC, such as the podwire sidecar:
//
//	ListenUnix       the Unix socket lifecycle (0750 dir; a dir other users
//	                 can write refused; path locked; 0660 socket set without
//	                 following links; live socket refused, stale one
//	                 removed, file removed on Close)
//	ProbeUnix        tells a live socket from a stale one
//	ParseAllowList   the allow-list; (*AllowList).Allows checks a Peer
//	PeerOfTLS        a Peer from a completed TLS handshake
//	NewCertSource    certificate, key and CA from PEM files, reloaded on change
//	NewTLSListener   concurrent, capped, deadline-bound server handshakes
//	DialMuxTLS       TCP+TLS dial that insists on ALPN podwire-mux/1
//	NewAuthConn      a handshaken TLS conn as an AuthConn (its identity attached)
//	MuxServer        the one server of mux streams: header under a deadline,
//	                 version, service, payload, allow-list, draining, then a
//	                 handler that accepts or refuses with google.rpc codes;
//	                 the Listener's handler hands streams to gRPC, the
//	                 sidecar's proxies bytes. Refusals name only the
//	                 requested service.
//
// Config tunes sockets and timeouts; a zero field means its documented
// default, so Config{HandshakeTimeout: 5 * time.Second} changes only that.
//
// # Cost of a channel
//
// Over Unix sockets and plaintext TCP the credentials hand grpc the socket
// itself, and over mux a stream that implements grpc's ReadOnReady, so
// grpc takes its 32 KiB read buffer from a pool only while bytes wait
// instead of keeping one per channel end. An idle channel that answered
// once holds, both ends in one process, about 25 KB of heap over Unix
// sockets or TCP (as bare grpc-go) and about 29 KB as a mux stream
// (BenchmarkIdleHeap, 2-core VM; grpc-go over TLS holds ~108 KB, tls.Conn
// cannot be read underneath). Dials of one Client with the same
// WithTLSFiles share one loaded certificate, so a new channel reads no files.
//
// # Identity
//
// PeerFrom (in handlers) and PeerOf (on clients, with the grpc.Peer call
// option) report the transport kind and, over Unix sockets, the peer's uid,
// gid and pid (SO_PEERCRED, Linux), over TLS its verified chain, SPIFFE ID
// and DNS names. The identity is produced by the handshake that
// authenticated the peer — SO_PEERCRED when a Unix socket is accepted or
// dialed, the verified TLS state of a connection or of its mux session —
// and travels with the connection as an AuthConn; every stream of a mux
// session shares the session's *AuthInfo. AuthInfoOf reads it, also
// through wrappers that embed the AuthConn or expose NetConn (as
// *tls.Conn does), so a metrics or tracing wrapper keeps the identity.
package transport
