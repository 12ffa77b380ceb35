package inject

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"
)

// Names and paths the injected pod uses; deploy/k8s/base uses the same.
const (
	SidecarName   = "podwire"
	SocketsVolume = "podwire-sockets"
	ConfigVolume  = "podwire-config"
	TLSVolume     = "podwire-tls"
	SocketDir     = "/run/podwire"
	ConfigDir     = "/etc/podwire/config"
	TLSDir        = "/etc/podwire/tls"
	MuxPort       = 15443
)

// injectPodSpec adds or replaces the sidecar, the volumes, the app mounts
// and env; every step replaces what an earlier injection added, so a
// second run changes nothing.
func injectPodSpec(ps *corev1.PodSpec, workload string, opts Options) {
	cm, secret := opts.ConfigMap, opts.TLSSecret
	if cm == "" {
		cm = workload + "-sidecar"
	}
	if secret == "" {
		secret = workload + "-tls"
	}
	sc := sidecar(opts)
	if i := slices.IndexFunc(ps.InitContainers, func(c corev1.Container) bool { return c.Name == SidecarName }); i >= 0 {
		ps.InitContainers[i] = sc
	} else {
		ps.InitContainers = append([]corev1.Container{sc}, ps.InitContainers...)
	}
	for i := range ps.Containers {
		c := &ps.Containers[i]
		setMount(&c.VolumeMounts, corev1.VolumeMount{Name: SocketsVolume, MountPath: SocketDir})
		setEnv(&c.Env, "PODWIRE_SOCKET_DIR", SocketDir)
		// The emptyDir is 0777 but private to the pod.
		setEnv(&c.Env, "PODWIRE_ALLOW_SHARED_SOCKET_DIR", "true")
	}
	setVolume(&ps.Volumes, corev1.Volume{Name: SocketsVolume, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{
		Medium: corev1.StorageMediumMemory, SizeLimit: ptr.To(resource.MustParse("1Mi"))}}})
	setVolume(&ps.Volumes, corev1.Volume{Name: ConfigVolume, VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: cm}}}})
	setVolume(&ps.Volumes, corev1.Volume{Name: TLSVolume, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
		SecretName: secret, DefaultMode: ptr.To[int32](0o440),
		Items: []corev1.KeyToPath{{Key: "tls.crt", Path: "tls.crt"}, {Key: "tls.key", Path: "tls.key"}, {Key: "ca.crt", Path: "ca.crt"}}}}})
	if ps.SecurityContext == nil {
		ps.SecurityContext = &corev1.PodSecurityContext{}
	}
	if ps.SecurityContext.FSGroup == nil { // socket files are shared through the group
		ps.SecurityContext.FSGroup = ptr.To(opts.UID)
	}
}

// sidecar is the native sidecar container.
func sidecar(opts Options) corev1.Container {
	probe := func(endpoint string, period int32) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{
			Command: []string{"/podwire", "status", "--check=" + endpoint, "--admin=unix:" + SocketDir + "/podwire-admin.sock"}}},
			PeriodSeconds: period, TimeoutSeconds: 3}
	}
	startup := probe("healthz", 1)
	startup.FailureThreshold, startup.TimeoutSeconds = 30, 0
	return corev1.Container{
		Name: SidecarName, Image: opts.Image, ImagePullPolicy: corev1.PullIfNotPresent,
		RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways),
		Args:          []string{"sidecar", "--config=" + ConfigDir + "/sidecar.yaml"},
		Ports:         []corev1.ContainerPort{{Name: "podwire-mux", ContainerPort: MuxPort, Protocol: corev1.ProtocolTCP}},
		StartupProbe:  startup, LivenessProbe: probe("healthz", 10), ReadinessProbe: probe("readyz", 5),
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m"), corev1.ResourceMemory: resource.MustParse("32Mi")},
			Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("128Mi")},
		},
		SecurityContext: &corev1.SecurityContext{
			RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To(opts.UID), RunAsGroup: ptr.To(opts.UID),
			AllowPrivilegeEscalation: ptr.To(false), ReadOnlyRootFilesystem: ptr.To(true),
			Capabilities:   &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
		VolumeMounts: []corev1.VolumeMount{
			{Name: SocketsVolume, MountPath: SocketDir},
			{Name: ConfigVolume, MountPath: ConfigDir, ReadOnly: true},
			{Name: TLSVolume, MountPath: TLSDir, ReadOnly: true},
		},
	}
}

// setMount adds m, or replaces the mount of the same volume.
func setMount(ms *[]corev1.VolumeMount, m corev1.VolumeMount) {
	if i := slices.IndexFunc(*ms, func(x corev1.VolumeMount) bool { return x.Name == m.Name }); i >= 0 {
		(*ms)[i] = m
		return
	}
	*ms = append(*ms, m)
}

// setEnv adds name=value unless the container already sets name.
func setEnv(env *[]corev1.EnvVar, name, value string) {
	if slices.ContainsFunc(*env, func(e corev1.EnvVar) bool { return e.Name == name }) {
		return
	}
	*env = append(*env, corev1.EnvVar{Name: name, Value: value})
}

// setVolume adds v, or replaces the volume of the same name.
func setVolume(vs *[]corev1.Volume, v corev1.Volume) {
	if i := slices.IndexFunc(*vs, func(x corev1.Volume) bool { return x.Name == v.Name }); i >= 0 {
		(*vs)[i] = v
		return
	}
	*vs = append(*vs, v)
}
