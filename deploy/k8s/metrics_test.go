package k8s

import (
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/podwire/podwire/sidecar"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// serviceMonitor is the subset of monitoring.coreos.com/v1 ServiceMonitor
// the monitoring overlay uses (k8s.io/api has no Prometheus Operator
// types), decoded strictly: a key outside it fails the test.
type serviceMonitor struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string            `json:"name"`
		Namespace string            `json:"namespace"`
		Labels    map[string]string `json:"labels"`
	} `json:"metadata"`
	Spec struct {
		Selector struct {
			MatchLabels map[string]string `json:"matchLabels"`
		} `json:"selector"`
		Endpoints []struct {
			Port     string `json:"port"`
			Path     string `json:"path"`
			Interval string `json:"interval"`
		} `json:"endpoints"`
	} `json:"spec"`
}

// metricsPort is the sidecar's metrics-only port in the manifests.
const metricsPort = 15090

// flagValue returns the value of --name=VALUE in args, or "".
func flagValue(args []string, name string) string {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v
		}
	}
	return ""
}

// checkMetrics: the sidecar's metrics_listen is the container port named
// metrics that the pod's scrape annotations name; its app_admin is the
// app's --admin, a Unix socket in the shared dir; the sidecar admin stays
// a Unix socket.
func checkMetrics(t *testing.T, d *appsv1.Deployment, sc, app corev1.Container, cfg sidecar.Config) {
	_, portStr, err := net.SplitHostPort(cfg.MetricsListen)
	if err != nil {
		t.Fatalf("metrics_listen %q: %v (want e.g. \":%d\")", cfg.MetricsListen, err, metricsPort)
	}
	if port, _ := strconv.Atoi(portStr); port != metricsPort {
		t.Errorf("metrics_listen port = %s, want %d", portStr, metricsPort)
	}
	if !slices.ContainsFunc(sc.Ports, func(p corev1.ContainerPort) bool {
		return p.Name == "metrics" && p.ContainerPort == metricsPort && p.Protocol == corev1.ProtocolTCP
	}) {
		t.Errorf("sidecar ports %+v lack metrics TCP %d", sc.Ports, metricsPort)
	}
	ann := d.Spec.Template.Annotations
	for k, want := range map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": portStr, "prometheus.io/path": "/metrics"} {
		if ann[k] != want {
			t.Errorf("pod annotation %s = %q, want %q", k, ann[k], want)
		}
	}
	if !strings.HasPrefix(cfg.Admin, "unix:") {
		t.Errorf("sidecar admin = %q, want a Unix socket (the admin endpoint stays local)", cfg.Admin)
	}
	adm := flagValue(app.Args, "admin")
	if adm == "" || adm != cfg.AppAdmin {
		t.Errorf("app --admin = %q, sidecar app_admin = %q; want the same unix:PATH", adm, cfg.AppAdmin)
	}
	path, ok := strings.CutPrefix(adm, "unix:")
	if !ok || !strings.HasPrefix(path, strings.TrimSuffix(cfg.SocketDir, "/")+"/") {
		t.Errorf("app --admin = %q, want unix: and a path in the shared socket dir %s", adm, cfg.SocketDir)
	}
	checkAppProbes(t, app, adm)
}

// checkAppProbes: the app container has startup, liveness (healthz) and
// readiness (readyz) probes on its own admin socket.
func checkAppProbes(t *testing.T, app corev1.Container, admin string) {
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		check string
	}{
		{"startupProbe", app.StartupProbe, "healthz"},
		{"livenessProbe", app.LivenessProbe, "healthz"},
		{"readinessProbe", app.ReadinessProbe, "readyz"},
	} {
		if p.probe == nil || p.probe.Exec == nil {
			t.Errorf("app %s: %s missing or not an exec probe", app.Name, p.name)
			continue
		}
		want := []string{"/podwire", "status", "--check=" + p.check, "--admin=" + admin}
		if !slices.Equal(p.probe.Exec.Command, want) {
			t.Errorf("app %s: %s command = %q, want %q", app.Name, p.name, p.probe.Exec.Command, want)
		}
	}
}

// checkLabels: the Deployment and its pods carry the recommended
// app.kubernetes.io/* labels, name matching the Deployment.
func checkLabels(t *testing.T, d *appsv1.Deployment) {
	keys := []string{"name", "instance", "component", "version", "part-of", "managed-by"}
	for what, l := range map[string]map[string]string{"deployment": d.Labels, "pod template": d.Spec.Template.Labels} {
		for _, k := range keys {
			if l["app.kubernetes.io/"+k] == "" {
				t.Errorf("%s labels %v lack app.kubernetes.io/%s", what, l, k)
			}
		}
		if l["app.kubernetes.io/name"] != d.Name {
			t.Errorf("%s app.kubernetes.io/name = %q, want %q", what, l["app.kubernetes.io/name"], d.Name)
		}
	}
}

