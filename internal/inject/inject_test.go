package inject

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const podTemplate = `
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: web:1
          env:
            - {name: PODWIRE_SOCKET_DIR, value: /custom}
          volumeMounts:
            - {name: data, mountPath: /data}
      volumes:
        - name: data
          emptyDir: {}`

var inputs = map[string]string{
	"Deployment":  "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:" + podTemplate + "\n",
	"StatefulSet": "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: web}\nspec:\n  serviceName: web\n  selector: {matchLabels: {app: web}}\n  template:" + podTemplate + "\n",
	"DaemonSet":   "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:" + podTemplate + "\n",
	"Job":         "apiVersion: batch/v1\nkind: Job\nmetadata: {name: web}\nspec:\n  template:" + strings.Replace(podTemplate, "    spec:\n", "    spec:\n      restartPolicy: Never\n", 1) + "\n",
	"Pod":         "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:" + strings.ReplaceAll(strings.SplitN(podTemplate, "spec:", 2)[1], "\n  ", "\n") + "\n",
}

const service = `# a Service passes through as it is
apiVersion: v1
kind: Service
metadata:
  name: web   # keep this comment
spec:
  ports: [{port: 80}]
`

// decodePodSpec strictly decodes one injected document into its k8s type
// and returns its pod spec.
func decodePodSpec(t *testing.T, kind string, doc []byte) corev1.PodSpec {
	t.Helper()
	var err error
	var ps corev1.PodSpec
	switch kind {
	case "Deployment":
		var o appsv1.Deployment
		err = yaml.UnmarshalStrict(doc, &o)
		ps = o.Spec.Template.Spec
	case "StatefulSet":
		var o appsv1.StatefulSet
		err = yaml.UnmarshalStrict(doc, &o)
		ps = o.Spec.Template.Spec
	case "DaemonSet":
		var o appsv1.DaemonSet
		err = yaml.UnmarshalStrict(doc, &o)
		ps = o.Spec.Template.Spec
	case "Job":
		var o batchv1.Job
		err = yaml.UnmarshalStrict(doc, &o)
		ps = o.Spec.Template.Spec
	case "Pod":
		var o corev1.Pod
		err = yaml.UnmarshalStrict(doc, &o)
		ps = o.Spec
	}
	if err != nil {
		t.Fatalf("strict decode of the injected %s: %v\n%s", kind, err, doc)
	}
	return ps
}

// checkInjected asserts the native sidecar, volumes, mounts and env.
func checkInjected(t *testing.T, ps corev1.PodSpec) {
	t.Helper()
	if len(ps.InitContainers) != 1 {
		t.Fatalf("initContainers = %d, want the one sidecar", len(ps.InitContainers))
	}
	sc := ps.InitContainers[0]
	if sc.Name != SidecarName || sc.RestartPolicy == nil || *sc.RestartPolicy != corev1.ContainerRestartPolicyAlways {
		t.Errorf("sidecar %q restartPolicy %v, want podwire with Always (native sidecar)", sc.Name, sc.RestartPolicy)
	}
	if sc.SecurityContext == nil || sc.SecurityContext.RunAsNonRoot == nil || !*sc.SecurityContext.RunAsNonRoot ||
		!*sc.SecurityContext.ReadOnlyRootFilesystem || *sc.SecurityContext.AllowPrivilegeEscalation || len(sc.SecurityContext.Capabilities.Drop) != 1 {
		t.Errorf("sidecar securityContext = %+v, want non-root, read-only root, no escalation, drop ALL", sc.SecurityContext)
	}
	if sc.ReadinessProbe == nil || sc.LivenessProbe == nil || sc.StartupProbe == nil {
		t.Error("sidecar lacks a startup, liveness or readiness probe")
	}
	vols := map[string]corev1.Volume{}
	for _, v := range ps.Volumes {
		vols[v.Name] = v
	}
	if v := vols[SocketsVolume]; v.EmptyDir == nil || v.EmptyDir.Medium != corev1.StorageMediumMemory {
		t.Errorf("volume %s = %+v, want an in-memory emptyDir", SocketsVolume, v)
	}
	if v := vols[ConfigVolume]; v.ConfigMap == nil || v.ConfigMap.Name != "web-sidecar" {
		t.Errorf("volume %s = %+v, want ConfigMap web-sidecar", ConfigVolume, v)
	}
	if v := vols[TLSVolume]; v.Secret == nil || v.Secret.SecretName != "web-tls" || len(v.Secret.Items) != 3 {
		t.Errorf("volume %s = %+v, want Secret web-tls with 3 items", TLSVolume, v)
	}
	if _, ok := vols["data"]; !ok || len(ps.Volumes) != 4 {
		t.Errorf("volumes = %d (%v), want the app's data plus three", len(ps.Volumes), vols)
	}
	app := ps.Containers[0]
	mounts := map[string]string{}
	for _, m := range app.VolumeMounts {
		mounts[m.Name] = m.MountPath
	}
	if mounts[SocketsVolume] != SocketDir || mounts["data"] != "/data" {
		t.Errorf("app mounts = %v, want %s at %s and data kept", mounts, SocketsVolume, SocketDir)
	}
	env := map[string]string{}
	for _, e := range app.Env {
		env[e.Name] = e.Value
	}
	if env["PODWIRE_SOCKET_DIR"] != "/custom" || env["PODWIRE_ALLOW_SHARED_SOCKET_DIR"] != "true" {
		t.Errorf("app env = %v, want the app's own PODWIRE_SOCKET_DIR kept and PODWIRE_ALLOW_SHARED_SOCKET_DIR=true added", env)
	}
	if ps.SecurityContext == nil || ps.SecurityContext.FSGroup == nil || *ps.SecurityContext.FSGroup != 65532 {
		t.Errorf("pod securityContext = %+v, want fsGroup 65532", ps.SecurityContext)
	}
}

