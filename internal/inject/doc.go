// Package inject is `podwire inject`: it reads Kubernetes YAML (one or
// more documents) and adds the podwire sidecar to every Deployment,
// StatefulSet, DaemonSet, Job and Pod in it, as Linkerd's `linkerd inject`
// and Istio's `istioctl kube-inject` do. The sidecar is a native sidecar
// (an init container with restartPolicy: Always, Kubernetes 1.29+), so it
// starts before the app and stops after it, also in Jobs. Other documents
// pass through byte for byte; injected workloads are re-encoded (comments
// in them are dropped). Injecting twice gives the same output as once.
package inject
