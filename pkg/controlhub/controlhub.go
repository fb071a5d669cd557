// Package controlhub recognises the Deployments that a StreamSets Control Hub Kubernetes agent manages. The
// agent creates such a Deployment (and a Secret with the engine's token) from the Control Hub deployment's
// YAML when the deployment starts, deletes it when it stops, and creates it again when it is started or
// changed: a patch made in the cluster is lost at the next restart from Control Hub, so the durable place
// for serviceAccountName and fsGroup is that YAML. The signs of such a Deployment are kept here as data,
// each with where it comes from; the package reads nothing and prints nothing.
package controlhub

import (
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// Engine registration settings: the environment variables through which an SDC engine joins a Control Hub
// deployment. Sources: the installation script Control Hub generates for a self-managed Docker deployment
// ("Start & Generate Install Script": docker run -e STREAMSETS_DEPLOYMENT_SCH_URL=... -e
// STREAMSETS_DEPLOYMENT_ID=<deployment ID>:<organization ID> -e STREAMSETS_DEPLOYMENT_TOKEN=...
// streamsets/datacollector:<version>, as reproduced in public walk-throughs of StreamSets DataOps Platform);
// the Kubernetes YAML of a Control Hub Kubernetes deployment in advanced mode, which sets the three in the
// engine container, the token from the Secret the agent creates (StreamSets' own example of that YAML:
// github.com/streamsets/streamsets-sdk-k8s-deployment-with-ingress, yaml/node-port-no-ingress.yaml).
const (
	// EnvDeploymentID is the Control Hub deployment the engine belongs to, as <deployment ID>:<organization ID>.
	EnvDeploymentID = "STREAMSETS_DEPLOYMENT_ID"
	// EnvDeploymentToken is the engine's authentication token for that deployment.
	EnvDeploymentToken = "STREAMSETS_DEPLOYMENT_TOKEN"
	// EnvControlHubURL is the Control Hub the engine registers with, e.g. https://na01.hub.streamsets.com.
	EnvControlHubURL = "STREAMSETS_DEPLOYMENT_SCH_URL"
)

// The names a Control Hub Kubernetes agent gives what it provisions for Control Hub deployment <ID>.
// Sources: Control Hub documentation, "Kubernetes Deployments"
// (docs.streamsets.com/platform-controlhub/controlhub/UserGuide/Deployments/Kubernetes.html): starting a
// deployment makes the agent create one Kubernetes Deployment and one Secret, which holds the engine's
// authentication token; stopping it deletes every resource it created; "do not directly modify the
// provisioned resources". The default advanced-mode YAML as StreamSets publishes it (the repository above):
// Deployment and app label streamsets-deployment-<ID>, container streamsets-engine-<ID>, token from key
// "token" of Secret streamsets-deployment-secret-<ID>.
const (
	AgentDeploymentPrefix  = "streamsets-deployment-"
	AgentContainerPrefix   = "streamsets-engine-"
	AgentTokenSecretPrefix = "streamsets-deployment-secret-"
)

// Evidence is what a Deployment's pod template says about Control Hub.
type Evidence struct {
	// Registered: a container carries the engine registration settings (EnvDeploymentID and
	// EnvDeploymentToken), so the engine joins a Control Hub deployment.
	Registered bool
	// Managed: registered, and provisioned by a Control Hub Kubernetes agent (it bears the agent's naming:
	// the token Secret, the Deployment's or the container's name). A registered engine without them was
	// deployed by hand, as a self-managed deployment: a patch on it lasts.
	Managed bool
	// DeploymentID is the Control Hub deployment's ID, from EnvDeploymentID ("" when it is not a literal).
	DeploymentID string
	// Signs are what was seen, most telling first: the registration, then the agent's names.
	Signs []string
}

// Inspect reads the signs of Control Hub in a Deployment.
func Inspect(d *appsv1.Deployment) Evidence {
	var e Evidence
	if d == nil {
		return e
	}
	spec := &d.Spec.Template.Spec
	var agent []string // the agent's names, in the order of how telling they are
	var secret, container bool
	for _, cs := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for _, c := range cs {
			var id, token bool
			for _, env := range c.Env {
				switch env.Name {
				case EnvDeploymentID:
					id = true
					if env.Value != "" {
						e.DeploymentID, _, _ = strings.Cut(env.Value, ":")
					}
				case EnvDeploymentToken:
					token = true
					if ref := env.ValueFrom; ref != nil && ref.SecretKeyRef != nil && strings.HasPrefix(ref.SecretKeyRef.Name, AgentTokenSecretPrefix) {
						secret = true
					}
				}
			}
			if id && token {
				e.Registered = true
				container = container || strings.HasPrefix(c.Name, AgentContainerPrefix)
			}
		}
	}
	if !e.Registered {
		return Evidence{DeploymentID: e.DeploymentID}
	}
	e.Signs = append(e.Signs, "it sets "+EnvDeploymentID+" and "+EnvDeploymentToken)
	if secret {
		agent = append(agent, "its token comes from Secret "+AgentTokenSecretPrefix+"<ID>")
	}
	if strings.HasPrefix(d.Name, AgentDeploymentPrefix) {
		agent = append(agent, "it is named "+AgentDeploymentPrefix+"<ID>")
	}
	if container {
		agent = append(agent, "its container is named "+AgentContainerPrefix+"<ID>")
	}
	e.Managed = len(agent) > 0
	e.Signs = append(e.Signs, agent...)
	return e
}

// Describe names the Control Hub deployment for messages: "Control Hub deployment <ID>", or without a
// known ID "its Control Hub deployment".
func (e Evidence) Describe() string {
	if e.DeploymentID != "" {
		return "Control Hub deployment " + e.DeploymentID
	}
	return "its Control Hub deployment"
}

// Why is one sentence saying why a patch will not last, for bind's warning and doctor's detail: the
// registration and the most telling of the agent's names.
func (e Evidence) Why(namespace, name string) string {
	signs := e.Signs
	if len(signs) > 2 {
		signs = signs[:2]
	}
	return fmt.Sprintf("Deployment %s/%s is managed by StreamSets Control Hub (%s): its Kubernetes agent creates it again from the YAML of %s at every start, stop or change of that deployment, so a patch made here would be lost",
		namespace, name, strings.Join(signs, ", "), e.Describe())
}

// Advice says where the fragment goes, for bind's and doctor's fixes.
const Advice = "put these lines into the Control Hub deployment's YAML (edit the deployment in Control Hub, advanced mode; they go under spec.template.spec), then restart it from Control Hub"
