// Package manifest builds the Deployment that runs StreamSets Data Collector under a ServiceAccount with an
// AWS identity, in the original guide's shape: the manifest to paste into StreamSets Control Hub's
// advanced-mode Kubernetes YAML or to `kubectl apply`, and the fragment (the pod spec's serviceAccountName
// and securityContext) to merge into a manifest that exists. It holds only what the identity needs and
// what the guide shows; everything Control Hub fills in itself (namespace, replicas, the engine's
// registration settings, resources) stays out. It reads nothing and prints nothing.
package manifest

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	applyappsv1 "k8s.io/client-go/applyconfigurations/apps/v1"
	applycorev1 "k8s.io/client-go/applyconfigurations/core/v1"
	applymetav1 "k8s.io/client-go/applyconfigurations/meta/v1"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/catalog"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// Options say what the manifest holds. The flag names are what errors name: the same rules serve
// `kubectl sdc manifest` (--deployment or its older name --name, --image) and bind (--deployment, --image).
type Options struct {
	// Fragment asks for only the pod spec's identity fields instead of the full manifest.
	Fragment bool
	// Name is the Deployment's name, its app label and its container's name; "" means
	// vocab.DefaultDeploymentName.
	Name  string
	Image string
	// ServiceAccount the pods run under.
	ServiceAccount string
	// FSGroup is the pod's securityContext.fsGroup; vocab.LeaveFSGroup leaves securityContext out.
	FSGroup int64
	// Mechanism is how the pods get the ServiceAccount's AWS identity (vocab.Mechanisms). Both put the same
	// fields in the pod spec: the identity lives on the ServiceAccount (IRSA's annotation) or in EKS (a Pod
	// Identity association), and either mechanism's projected token is read by SDC's non-root user.
	Mechanism vocab.Mechanism

	// NameFlag and ImageFlag are the flags Name and Image came from, for errors.
	NameFlag, ImageFlag string
}

// Validate checks the options before anything is read. A fragment has no name and no image: giving one is
// an error rather than silently ignored.
func (o *Options) Validate() error {
	if err := vocab.ValidateObjectName("--service-account", o.ServiceAccount); err != nil {
		return err
	}
	if o.FSGroup < vocab.LeaveFSGroup || o.FSGroup > 2147483647 {
		return &vocab.FlagError{Flag: "--fs-group", Value: fmt.Sprint(o.FSGroup), Rule: "must be a group ID from 0 to 2147483647, or -1 to leave securityContext out"}
	}
	if err := o.validateMechanism(); err != nil {
		return err
	}
	if o.Fragment {
		switch {
		case o.Image != "":
			return &vocab.FlagError{Flag: o.ImageFlag, Value: o.Image, Rule: "only the full manifest has an image: --fragment prints only the pod spec's serviceAccountName and securityContext"}
		case o.Name != "":
			return &vocab.FlagError{Flag: o.NameFlag, Value: o.Name, Rule: "only the full manifest has a name: --fragment prints only the pod spec's serviceAccountName and securityContext"}
		}
		return nil
	}
	// The name is also the container's name and the app label's value: a DNS-1123 label, not a subdomain.
	if errs := validation.IsDNS1123Label(o.name()); len(errs) > 0 {
		return &vocab.FlagError{Flag: o.NameFlag, Value: o.name(), Rule: "not a valid name for the Deployment, its container and its app label (a DNS-1123 label): " + strings.Join(errs, "; ")}
	}
	if o.Image == "" {
		return &vocab.FlagError{Flag: o.ImageFlag, Rule: "is required for the full manifest (an SDC image with the stage libraries your pipelines use, e.g. streamsets/datacollector:5.11.0); --fragment prints only the lines to merge into a manifest you have"}
	}
	return vocab.ValidateImage(o.ImageFlag, o.Image)
}

func (o *Options) name() string {
	if o.Name == "" {
		return vocab.DefaultDeploymentName
	}
	return o.Name
}

func (o *Options) validateMechanism() error {
	switch o.Mechanism {
	case vocab.MechanismIRSA, vocab.MechanismPodIdentity:
		return nil
	}
	return fmt.Errorf("internal: no manifest for the AWS identity mechanism %q", o.Mechanism)
}

// Object is what the options ask for: the full manifest, or with Fragment only the fragment.
func Object(o Options) (*applyappsv1.DeploymentApplyConfiguration, error) {
	if o.Fragment {
		return Fragment(o)
	}
	return Deployment(o)
}

// Deployment is the full manifest: the guide's Deployment (selector and pod labels app=<name>, one
// container <name> with the image) plus SDC's port, under the ServiceAccount with the fsGroup. It has no
// namespace: Control Hub's agent and `kubectl apply -n` give it one.
func Deployment(o Options) (*applyappsv1.DeploymentApplyConfiguration, error) {
	if err := o.validateMechanism(); err != nil {
		return nil, err
	}
	name := o.name()
	labels := map[string]string{"app": name}
	d := applyappsv1.Deployment(name, "").WithSpec(applyappsv1.DeploymentSpec().
		WithSelector(applymetav1.LabelSelector().WithMatchLabels(labels)).
		WithTemplate(applycorev1.PodTemplateSpec().WithLabels(labels).WithSpec(applycorev1.PodSpec().
			WithContainers(applycorev1.Container().WithName(name).WithImage(o.Image).
				WithPorts(applycorev1.ContainerPort().WithContainerPort(vocab.SDCPort))))))
	d.Namespace = nil
	SetPodIdentity(d, o)
	return d, nil
}

