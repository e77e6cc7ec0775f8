package deploy_test

import (
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/cmd/switchboard/node"
)

type k8sObject struct {
	APIVersion string            `yaml:"apiVersion"`
	Kind       string            `yaml:"kind"`
	Metadata   k8sMeta           `yaml:"metadata"`
	Data       map[string]string `yaml:"data"`
	Spec       struct {
		Replicas       *int           `yaml:"replicas"`
		ServiceName    string         `yaml:"serviceName"`
		Selector       map[string]any `yaml:"selector"`
		ClusterIP      string         `yaml:"clusterIP"`
		MinAvailable   any            `yaml:"minAvailable"`
		MaxUnavailable any            `yaml:"maxUnavailable"`
		Ports          []struct {
			Name       string `yaml:"name"`
			Port       int    `yaml:"port"`
			TargetPort any    `yaml:"targetPort"`
		} `yaml:"ports"`
		Template struct {
			Metadata k8sMeta `yaml:"metadata"`
			Spec     podSpec `yaml:"spec"`
		} `yaml:"template"`
		VolumeClaimTemplates []struct {
			Metadata k8sMeta `yaml:"metadata"`
			Spec     struct {
				AccessModes []string `yaml:"accessModes"`
				Resources   struct {
					Requests map[string]string `yaml:"requests"`
				} `yaml:"resources"`
			} `yaml:"spec"`
		} `yaml:"volumeClaimTemplates"`
	} `yaml:"spec"`
}

