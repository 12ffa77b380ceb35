package k8s

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/podwire/podwire/sidecar"
	"go.uber.org/goleak"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// drainMargin is the slack required between the sidecar's drain and the
// pod's grace period (the kubelet's SIGKILL).
const drainMargin = 5 * time.Second

// rendered is one kustomize output, decoded strictly.
type rendered struct {
	deployments  map[string]*appsv1.Deployment
	services     map[string]*corev1.Service
	configMaps   map[string]*corev1.ConfigMap
	policies     []*networkingv1.NetworkPolicy
	certificates []*certificate
	pdbs         []*policyv1.PodDisruptionBudget
	monitors     []*serviceMonitor
	other        []string // kinds decoded but not checked further
}

// kustomize renders dir with `kubectl kustomize`.
func kustomize(t testing.TB, dir string) []byte {
	t.Helper()
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Fatalf("kubectl not found in PATH (%v): install kubectl 1.27+ (it embeds kustomize) to run the manifest test", err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(kubectl, "kustomize", dir)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kubectl kustomize %s: %v\n%s", dir, err, stderr.String())
	}
	return stdout.Bytes()
}

// decode splits the multi-document YAML and decodes every object strictly
// (unknown or misspelt fields fail) into its k8s.io/api type.
func decode(t testing.TB, out []byte) *rendered {
	t.Helper()
	r := &rendered{
		deployments: map[string]*appsv1.Deployment{},
		services:    map[string]*corev1.Service{},
		configMaps:  map[string]*corev1.ConfigMap{},
	}
	for i, doc := range bytes.Split(out, []byte("\n---\n")) {
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		var tm struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			t.Fatalf("document %d: %v", i, err)
		}
		if err := r.add(tm.APIVersion, tm.Kind, doc); err != nil {
			t.Fatalf("document %d (%s %s): %v", i, tm.APIVersion, tm.Kind, err)
		}
	}
	return r
}

func (r *rendered) add(apiVersion, kind string, doc []byte) error {
	switch apiVersion + "/" + kind {
	case "apps/v1/Deployment":
		var d appsv1.Deployment
		if err := yaml.UnmarshalStrict(doc, &d); err != nil {
			return err
		}
		r.deployments[d.Name] = &d
	case "v1/Service":
		var s corev1.Service
		if err := yaml.UnmarshalStrict(doc, &s); err != nil {
			return err
		}
		r.services[s.Name] = &s
	case "v1/ConfigMap":
		var c corev1.ConfigMap
		if err := yaml.UnmarshalStrict(doc, &c); err != nil {
			return err
		}
		r.configMaps[c.Name] = &c
	case "networking.k8s.io/v1/NetworkPolicy":
		var p networkingv1.NetworkPolicy
		if err := yaml.UnmarshalStrict(doc, &p); err != nil {
			return err
		}
		r.policies = append(r.policies, &p)
	case "policy/v1/PodDisruptionBudget":
		var p policyv1.PodDisruptionBudget
		if err := yaml.UnmarshalStrict(doc, &p); err != nil {
			return err
		}
		r.pdbs = append(r.pdbs, &p)
	case "monitoring.coreos.com/v1/ServiceMonitor":
		var m serviceMonitor
		if err := yaml.UnmarshalStrict(doc, &m); err != nil {
			return err
		}
		r.monitors = append(r.monitors, &m)
	case "v1/Namespace":
		return yaml.UnmarshalStrict(doc, &corev1.Namespace{})
	case "v1/ServiceAccount":
		return yaml.UnmarshalStrict(doc, &corev1.ServiceAccount{})
	case "cert-manager.io/v1/Certificate":
		var c certificate
		if err := yaml.UnmarshalStrict(doc, &c); err != nil {
			return err
		}
		r.certificates = append(r.certificates, &c)
	case "cert-manager.io/v1/Issuer":
		if err := yaml.UnmarshalStrict(doc, &issuer{}); err != nil {
			return err
		}
		r.other = append(r.other, kind)
	default:
		return errors.New("unexpected kind: add it to the decoder in manifests_test.go")
	}
	return nil
}

