package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/podwire/podwire/internal/inject"
)

// runInject is `podwire inject [-f FILE]`: YAML in, YAML with the sidecar out.
func runInject(_ context.Context, args []string, stdout, stderr io.Writer) error {
	return runInjectFrom(os.Stdin, args, stdout, stderr)
}

// runInjectFrom is runInject reading stdin from in.
func runInjectFrom(in io.Reader, args []string, stdout, stderr io.Writer) error {
	f := newFlags("inject", "podwire inject [-f FILE] [--image IMAGE] > injected.yaml", `
Reads Kubernetes YAML (one or more documents; stdin, or -f FILE) and adds the
podwire sidecar to every Deployment, StatefulSet, DaemonSet, Job and Pod: a
native sidecar (init container with restartPolicy: Always; Kubernetes 1.29+)
running `+"`podwire sidecar`"+`, the shared in-memory emptyDir at /run/podwire
mounted in every app container with PODWIRE_SOCKET_DIR set, the sidecar
config from ConfigMap <name>-sidecar (key sidecar.yaml), the certificates
from Secret <name>-tls (tls.crt, tls.key, ca.crt), a restricted security
context and fsGroup when the pod sets none. Other documents pass through
unchanged. Injecting twice changes nothing. Writes to stdout.`, stdout, stderr)
	file := f.String("f", "", "read this file instead of stdin (- for stdin)")
	image := f.String("image", "podwire:dev", "podwire image of the sidecar")
	cm := f.String("config-map", "", "ConfigMap with sidecar.yaml (default <workload>-sidecar)")
	secret := f.String("tls-secret", "", "Secret with tls.crt, tls.key, ca.crt (default <workload>-tls)")
	uid := f.Int64("uid", 65532, "user and group the sidecar runs as; the pod's fsGroup when it sets none")
	if _, err := f.parse(args); err != nil {
		return err
	}
	if strings.TrimSpace(*image) == "" {
		return usagef("--image is empty; name the podwire image, e.g. ghcr.io/you/podwire:v1")
	}
	if *uid <= 0 {
		return usagef("--uid %d: use a non-root uid such as 65532", *uid)
	}
	if *file != "" && *file != "-" {
		fh, err := os.Open(*file)
		if err != nil {
			return err
		}
		defer fh.Close()
		in = fh
	}
	res, err := inject.Inject(in, stdout, inject.Options{Image: *image, ConfigMap: *cm, TLSSecret: *secret, UID: *uid})
	if err != nil {
		return err
	}
	if len(res.Injected) == 0 {
		fmt.Fprintf(stderr, "podwire inject: no Deployment, StatefulSet, DaemonSet, Job or Pod in %d document(s); output unchanged\n", res.Documents)
	}
	return nil
}
