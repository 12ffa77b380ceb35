package sidecar_test

import (
	"fmt"
	"os"
	"strings"

	"github.com/podwire/podwire/sidecar"
)

func ExampleParseConfig() {
	cfg, err := sidecar.ParseConfig(strings.NewReader(`
socket_dir: /run/podwire
tls: {cert: /etc/podwire/tls/tls.crt, key: /etc/podwire/tls/tls.key, ca: /etc/podwire/tls/ca.crt}
upstreams:
  - name: inventory
    address: inventory.shop.svc.cluster.local:15443
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cfg.Validate(), cfg.Upstreams[0].Name, cfg.Listen, cfg.DrainTimeout)

	_, err = sidecar.ParseConfig(strings.NewReader("drain_timout: 5s\n"))
	fmt.Println(err)
	// Output:
	// <nil> inventory :15443 20s
	// podwire/sidecar: invalid config: (yaml): yaml: unmarshal errors:
	//   line 1: field drain_timout not found in type sidecar.Config; keys are documented in deploy/k8s/sidecar.yaml
}

func ExampleRenderStatus() {
	sidecar.RenderStatus(os.Stdout, "127.0.0.1:15000", sidecar.Snapshot{
		Ready: true, UptimeSecs: 90,
		Listeners: []sidecar.ListenerInfo{
			{Role: "upstream", Name: "inventory", Network: "unix", Address: "/run/podwire/inventory.sock", Mode: "srw-rw----", Owner: "65532:65532", Target: "inventory:15443"},
		},
		Sessions: []sidecar.SessionInfo{
			{Direction: "outbound", Transport: "mux+tls", Local: "10.0.0.5:40112", Remote: "10.0.0.7:15443", Peer: "spiffe://cluster.local/ns/shop/sa/inventory", Streams: 3, BytesTx: 2048, BytesRx: 1 << 20, RTTMillis: 0.25, AgeSecs: 60},
		},
	})
	// Output:
	// SIDECAR  admin 127.0.0.1:15000  ready: yes  uptime: 1m30s
	//
	// LISTENER  NAME       NET   ADDRESS                      MODE        OWNER        PEER ADDRESS
	// upstream  inventory  unix  /run/podwire/inventory.sock  srw-rw----  65532:65532  inventory:15443
	//
	// SESSION   TRANSPORT  LOCAL           REMOTE          PEER                                         STREAMS  TX      RX      RTT    AGE
	// outbound  mux+tls    10.0.0.5:40112  10.0.0.7:15443  spiffe://cluster.local/ns/shop/sa/inventory  3        2.0KiB  1.0MiB  250µs  1m0s
}