func TestBase(t *testing.T) {
	r := decode(t, kustomize(t, "base"))
	if got, want := slices.Sorted(mapsKeys(r.deployments)), []string{"inventory", "purchase"}; !slices.Equal(got, want) {
		t.Fatalf("deployments = %v, want %v", got, want)
	}
	for name, d := range r.deployments {
		t.Run(name, func(t *testing.T) { checkDeployment(t, r, d) })
	}
	t.Run("networkpolicy", func(t *testing.T) { checkPolicy(t, r) })
	t.Run("poddisruptionbudgets", func(t *testing.T) { checkPDBs(t, r) })
	t.Run("upstreams", func(t *testing.T) { checkUpstreams(t, r) })
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// podParts finds the sidecar (the only init container) and the app.
func podParts(t testing.TB, d *appsv1.Deployment) (spec corev1.PodSpec, sc, app corev1.Container) {
	t.Helper()
	spec = d.Spec.Template.Spec
	if len(spec.InitContainers) != 1 || len(spec.Containers) != 1 {
		t.Fatalf("%d init containers and %d containers, want 1 and 1 (sidecar, app)", len(spec.InitContainers), len(spec.Containers))
	}
	return spec, spec.InitContainers[0], spec.Containers[0]
}

// sidecarConfig parses the sidecar.yaml of the ConfigMap the pod mounts.
func sidecarConfig(t testing.TB, r *rendered, spec corev1.PodSpec, sc corev1.Container) sidecar.Config {
	t.Helper()
	var path string
	for _, a := range sc.Args {
		if v, ok := strings.CutPrefix(a, "--config="); ok {
			path = v
		}
	}
	if path == "" {
		t.Fatalf("sidecar args %q have no --config=PATH", sc.Args)
	}
	vol := volumeAt(t, spec, sc, path)
	if vol.ConfigMap == nil {
		t.Fatalf("config %s is in volume %q, which is not a ConfigMap", path, vol.Name)
	}
	cm, ok := r.configMaps[vol.ConfigMap.Name]
	if !ok {
		t.Fatalf("ConfigMap %q (volume %q) is not in the output", vol.ConfigMap.Name, vol.Name)
	}
	key := path[strings.LastIndex(path, "/")+1:]
	cfg, err := sidecar.ParseConfig(strings.NewReader(cm.Data[key]))
	if err != nil {
		t.Fatalf("ConfigMap %s key %s: %v", cm.Name, key, err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("ConfigMap %s key %s: %v", cm.Name, key, err)
	}
	return cfg
}

// volumeAt returns the volume c mounts at the directory holding path (or
// at path itself).
func volumeAt(t testing.TB, spec corev1.PodSpec, c corev1.Container, path string) corev1.Volume {
	t.Helper()
	for _, m := range c.VolumeMounts {
		if path == m.MountPath || strings.HasPrefix(path, strings.TrimSuffix(m.MountPath, "/")+"/") {
			for _, v := range spec.Volumes {
				if v.Name == m.Name {
					return v
				}
			}
			t.Fatalf("container %s mounts unknown volume %q", c.Name, m.Name)
		}
	}
	t.Fatalf("container %s mounts nothing at %s", c.Name, path)
	return corev1.Volume{}
}

func checkDeployment(t *testing.T, r *rendered, d *appsv1.Deployment) {
	spec, sc, app := podParts(t, d)
	if sc.RestartPolicy == nil || *sc.RestartPolicy != corev1.ContainerRestartPolicyAlways {
		t.Errorf("sidecar %q restartPolicy = %v, want Always (a native sidecar starts before the app)", sc.Name, sc.RestartPolicy)
	}
	if got, want := sc.Args[0], "sidecar"; got != want {
		t.Errorf("sidecar command = %q, want %q", got, want)
	}
	cfg := sidecarConfig(t, r, spec, sc)

	// The shared socket volume: in-memory emptyDir at socket_dir in both.
	for _, c := range []corev1.Container{sc, app} {
		v := volumeAt(t, spec, c, cfg.SocketDir)
		if v.EmptyDir == nil || v.EmptyDir.Medium != corev1.StorageMediumMemory {
			t.Errorf("container %s: volume %q at %s is not an emptyDir with medium Memory", c.Name, v.Name, cfg.SocketDir)
		}
		if v.Name != volumeAt(t, spec, sc, cfg.SocketDir).Name {
			t.Errorf("container %s mounts %q at %s, the sidecar another volume", c.Name, v.Name, cfg.SocketDir)
		}
	}
	if !slices.Contains(app.Args, "--socket-dir="+cfg.SocketDir) {
		t.Errorf("app args %q lack --socket-dir=%s", app.Args, cfg.SocketDir)
	}
	if !slices.Contains(app.Args, d.Name) {
		t.Errorf("app args %q do not name the service %q", app.Args, d.Name)
	}
	if !slices.ContainsFunc(cfg.Services, func(s sidecar.Service) bool { return s.Name == d.Name }) {
		t.Errorf("sidecar config does not admit service %q inbound", d.Name)
	}

	checkData(t, spec, app, cfg)
	checkPorts(t, r, d, sc, cfg)
	checkProbes(t, sc, cfg)
	checkMetrics(t, d, sc, app, cfg)
	checkLabels(t, d)
	checkTLS(t, spec, sc, cfg)
	checkGrace(t, spec, app, cfg)
	checkSecurity(t, spec)
}

// checkData: the app's --data file is on a writable volume of its own
// (the root filesystem is read-only), not in the shared socket dir.
func checkData(t *testing.T, spec corev1.PodSpec, app corev1.Container, cfg sidecar.Config) {
	var data string
	for _, a := range app.Args {
		if v, ok := strings.CutPrefix(a, "--data="); ok {
			data = v
		}
	}
	if data == "" {
		t.Fatalf("app args %q have no --data=FILE", app.Args)
	}
	v := volumeAt(t, spec, app, data)
	if v.EmptyDir == nil && v.PersistentVolumeClaim == nil {
		t.Errorf("--data %s is on volume %q, neither an emptyDir nor a PVC", data, v.Name)
	}
	if v.Name == volumeAt(t, spec, app, cfg.SocketDir).Name {
		t.Errorf("--data %s shares the socket volume %q", data, v.Name)
	}
	for _, m := range app.VolumeMounts {
		if m.Name == v.Name && m.ReadOnly {
			t.Errorf("--data volume %q is mounted read-only", v.Name)
		}
	}
}

// checkPorts: the sidecar's container port is listen's port, and the
// Service for the deployment targets it.
func checkPorts(t *testing.T, r *rendered, d *appsv1.Deployment, sc corev1.Container, cfg sidecar.Config) {
	_, portStr, _ := net.SplitHostPort(cfg.Listen)
	port, _ := strconv.Atoi(portStr)
	var cp *corev1.ContainerPort
	for i := range sc.Ports {
		if int(sc.Ports[i].ContainerPort) == port {
			cp = &sc.Ports[i]
		}
	}
	if cp == nil {
		t.Fatalf("sidecar ports %+v lack listen port %d", sc.Ports, port)
	}
	svc, ok := r.services[d.Name]
	if !ok {
		t.Fatalf("no Service %q", d.Name)
	}
	for k, v := range svc.Spec.Selector {
		if d.Spec.Template.Labels[k] != v {
			t.Errorf("Service %s selector %s=%s does not match the pod labels %v", svc.Name, k, v, d.Spec.Template.Labels)
		}
	}
	if len(svc.Spec.Ports) != 1 {
		t.Fatalf("Service %s has %d ports, want only the mux port", svc.Name, len(svc.Spec.Ports))
	}
	sp := svc.Spec.Ports[0]
	if target := sp.TargetPort.String(); target != cp.Name && target != portStr {
		t.Errorf("Service %s targetPort = %s, want %s or %d", svc.Name, target, cp.Name, port)
	}
	if int(sp.Port) != port {
		t.Errorf("Service %s port = %d, want the listen port %d", svc.Name, sp.Port, port)
	}
}

// checkProbes: startup and liveness ask healthz, readiness readyz, all on
// the configured admin address.
func checkProbes(t *testing.T, sc corev1.Container, cfg sidecar.Config) {
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		check string
	}{
		{"startupProbe", sc.StartupProbe, "healthz"},
		{"livenessProbe", sc.LivenessProbe, "healthz"},
		{"readinessProbe", sc.ReadinessProbe, "readyz"},
	} {
		if p.probe == nil || p.probe.Exec == nil {
			t.Errorf("sidecar %s: missing or not an exec probe", p.name)
			continue
		}
		cmd := p.probe.Exec.Command
		want := []string{"/podwire", "status", "--check=" + p.check, "--admin=" + cfg.Admin}
		if !slices.Equal(cmd, want) {
			t.Errorf("sidecar %s command = %q, want %q (the admin address of the config)", p.name, cmd, want)
		}
	}
}

// checkTLS: the three PEM paths are in one Secret volume with those keys.
func checkTLS(t *testing.T, spec corev1.PodSpec, sc corev1.Container, cfg sidecar.Config) {
	for _, path := range []string{cfg.TLS.Cert, cfg.TLS.Key, cfg.TLS.CA} {
		v := volumeAt(t, spec, sc, path)
		if v.Secret == nil {
			t.Errorf("%s is in volume %q, which is not a Secret", path, v.Name)
			continue
		}
		base := path[strings.LastIndex(path, "/")+1:]
		if !slices.ContainsFunc(v.Secret.Items, func(k corev1.KeyToPath) bool { return k.Path == base }) {
			t.Errorf("Secret volume %q has no item with path %s", v.Name, base)
		}
	}
}

// checkGrace: the grace period covers the app's preStop sleep, the drain
// and a margin.
func checkGrace(t *testing.T, spec corev1.PodSpec, app corev1.Container, cfg sidecar.Config) {
	var preStop time.Duration
	if app.Lifecycle != nil && app.Lifecycle.PreStop != nil && app.Lifecycle.PreStop.Sleep != nil {
		preStop = time.Duration(app.Lifecycle.PreStop.Sleep.Seconds) * time.Second
	}
	if spec.TerminationGracePeriodSeconds == nil {
		t.Fatal("terminationGracePeriodSeconds not set; the default 30s must be checked against drain_timeout")
	}
	grace := time.Duration(*spec.TerminationGracePeriodSeconds) * time.Second
	if need := preStop + cfg.DrainTimeout + drainMargin; grace < need {
		t.Errorf("terminationGracePeriodSeconds = %v, want >= preStop %v + drain_timeout %v + margin %v = %v", grace, preStop, cfg.DrainTimeout, drainMargin, need)
	}
}

// checkSecurity: non-root, fsGroup for the shared socket, read-only root,
// no capabilities, no privilege escalation.
func checkSecurity(t *testing.T, spec corev1.PodSpec) {
	psc := spec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.FSGroup == nil {
		t.Fatalf("pod securityContext %+v lacks runAsNonRoot: true and fsGroup", psc)
	}
	for _, c := range append(slices.Clone(spec.InitContainers), spec.Containers...) {
		sc := c.SecurityContext
		switch {
		case sc == nil:
			t.Errorf("container %s has no securityContext", c.Name)
		case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
			t.Errorf("container %s: readOnlyRootFilesystem not true", c.Name)
		case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
			t.Errorf("container %s: allowPrivilegeEscalation not false", c.Name)
		case sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0:
			t.Errorf("container %s: capabilities %+v, want drop [ALL] and nothing added", c.Name, sc.Capabilities)
		}
	}
}

// checkPolicy: one ingress policy over both pods, admitting only the mux
// port from each other.
func checkPolicy(t *testing.T, r *rendered) {
	if len(r.policies) != 1 {
		t.Fatalf("%d NetworkPolicies, want 1", len(r.policies))
	}
	p := r.policies[0]
	if !slices.Equal(p.Spec.PolicyTypes, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}) {
		t.Errorf("policyTypes = %v, want [Ingress]", p.Spec.PolicyTypes)
	}
	for name, d := range r.deployments {
		if !selects(p.Spec.PodSelector.MatchExpressions, d.Spec.Template.Labels) {
			t.Errorf("policy does not select pod %s", name)
		}
	}
	if len(p.Spec.Ingress) != 2 {
		t.Fatalf("%d ingress rules, want 2 (mux port from the pods, metrics port from Prometheus)", len(p.Spec.Ingress))
	}
	rule := p.Spec.Ingress[0]
	if len(rule.Ports) != 1 || rule.Ports[0].Port == nil || rule.Ports[0].Port.IntValue() != 15443 {
		t.Errorf("first ingress rule ports = %+v, want only TCP 15443", rule.Ports)
	}
	if len(rule.From) != 1 || rule.From[0].PodSelector == nil {
		t.Fatalf("ingress from = %+v, want the two pods", rule.From)
	}
	for name, d := range r.deployments {
		if !selects(rule.From[0].PodSelector.MatchExpressions, d.Spec.Template.Labels) {
			t.Errorf("ingress does not admit pod %s", name)
		}
	}
	checkMetricsRule(t, p.Spec.Ingress[1])
}