// checkPDBs: each Deployment has exactly one PodDisruptionBudget selecting
// its pods, which lets a drain evict a pod even with one replica.
func checkPDBs(t *testing.T, r *rendered) {
	for name, d := range r.deployments {
		var found int
		for _, p := range r.pdbs {
			sel, err := metav1LabelSelector(p)
			if err != nil {
				t.Fatalf("PDB %s selector: %v", p.Name, err)
			}
			if !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
				continue
			}
			found++
			switch {
			case p.Spec.MaxUnavailable != nil:
				if p.Spec.MaxUnavailable.String() == "0" || p.Spec.MaxUnavailable.String() == "0%" {
					t.Errorf("PDB %s maxUnavailable 0 blocks every drain", p.Name)
				}
			case p.Spec.MinAvailable != nil:
				if d.Spec.Replicas != nil && p.Spec.MinAvailable.IntValue() >= int(*d.Spec.Replicas) {
					t.Errorf("PDB %s minAvailable %s >= replicas %d blocks every drain", p.Name, p.Spec.MinAvailable, *d.Spec.Replicas)
				}
			default:
				t.Errorf("PDB %s sets neither maxUnavailable nor minAvailable", p.Name)
			}
		}
		if found != 1 {
			t.Errorf("deployment %s: %d PodDisruptionBudgets select its pods, want 1", name, found)
		}
	}
}

// checkMetricsRule: the second ingress rule admits only the metrics port,
// from a namespace selector (where Prometheus runs), not from everywhere.
func checkMetricsRule(t *testing.T, rule networkingv1.NetworkPolicyIngressRule) {
	if len(rule.Ports) != 1 || rule.Ports[0].Port == nil || rule.Ports[0].Port.IntValue() != metricsPort {
		t.Errorf("metrics ingress rule ports = %+v, want only TCP %d", rule.Ports, metricsPort)
	}
	if len(rule.From) != 1 || rule.From[0].NamespaceSelector == nil || len(rule.From[0].NamespaceSelector.MatchLabels) == 0 {
		t.Errorf("metrics ingress rule from = %+v, want one namespaceSelector with labels (Prometheus' namespace)", rule.From)
	}
}

// TestMonitoringOverlay: the ServiceMonitor scrapes /metrics and
// /metrics/app on a port named metrics of Services that select every
// Deployment's pods and target the sidecar's metrics port.
func TestMonitoringOverlay(t *testing.T) {
	r := decode(t, kustomize(t, "overlays/monitoring"))
	if len(r.monitors) != 1 {
		t.Fatalf("%d ServiceMonitors, want 1", len(r.monitors))
	}
	m := r.monitors[0]
	var paths []string
	for _, e := range m.Spec.Endpoints {
		if e.Port != "metrics" {
			t.Errorf("endpoint %+v: port %q, want metrics", e, e.Port)
		}
		paths = append(paths, e.Path)
	}
	if want := []string{"/metrics", "/metrics/app"}; !slices.Equal(paths, want) {
		t.Errorf("endpoint paths = %v, want %v", paths, want)
	}
	sel := labels.SelectorFromSet(m.Spec.Selector.MatchLabels)
	for name, d := range r.deployments {
		var ok bool
		for _, svc := range r.services {
			if !sel.Matches(labels.Set(svc.Labels)) || !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) {
				continue
			}
			for _, p := range svc.Spec.Ports {
				if p.Name == "metrics" && p.TargetPort.String() == "metrics" && p.Port == metricsPort {
					ok = true
				}
			}
		}
		if !ok {
			t.Errorf("deployment %s: no Service the ServiceMonitor selects has port metrics → the sidecar's %d", name, metricsPort)
		}
	}
	if len(r.pdbs) != len(r.deployments) {
		t.Errorf("overlay has %d PDBs for %d deployments, want the base's", len(r.pdbs), len(r.deployments))
	}
}

// metav1LabelSelector converts a PDB's selector for matching.
func metav1LabelSelector(p *policyv1.PodDisruptionBudget) (labels.Selector, error) {
	return metav1.LabelSelectorAsSelector(p.Spec.Selector)
}