type k8sMeta struct {
	Name        string            `yaml:"name"`
	Namespace   string            `yaml:"namespace"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

type podSpec struct {
	TerminationGracePeriodSeconds *int `yaml:"terminationGracePeriodSeconds"`
	SecurityContext               struct {
		RunAsNonRoot *bool `yaml:"runAsNonRoot"`
		RunAsUser    *int  `yaml:"runAsUser"`
	} `yaml:"securityContext"`
	Containers []container `yaml:"containers"`
	Volumes    []struct {
		Name      string `yaml:"name"`
		ConfigMap *struct {
			Name string `yaml:"name"`
		} `yaml:"configMap"`
		EmptyDir any `yaml:"emptyDir"`
	} `yaml:"volumes"`
}

type container struct {
	Name    string   `yaml:"name"`
	Image   string   `yaml:"image"`
	Command []string `yaml:"command"`
	Args    []string `yaml:"args"`
	Env     []struct {
		Name      string `yaml:"name"`
		Value     string `yaml:"value"`
		ValueFrom any    `yaml:"valueFrom"`
	} `yaml:"env"`
	EnvFrom []struct {
		ConfigMapRef *struct {
			Name string `yaml:"name"`
		} `yaml:"configMapRef"`
	} `yaml:"envFrom"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	LivenessProbe  *probe `yaml:"livenessProbe"`
	ReadinessProbe *probe `yaml:"readinessProbe"`
	StartupProbe   *probe `yaml:"startupProbe"`
	Resources      struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	SecurityContext struct {
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
		ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
	} `yaml:"securityContext"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
}

type probe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port any    `yaml:"port"`
	} `yaml:"httpGet"`
}

// containerKeys are the container fields the manifests may use; a misspelt one (readinesProbe) would be dropped
// by the API server's lenient decoding, or refused, only at deploy time.
var containerKeys = []string{"name", "image", "imagePullPolicy", "command", "args", "env", "envFrom", "ports",
	"livenessProbe", "readinessProbe", "startupProbe", "lifecycle", "resources", "securityContext", "volumeMounts",
	"workingDir", "terminationMessagePolicy"}

// kubeObjects reads every object of the files the kustomization lists.
func kubeObjects(t *testing.T) []k8sObject {
	t.Helper()
	var k struct {
		APIVersion string   `yaml:"apiVersion"`
		Kind       string   `yaml:"kind"`
		Resources  []string `yaml:"resources"`
		Images     []struct {
			Name    string `yaml:"name"`
			NewName string `yaml:"newName"`
			NewTag  string `yaml:"newTag"`
		} `yaml:"images"`
	}
	decodeStrict(t, "kubernetes/kustomization.yaml", &k)
	files, _ := filepath.Glob(filepath.Join(deployDir, "kubernetes", "*.yaml"))
	for _, f := range files {
		if base := filepath.Base(f); base != "kustomization.yaml" && !slices.Contains(k.Resources, base) {
			t.Errorf("kubernetes/%s is not listed in kustomization.yaml", base)
		}
	}
	var objs []k8sObject
	for _, r := range k.Resources {
		rel := filepath.Join("kubernetes", r)
		err := yamlDocs(read(t, rel), func(n *yaml.Node) error {
			var o k8sObject
			if err := n.Decode(&o); err != nil {
				return err
			}
			var raw struct {
				Spec struct {
					Template struct {
						Spec struct {
							Containers []map[string]any `yaml:"containers"`
						} `yaml:"spec"`
					} `yaml:"template"`
				} `yaml:"spec"`
			}
			if err := n.Decode(&raw); err != nil {
				return err
			}
			for _, c := range raw.Spec.Template.Spec.Containers {
				for key := range c {
					if !slices.Contains(containerKeys, key) {
						t.Errorf("%s %s: container field %q is not one of %v", rel, o.Metadata.Name, key, containerKeys)
					}
				}
			}
			objs = append(objs, o)
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
	}
	return objs
}

func matchLabels(sel map[string]any) map[string]string {
	m, _ := sel["matchLabels"].(map[string]any)
	out := map[string]string{}
	for k, v := range m {
		out[k] = fmt.Sprint(v)
	}
	return out
}

func plainSelector(sel map[string]any) map[string]string {
	out := map[string]string{}
	for k, v := range sel {
		out[k] = fmt.Sprint(v)
	}
	return out
}

func subset(sel, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func TestKubernetes(t *testing.T) {
	objs := kubeObjects(t)
	byKind := map[string][]k8sObject{}
	configMaps := map[string]k8sObject{}
	for _, o := range objs {
		byKind[o.Kind] = append(byKind[o.Kind], o)
		if o.Metadata.Namespace != "" {
			t.Errorf("%s %s: has namespace %q; the manifests are namespace-less", o.Kind, o.Metadata.Name, o.Metadata.Namespace)
		}
		if o.Kind == "ConfigMap" {
			configMaps[o.Metadata.Name] = o
		}
		want := map[string]string{"StatefulSet": "apps/v1", "Deployment": "apps/v1", "Service": "v1", "ConfigMap": "v1",
			"PodDisruptionBudget": "policy/v1"}[o.Kind]
		if want == "" || o.APIVersion != want {
			t.Errorf("%s %s: apiVersion %q, want %q", o.Kind, o.Metadata.Name, o.APIVersion, want)
		}
	}
	if len(byKind["StatefulSet"]) != 1 || len(byKind["Deployment"]) != 1 {
		t.Fatalf("want one StatefulSet (router) and one Deployment (ingest), got %d and %d",
			len(byKind["StatefulSet"]), len(byKind["Deployment"]))
	}
	workloads := append(byKind["StatefulSet"], byKind["Deployment"]...)

	for _, w := range workloads {
		where := w.Kind + " " + w.Metadata.Name
		pod := w.Spec.Template.Spec
		if !subset(matchLabels(w.Spec.Selector), w.Spec.Template.Metadata.Labels) {
			t.Errorf("%s: selector %v does not select its own pods %v", where, w.Spec.Selector, w.Spec.Template.Metadata.Labels)
		}
		if g := pod.TerminationGracePeriodSeconds; g == nil || *g < 30 {
			t.Errorf("%s: terminationGracePeriodSeconds must leave at least 30 s for the drain", where)
		}
		if sc := pod.SecurityContext; sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
			t.Errorf("%s: runAsNonRoot is not set", where)
		}
		if a := w.Spec.Template.Metadata.Annotations; a["prometheus.io/port"] != httpPort || a["prometheus.io/path"] != "/metrics" {
			t.Errorf("%s: prometheus.io annotations %v, want port %s and path /metrics", where, a, httpPort)
		}
		if len(pod.Containers) != 1 {
			t.Fatalf("%s: want one container", where)
		}
		c := pod.Containers[0]
		inv, err := parseArgs(where+" args", c.Args)
		if err != nil {
			t.Fatal(err)
		}
		checkValues(t, inv)
		env := map[string]string{}
		for _, ef := range c.EnvFrom {
			if ef.ConfigMapRef == nil {
				continue
			}
			cm, ok := configMaps[ef.ConfigMapRef.Name]
			if !ok {
				t.Errorf("%s: envFrom names ConfigMap %q, which is not defined", where, ef.ConfigMapRef.Name)
			}
			for k, v := range cm.Data {
				env[k] = v
			}
		}
		for _, e := range c.Env {
			if e.ValueFrom == nil {
				env[e.Name] = e.Value
			}
		}
		envInv, err := envFlags(where+" environment", env)
		if err != nil {
			t.Fatal(err)
		}
		checkValues(t, envInv)
		eff := effective(imageEnv(t), envInv, inv)
		checkListen(t, where, eff["http-addr"])
		if eff["kafka-brokers"] == "" {
			t.Errorf("%s: no Kafka brokers: every pod would start its own embedded broker", where)
		}

		// The HTTP port, the probes on it.
		ports := map[string]int{}
		for _, p := range c.Ports {
			ports[p.Name] = p.ContainerPort
		}
		if strconv.Itoa(ports["http"]) != httpPort {
			t.Errorf("%s: container port http is %d, want %s", where, ports["http"], httpPort)
		}
		for _, pr := range []struct {
			name string
			p    *probe
			path string
		}{{"livenessProbe", c.LivenessProbe, "/healthz"}, {"readinessProbe", c.ReadinessProbe, "/readyz"},
			{"startupProbe", c.StartupProbe, "/healthz"}} {
			if pr.p == nil {
				if pr.name != "startupProbe" {
					t.Errorf("%s: no %s", where, pr.name)
				}
				continue
			}
			if pr.p.HTTPGet == nil || pr.p.HTTPGet.Path != pr.path {
				t.Errorf("%s: %s must GET %s", where, pr.name, pr.path)
				continue
			}
			if port := fmt.Sprint(pr.p.HTTPGet.Port); port != httpPort && strconv.Itoa(ports[port]) != httpPort {
				t.Errorf("%s: %s port %v is not the HTTP port", where, pr.name, pr.p.HTTPGet.Port)
			}
		}
		for _, r := range []string{"cpu", "memory"} {
			if c.Resources.Requests[r] == "" {
				t.Errorf("%s: no %s request", where, r)
			}
		}
		if c.Resources.Limits["memory"] == "" {
			t.Errorf("%s: no memory limit", where)
		}
		if p := c.SecurityContext.AllowPrivilegeEscalation; p == nil || *p {
			t.Errorf("%s: allowPrivilegeEscalation must be false", where)
		}

		// Volumes: the data dir and the config file are mounted where the flags say.
		mounts := map[string]string{}
		for _, m := range c.VolumeMounts {
			mounts[m.MountPath] = m.Name
		}
		if mounts[eff["data-dir"]] == "" {
			t.Errorf("%s: data dir %q is not a volume mount", where, eff["data-dir"])
		}
		cfgVol := mounts[filepath.Dir(eff["config"])]
		found := false
		for _, v := range pod.Volumes {
			if v.Name != cfgVol || v.ConfigMap == nil {
				continue
			}
			found = true
			cm, ok := configMaps[v.ConfigMap.Name]
			file := cm.Data[filepath.Base(eff["config"])]
			if !ok || file == "" {
				t.Errorf("%s: --config %s: ConfigMap %q has no key %s", where, eff["config"], v.ConfigMap.Name,
					filepath.Base(eff["config"]))
				continue
			}
			if _, err := tenant.Parse([]byte(file)); err != nil {
				t.Errorf("%s: the config file in ConfigMap %s does not load: %v", where, v.ConfigMap.Name, err)
			}
		}
		if !found {
			t.Errorf("%s: --config %q is not in a mounted ConfigMap", where, eff["config"])
		}

		switch w.Kind {
		case "StatefulSet":
			roles := strings.Split(eff["roles"], ",")
			if !slices.Contains(roles, node.RoleRouter) || !slices.Contains(roles, node.RoleAPI) {
				t.Errorf("%s: roles %q: the router StatefulSet runs router and api (the API reads its store)", where, eff["roles"])
			}
			// Three replicas share the partitions: each needs the changelog (state follows its partition), an
			// address the others reach it at, and the cluster secret (README, "Several nodes").
			if w.Spec.Replicas == nil || *w.Spec.Replicas != 3 {
				t.Errorf("%s: replicas must be 3", where)
			}
			if _, ok := eff["changelog"]; !ok {
				t.Errorf("%s: several replicas need --changelog", where)
			}
			if u := eff["advertise-url"]; !strings.Contains(u, "$(POD_NAME)."+w.Spec.ServiceName+":") {
				t.Errorf("%s: --advertise-url %q must name the pod under the headless Service %s", where, u, w.Spec.ServiceName)
			}
			if len(w.Spec.VolumeClaimTemplates) != 1 || mounts[eff["data-dir"]] != w.Spec.VolumeClaimTemplates[0].Metadata.Name {
				t.Errorf("%s: the data dir must be the volumeClaimTemplate's volume", where)
			}
			var headless bool
			for _, s := range byKind["Service"] {
				if s.Metadata.Name == w.Spec.ServiceName && s.Spec.ClusterIP == "None" {
					headless = true
				}
			}
			if !headless {
				t.Errorf("%s: serviceName %q is not a headless Service", where, w.Spec.ServiceName)
			}
		case "Deployment":
			if eff["roles"] != node.RoleIngest {
				t.Errorf("%s: roles %q, want %s", where, eff["roles"], node.RoleIngest)
			}
		}
	}

	// Services and disruption budgets select pods of a workload, on ports it has.
	selects := func(sel map[string]string) *k8sObject {
		for i, w := range workloads {
			if subset(sel, w.Spec.Template.Metadata.Labels) {
				return &workloads[i]
			}
		}
		return nil
	}
	for _, s := range byKind["Service"] {
		w := selects(plainSelector(s.Spec.Selector))
		if w == nil {
			t.Errorf("Service %s: selector %v selects no workload", s.Metadata.Name, s.Spec.Selector)
			continue
		}
		for _, p := range s.Spec.Ports {
			target := fmt.Sprint(p.TargetPort)
			ok := slices.ContainsFunc(w.Spec.Template.Spec.Containers[0].Ports, func(cp struct {
				Name          string `yaml:"name"`
				ContainerPort int    `yaml:"containerPort"`
			}) bool {
				return cp.Name == target || strconv.Itoa(cp.ContainerPort) == target
			})
			if !ok {
				t.Errorf("Service %s: targetPort %s is no container port of %s", s.Metadata.Name, target, w.Metadata.Name)
			}
		}
	}
	if len(byKind["PodDisruptionBudget"]) != 2 {
		t.Errorf("want a PodDisruptionBudget for the router and one for ingest, got %d", len(byKind["PodDisruptionBudget"]))
	}
	for _, p := range byKind["PodDisruptionBudget"] {
		if selects(matchLabels(p.Spec.Selector)) == nil {
			t.Errorf("PodDisruptionBudget %s: selects no workload", p.Metadata.Name)
		}
		if (p.Spec.MinAvailable == nil) == (p.Spec.MaxUnavailable == nil) {
			t.Errorf("PodDisruptionBudget %s: set exactly one of minAvailable and maxUnavailable", p.Metadata.Name)
		}
	}

	t.Run("kustomize", func(t *testing.T) {
		kubectl, err := exec.LookPath("kubectl")
		if err != nil {
			t.Skip("kubectl is not installed")
		}
		out, err := exec.Command(kubectl, "kustomize", filepath.Join(deployDir, "kubernetes")).Output()
		if err != nil {
			t.Fatalf("kubectl kustomize: %v", err)
		}
		var n int
		if err := yamlDocs(out, func(*yaml.Node) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		if n != len(objs) {
			t.Errorf("kubectl kustomize renders %d objects, the files hold %d", n, len(objs))
		}
		if !bytes.Contains(out, []byte("image: ghcr.io/switchboard-hq/switchboard:")) {
			t.Errorf("kubectl kustomize does not set the image")
		}
	})
}
