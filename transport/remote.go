package transport

import (
	"context"
	"net"
)

// remoteKind is the transport bare names use for a peer address.
const remoteKind = KindTLS

// dialRemote dials a service at a peer address over TCP+TLS; the client
// credentials verify the server certificate against the service name.
func (c *dialConfig) dialRemote(ctx context.Context, service, hostport string) (net.Conn, error) {
	conn, err := c.tuning.dialTCP(ctx, hostport)
	if err != nil {
		return nil, err
	}
	return &clientConn{Conn: conn, kind: KindTLS, serverName: service}, nil
}