func TestInjectKinds(t *testing.T) {
	for kind, in := range inputs {
		t.Run(kind, func(t *testing.T) {
			var once bytes.Buffer
			res, err := Inject(strings.NewReader(in), &once, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Injected) != 1 || res.Injected[0] != kind+"/web" {
				t.Errorf("Injected = %v, want [%s/web]", res.Injected, kind)
			}
			checkInjected(t, decodePodSpec(t, kind, once.Bytes()))
			var twice bytes.Buffer
			if _, err := Inject(bytes.NewReader(once.Bytes()), &twice, Options{}); err != nil {
				t.Fatal(err)
			}
			if twice.String() != once.String() {
				t.Errorf("injecting twice changed the output:\nonce:\n%s\ntwice:\n%s", once.String(), twice.String())
			}
		})
	}
}

// TestInjectMultiDocument: workloads are injected, other documents pass
// through byte for byte, and kubectl kustomize renders the result.
func TestInjectMultiDocument(t *testing.T) {
	in := service + "---\n" + inputs["Deployment"] + "---\n# only a comment\n---\n" + inputs["Job"]
	var out bytes.Buffer
	res, err := Inject(strings.NewReader(in), &out, Options{Image: "registry.example/podwire:v1"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Documents != 3 || len(res.Injected) != 2 {
		t.Fatalf("Result = %+v, want 3 documents, 2 injected", res)
	}
	docs := strings.Split(out.String(), "---\n")
	if len(docs) != 3 || docs[0] != service {
		t.Fatalf("first document = %q, want the Service unchanged", docs[0])
	}
	ps := decodePodSpec(t, "Deployment", []byte(docs[1]))
	if ps.InitContainers[0].Image != "registry.example/podwire:v1" {
		t.Errorf("sidecar image = %q, want the --image", ps.InitContainers[0].Image)
	}
	checkInjected(t, decodePodSpec(t, "Job", []byte(docs[2])))
	rendered := kustomize(t, out.Bytes())
	for _, want := range []string{"kind: Service", "kind: Deployment", "kind: Job", "restartPolicy: Always", "name: podwire-sockets"} {
		if !strings.Contains(rendered, want) {
			t.Errorf("kubectl kustomize output lacks %q", want)
		}
	}
}

// TestInjectBase: the shipped base already has the sidecar; injecting it
// keeps one sidecar per pod and is stable.
func TestInjectBase(t *testing.T) {
	in, err := os.ReadFile(filepath.Join("..", "..", "deploy", "k8s", "base", "inventory", "inventory.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var once, twice bytes.Buffer
	if _, err := Inject(bytes.NewReader(in), &once, Options{ConfigMap: "inventory-sidecar"}); err != nil {
		t.Fatal(err)
	}
	if _, err := Inject(bytes.NewReader(once.Bytes()), &twice, Options{ConfigMap: "inventory-sidecar"}); err != nil {
		t.Fatal(err)
	}
	if once.String() != twice.String() {
		t.Error("injecting the base twice changed it")
	}
	if n := strings.Count(once.String(), "name: podwire\n"); n != 1 {
		t.Errorf("injected base has %d podwire containers, want 1", n)
	}
}

// TestInjectErrors: input that is not YAML or a workload without a name
// is refused with the document's number.
func TestInjectErrors(t *testing.T) {
	for name, in := range map[string]string{
		"not yaml":  service + "---\n\tkind: [\n",
		"no name":   "apiVersion: v1\nkind: Pod\nspec: {containers: [{name: a, image: b}]}\n",
		"bad field": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {replicas: many}\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Inject(strings.NewReader(in), new(bytes.Buffer), Options{})
			if err == nil || !strings.HasPrefix(err.Error(), "document ") {
				t.Errorf("Inject = %v, want an error naming the document", err)
			}
		})
	}
}

// kustomize renders docs with `kubectl kustomize` as deploy/k8s's tests do.
func kustomize(t *testing.T, docs []byte) string {
	t.Helper()
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Fatalf("kubectl not found in PATH (%v): install kubectl 1.27+ (it embeds kustomize) to run this test", err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "injected.yaml"), docs, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte("resources: [injected.yaml]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(kubectl, "kustomize", dir)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kubectl kustomize: %v\n%s", err, stderr.String())
	}
	return string(out)
}