// Fragment is only what the pod spec needs for the identity, nested where it goes
// (spec.template.spec): the lines to merge into a Deployment manifest that exists, and a strategic merge
// patch as it stands.
func Fragment(o Options) (*applyappsv1.DeploymentApplyConfiguration, error) {
	if err := o.validateMechanism(); err != nil {
		return nil, err
	}
	d := &applyappsv1.DeploymentApplyConfiguration{}
	SetPodIdentity(d, o)
	return d, nil
}

// SetPodIdentity sets the fields the pod spec needs for the ServiceAccount's AWS identity on d's pod
// template, on top of whatever else d holds: serviceAccountName and, unless left alone,
// securityContext.fsGroup (with IRSA the projected token is then group-readable by SDC's non-root user).
func SetPodIdentity(d *applyappsv1.DeploymentApplyConfiguration, o Options) {
	if d.Spec == nil {
		d.WithSpec(applyappsv1.DeploymentSpec())
	}
	if d.Spec.Template == nil {
		d.Spec.WithTemplate(applycorev1.PodTemplateSpec())
	}
	if d.Spec.Template.Spec == nil {
		d.Spec.Template.WithSpec(applycorev1.PodSpec())
	}
	spec := d.Spec.Template.Spec
	spec.WithServiceAccountName(o.ServiceAccount)
	if o.FSGroup != vocab.LeaveFSGroup {
		if spec.SecurityContext == nil {
			spec.WithSecurityContext(applycorev1.PodSecurityContext())
		}
		spec.SecurityContext.WithFSGroup(o.FSGroup)
	}
}

// Seen is what the cluster says about the ServiceAccount the pods will run under.
type Seen struct {
	// ServiceAccount is nil when it does not exist.
	ServiceAccount *corev1.ServiceAccount
	// Associated says the ServiceAccount has an EKS Pod Identity association; AssociationUnknown, when not
	// empty, says why that could not be found out.
	Associated         bool
	AssociationUnknown string
}

// FromCluster fits o to what the cluster says: the mechanism is IRSA when the ServiceAccount has the role
// annotation (its environment comes first in the SDKs' credential chain), else EKS Pod Identity when it has
// an association, else IRSA (bind's default). It returns notes on what is missing for the pods to get an
// AWS identity, and, with Pod Identity, on an SDC image known not to read Pod Identity credentials (cat
// judges it; nil skips that).
func (o *Options) FromCluster(namespace string, seen Seen, cat *catalog.Catalog) (notes []string) {
	o.Mechanism = vocab.MechanismIRSA
	sa := seen.ServiceAccount
	bind := fmt.Sprintf("kubectl sdc bind -n %s --service-account %s --stage <STAGE> ...", namespace, o.ServiceAccount)
	switch {
	case sa == nil:
		notes = append(notes, fmt.Sprintf("ServiceAccount %s/%s does not exist yet: pods of this manifest cannot start until it does; %s makes it, with its AWS identity",
			namespace, o.ServiceAccount, bind))
	case sa.Annotations[vocab.RoleARNAnnotation] != "":
	case seen.Associated:
		o.Mechanism = vocab.MechanismPodIdentity
		notes = append(notes, o.imageNotes(cat)...)
	case seen.AssociationUnknown != "":
		notes = append(notes, fmt.Sprintf("ServiceAccount %s/%s has no %s annotation, and whether it has an EKS Pod Identity association could not be read (%s): without either its pods get no AWS identity; %s gives it one",
			namespace, o.ServiceAccount, vocab.RoleARNAnnotation, seen.AssociationUnknown, bind))
	default:
		notes = append(notes, fmt.Sprintf("ServiceAccount %s/%s has no %s annotation and no EKS Pod Identity association, so its pods get no AWS identity: %s gives it one",
			namespace, o.ServiceAccount, vocab.RoleARNAnnotation, bind))
	}
	return notes
}

// imageNotes warns when the manifest's SDC image is known not to read Pod Identity credentials, or is not
// documented either way.
func (o *Options) imageNotes(cat *catalog.Catalog) []string {
	if cat == nil || o.Fragment || !vocab.IsSDCImage(o.Image) {
		return nil
	}
	_, tag := vocab.SplitImage(o.Image)
	j, err := cat.PodIdentityRule(tag, nil)
	switch {
	case err != nil:
		return []string{fmt.Sprintf("ServiceAccount %s uses EKS Pod Identity and image %s names no SDC version: it must bundle AWS SDK for Java %s or later, or SDC falls back to the node's role without a word",
			o.ServiceAccount, o.Image, cat.PodIdentitySDK().MinJavaSDKv1)}
	case j.Verdict == catalog.PodIdentityCannot:
		return []string{fmt.Sprintf("ServiceAccount %s uses EKS Pod Identity, and image %s cannot: %s, so SDC would fall back to the node's role without a word; use a newer SDC, or IRSA (kubectl sdc bind --mechanism irsa)",
			o.ServiceAccount, o.Image, j.Reason)}
	case j.Verdict == catalog.PodIdentityUnknown:
		return []string{fmt.Sprintf("ServiceAccount %s uses EKS Pod Identity: %s", o.ServiceAccount, j.Reason)}
	}
	return nil
}