// selects evaluates In expressions (the only operator the policy uses).
func selects(exprs []metav1.LabelSelectorRequirement, labels map[string]string) bool {
	for _, e := range exprs {
		if e.Operator != "In" || !slices.Contains(e.Values, labels[e.Key]) {
			return false
		}
	}
	return len(exprs) > 0
}

// checkUpstreams: every upstream address points at a Service of the output
// on its port, in the namespace of the output.
func checkUpstreams(t *testing.T, r *rendered) {
	for name, d := range r.deployments {
		spec, sc, _ := podParts(t, d)
		cfg := sidecarConfig(t, r, spec, sc)
		for _, u := range cfg.Upstreams {
			host, port, _ := net.SplitHostPort(u.Address)
			svc, ok := r.services[u.Name]
			if !ok {
				t.Errorf("%s: upstream %q has no Service", name, u.Name)
				continue
			}
			if want := fmt.Sprintf("%s.%s.svc.cluster.local", svc.Name, svc.Namespace); host != want {
				t.Errorf("%s: upstream %q host = %s, want %s", name, u.Name, host, want)
			}
			if want := strconv.Itoa(int(svc.Spec.Ports[0].Port)); port != want {
				t.Errorf("%s: upstream %q port = %s, want the Service port %s", name, u.Name, port, want)
			}
		}
	}
}
