package bind

import (
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	applycorev1 "k8s.io/client-go/applyconfigurations/core/v1"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/catalog"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/controlhub"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/plan"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// KindAssociation is how the plan names an EKS Pod Identity association.
const KindAssociation = "EKS Pod Identity association"

// The plan's IDs of the Pod Identity changes.
const (
	idAssociation = "association"
	idRevokeIRSA  = "trust-irsa"
)

// session is what EKS Auth tells STS about the binding's pods.
func session(res *Result) iampolicy.PodIdentitySession {
	s := iampolicy.PodIdentitySession{ClusterARN: res.Cluster.ARN, ClusterName: res.Cluster.Name,
		Namespace: res.Request.Namespace, ServiceAccount: res.Request.ServiceAccount}
	var observed *bool
	if a := res.Observed.Association; a != nil {
		observed = &a.DisableSessionTags
	}
	s.DisableSessionTags = res.Request.sessionTagsDisabled(observed)
	return s
}

// wantChain is what the association must say beyond its role.
func wantChain(res *Result) associationChain {
	c := associationChain{TargetRoleARN: res.Request.TargetRoleARN, DisableSessionTags: session(res).DisableSessionTags}
	if p := res.Request.SessionPolicy; p != nil {
		c.Policy = string(p.Compact())
	}
	return c
}

// checkAgent refuses, before anything is written, a cluster whose nodes do not run the Pod Identity agent:
// an association there gives pods nothing, and their SDK falls back to the node's role.
func checkAgent(res *Result) error {
	a, c := res.Observed.Agent, res.Cluster
	if a.Err != nil {
		return fmt.Errorf("could not tell whether cluster %s runs the EKS Pod Identity agent: %v; nothing was changed (grant eks:DescribeAddon and eks:DescribeCluster, see docs/permissions/bind-policy.json)", c.Name, a.Err)
	}
	if a.Serves() {
		return nil
	}
	return fmt.Errorf("cluster %s cannot serve EKS Pod Identity: %s, so its pods would get no credentials from an association (and SDC would fall back to the node's role). Nothing was changed. Install the agent: %s (then: aws eks wait addon-active --cluster-name %s --addon-name %s), or keep IRSA: --mechanism irsa",
		c.Name, a.Describe(), vocab.InstallAgentCommand(c.Name, c.Region), c.Name, vocab.PodIdentityAgentAddon)
}

// podIdentityTrust is the role's trust with the Pod Identity statement merged in: every other statement
// stays; a trust that already lets EKS Auth assume the role for this ServiceAccount is left as it is.
func podIdentityTrust(res *Result, existing *iampolicy.Policy) (trustWant, error) {
	n, r := res.Names, res.Request
	s := session(res)
	trust, changed := iampolicy.AdmitPodIdentity(existing, s)
	if d, action := iampolicy.AdmitsPodIdentity(trust, s, n.RoleARN); !d.Allowed() {
		return trustWant{}, fmt.Errorf("IAM role %s's trust policy would still not let EKS Pod Identity assume it for ServiceAccount %s/%s: %s refused by %s; bind adds Allow statements but never removes or changes another statement, so change that one by hand (aws iam update-assume-role-policy) or use another role",
			n.RoleName, r.Namespace, r.ServiceAccount, action, d)
	}
	return trustWant{trust: trust, changed: changed, edit: AdmitPodIdentity{Session: s},
		trusts: fmt.Sprintf("trusts %s (%s, %s) for EKS Pod Identity", vocab.PodIdentityService, vocab.ActionAssumeRole, vocab.ActionTagSession),
		admits: fmt.Sprintf("admits EKS Pod Identity (%s: %s, %s); every other statement stays", vocab.PodIdentityService, vocab.ActionAssumeRole, vocab.ActionTagSession),
		size:   fmt.Sprintf("trust policy: %d of %d characters", trust.Size(), r.trustLimit()),
	}, nil
}

// irsaAnnotation is the ServiceAccount's role annotation ("" when none), and whether kubectl-sdc set it
// (only then may --remove-irsa take it away: server-side apply releases what its manager owns).
func irsaAnnotation(sa *corev1.ServiceAccount) (value string, ours bool) {
	if sa == nil {
		return "", false
	}
	value = sa.Annotations[vocab.RoleARNAnnotation]
	return value, value != "" && ownsField(sa.ManagedFields, vocab.FieldManager, `"f:`+vocab.RoleARNAnnotation+`"`)
}

// removesIRSA reports whether this plan takes IRSA away: --remove-irsa, and the annotation is gone or
// bind's to remove. An annotation another tool set stays, and so does the trust that serves it.
func removesIRSA(res *Result) bool {
	if !res.Request.RemoveIRSA {
		return false
	}
	v, ours := irsaAnnotation(res.Observed.ServiceAccount)
	return v == "" || ours
}

// podIdentityServiceAccountChange: the ServiceAccount exists (nothing is annotated for Pod Identity); with
// --remove-irsa the role annotation (and the regional STS one) bind set are released by server-side apply.
func podIdentityServiceAccountChange(res *Result) *plan.Change {
	r, sa := res.Request, res.Observed.ServiceAccount
	c := &plan.Change{ID: "serviceaccount", Kind: KindSA, Name: r.Namespace + "/" + r.ServiceAccount, Format: "yaml",
		Deps: []string{"namespace", idAssociation}}
	view := func(annots map[string]string) string {
		meta := map[string]any{"name": r.ServiceAccount, "namespace": r.Namespace}
		if len(annots) > 0 {
			meta["annotations"] = annots
		}
		return toYAML(map[string]any{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta})
	}
	op := applyServiceAccount{Config: applycorev1.ServiceAccount(r.ServiceAccount, r.Namespace)}
	if sa == nil {
		c.Action, c.After, c.Op = plan.Create, view(nil), op
		c.Notes = []string{"no annotation: EKS Pod Identity is the association's business"}
		return c
	}
	annotation, ours := irsaAnnotation(sa)
	if annotation == "" {
		c.Action = plan.Unchanged
		return c
	}
	if !r.RemoveIRSA {
		c.Action = plan.Unchanged
		res.Notes = append(res.Notes, fmt.Sprintf("ServiceAccount %s/%s keeps its IRSA annotation %s=%s: IRSA's environment comes first in the AWS SDKs' credential chain, so its pods keep using web identity until IRSA is removed (--remove-irsa)",
			r.Namespace, r.ServiceAccount, vocab.RoleARNAnnotation, annotation))
		return c
	}
	if !ours {
		c.Action = plan.Unchanged
		res.Warnings = append(res.Warnings, fmt.Sprintf("--remove-irsa: the annotation %s on ServiceAccount %s/%s was not set by kubectl-sdc, so bind leaves it (and the role's web identity trust) alone; remove it where it is managed, or: kubectl annotate serviceaccount %s -n %s %s-",
			vocab.RoleARNAnnotation, r.Namespace, r.ServiceAccount, r.ServiceAccount, r.Namespace, vocab.RoleARNAnnotation))
		return c
	}
	current := map[string]string{vocab.RoleARNAnnotation: annotation}
	if v := sa.Annotations[vocab.RegionalSTSAnnotation]; v != "" && ownsField(sa.ManagedFields, vocab.FieldManager, `"f:`+vocab.RegionalSTSAnnotation+`"`) {
		current[vocab.RegionalSTSAnnotation] = v
	}
	c.Before, c.After = view(current), view(nil)
	c.Action, c.Op = plan.Update, op
	c.Notes = []string{"--remove-irsa: server-side apply as " + vocab.FieldManager + " releases the IRSA annotations it set; other annotations and labels stay"}
	return c
}

// associationView is how the plan shows an association.
func associationView(cluster, namespace, serviceAccount, role string, chain associationChain) string {
	m := map[string]any{"clusterName": cluster, "namespace": namespace, "serviceAccount": serviceAccount, "roleArn": role}
	if chain.TargetRoleARN != "" {
		m["targetRoleArn"] = chain.TargetRoleARN
	}
	if chain.DisableSessionTags {
		m["disableSessionTags"] = true
	}
	if chain.Policy != "" {
		m["policy"] = chain.Policy
	}
	return toYAML(m)
}

// associationChange: the ServiceAccount's association names the role, and the target role, session tags
// setting and session policy asked for; made when missing, changed when it says otherwise (an association
// names exactly one role and at most one target).
func associationChange(res *Result) *plan.Change {
	r, n, a := res.Request, res.Names, res.Observed.Association
	cl := res.Cluster.Name
	want := wantChain(res)
	c := &plan.Change{ID: idAssociation, Kind: KindAssociation, Name: vocab.AssociationName(cl, r.Namespace, r.ServiceAccount),
		Format: "yaml", Deps: []string{"role"}, After: associationView(cl, r.Namespace, r.ServiceAccount, n.RoleARN, want)}
	if a == nil {
		c.Action = plan.Create
		c.Notes = []string{"eks:CreatePodIdentityAssociation once the role's trust names " + vocab.PodIdentityService}
		if want.TargetRoleARN != "" {
			c.Notes = append(c.Notes, "EKS assumes role "+n.RoleARN+", then target role "+want.TargetRoleARN+", and hands the pods the target's credentials")
		}
		c.Op = createAssociation{Cluster: cl, Namespace: r.Namespace, ServiceAccount: r.ServiceAccount, RoleARN: n.RoleARN,
			Tags: managedTags(res, bindingTags(res)), Chain: want}
		return c
	}
	have := associationChain{TargetRoleARN: a.TargetRoleARN, DisableSessionTags: a.DisableSessionTags, Policy: a.Policy}
	c.Before = associationView(cl, a.Namespace, a.ServiceAccount, a.RoleARN, have)
	if a.RoleARN == n.RoleARN && samePolicy(have.Policy, want.Policy) && have.TargetRoleARN == want.TargetRoleARN && have.DisableSessionTags == want.DisableSessionTags {
		c.Action = plan.Unchanged
		return c
	}
	c.Action = plan.Update
	if a.RoleARN != n.RoleARN {
		c.Notes = append(c.Notes, fmt.Sprintf("association %s names role %s: it will name %s (found by %s)", a.ID, a.RoleARN, n.RoleARN, n.RoleSource))
	}
	if have.TargetRoleARN != want.TargetRoleARN {
		switch {
		case want.TargetRoleARN == "":
			c.Notes = append(c.Notes, fmt.Sprintf("association %s has target role %s: it will have none (no --target-role-arn)", a.ID, have.TargetRoleARN))
		default:
			c.Notes = append(c.Notes, fmt.Sprintf("association %s: target role %s", a.ID, want.TargetRoleARN))
		}
	}
	if have.DisableSessionTags != want.DisableSessionTags {
		c.Notes = append(c.Notes, fmt.Sprintf("session tags: %s", map[bool]string{true: "disabled", false: "enabled"}[want.DisableSessionTags]))
	}
	if !samePolicy(have.Policy, want.Policy) {
		c.Notes = append(c.Notes, "the session policy: "+map[bool]string{true: "removed (no --session-policy)", false: "--session-policy's"}[want.Policy == ""])
	}
	c.Notes = append(c.Notes, "pods that hold credentials get the change when the Pod Identity agent refreshes them (up to 6 hours; 59 minutes with a target role), or when they restart")
	c.Op = updateAssociation{Cluster: cl, ID: a.ID, RoleARN: n.RoleARN, Chain: want, From: have}
	return c
}

// samePolicy reports whether two session policies say the same (EKS may return the document as given,
// bind sends it compact).
func samePolicy(a, b string) bool {
	if a == "" || b == "" {
		return a == b
	}
	pa, errA := iampolicy.Parse([]byte(a))
	pb, errB := iampolicy.Parse([]byte(b))
	if errA != nil || errB != nil {
		return a == b
	}
	return string(pa.Canonical()) == string(pb.Canonical())
}

// revokeIRSAChange: with --remove-irsa, the ServiceAccount leaves the :sub list of the role's web identity
// statements (the compact shape bind writes; other statements are never touched), after its pods were
// moved to Pod Identity. nil when there is nothing to revoke.
func revokeIRSAChange(res *Result, role *plan.Change, after []string) *plan.Change {
	if !removesIRSA(res) || res.Observed.Role == nil && role.Action == plan.Create {
		return nil
	}
	r, n := res.Request, res.Names
	before, err := iampolicy.Parse([]byte(role.After))
	if err != nil {
		return nil
	}
	subject := vocab.Subject(r.Namespace, r.ServiceAccount)
	revoked, changed := iampolicy.RevokeWebIdentitySubject(before, n.ProviderARN, n.IssuerHostPath, subject)
	if !changed {
		return nil
	}
	c := &plan.Change{ID: idRevokeIRSA, Kind: KindRole, Name: n.RoleARN, Action: plan.Update, Format: "json",
		Before: role.After, After: string(revoked.Canonical()), Deps: append([]string{"serviceaccount"}, after...),
		Notes: []string{"--remove-irsa: removes " + subject + " from the web identity trust, once its pods use EKS Pod Identity; other statements and subjects stay"},
		Op:    writeTrust{Role: n.RoleName, Update: true, Edit: RevokeWebIdentity{Provider: n.ProviderARN, Host: n.IssuerHostPath, Subject: subject}}}
	if iampolicy.Evaluate(iampolicy.WebIdentityRequest(n.ProviderARN, n.IssuerHostPath, subject, res.Audience), revoked).Allowed() {
		c.Notes = append(c.Notes, "another statement (not of bind's shape) still admits "+subject+": bind does not change it")
	}
	return c
}

// podIdentityRestarts: pods created before the association (or before --remove-irsa takes their IRSA
// away) have no working identity: the webhook changes pods only when they are created. Each Deployment with
// such pods is restarted as `kubectl rollout restart` does, unless a rollout is already replacing them or
// (bind's --deployment) the Deployment change rolls them anyway. A Deployment Control Hub manages gets a
// warning instead.
func podIdentityRestarts(res *Result, assoc, deploy *plan.Change) []*plan.Change {
	r, o := res.Request, res.Observed
	if !r.Restart {
		return nil
	}
	associatedAt := o.Now
	if assoc.Action == plan.Unchanged && o.Association != nil {
		associatedAt = o.Association.Modified
		if associatedAt.IsZero() {
			associatedAt = o.Association.Created
		}
	}
	annotation, _ := irsaAnnotation(o.ServiceAccount)
	removing := removesIRSA(res)
	irsaStays := annotation != "" && !removing
	var out []*plan.Change
	for _, w := range o.Workloads {
		d := w.Deployment
		if d.Name == r.Deployment && (deploy == nil || deploy.Action != plan.Unchanged) {
			continue // rolls with the Deployment change, or is Control Hub's (warned about there)
		}
		restarted, _ := time.Parse(time.RFC3339, d.Spec.Template.Annotations[vocab.RestartedAtAnnotation])
		var stale, skipped []string
		for _, p := range w.Pods {
			if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed ||
				p.Spec.ServiceAccountName != r.ServiceAccount || (!restarted.IsZero() && p.CreationTimestamp.Time.Before(restarted)) {
				continue // terminating, of an older template, or already being replaced by a rollout
			}
			pi, irsa := podIdentityEnv(&p), hasEnv(&p, vocab.EnvRoleARN)
			switch {
			case removing && irsa:
				stale = append(stale, p.Name)
			case pi || (irsa && irsaStays):
			case p.CreationTimestamp.Time.Before(associatedAt):
				stale = append(stale, p.Name)
			default:
				skipped = append(skipped, p.Name)
			}
		}
		if len(skipped) > 0 {
			res.Notes = append(res.Notes, fmt.Sprintf("pods %s of Deployment %s/%s started after the association but have no %s: is the pod identity webhook running? (kubectl sdc doctor)",
				strings.Join(skipped, ", "), r.Namespace, d.Name, vocab.EnvContainerCredentialsURI))
		}
		if len(stale) == 0 {
			continue
		}
		why := "started before the association"
		if removing {
			why = "started before the association, or carry the IRSA environment that --remove-irsa takes away"
		}
		if ch := controlhub.Inspect(d); ch.Managed {
			res.Warnings = append(res.Warnings, fmt.Sprintf("%d pod(s) of Deployment %s/%s %s (%s): restart %s from Control Hub (bind does not restart a Deployment Control Hub manages)",
				len(stale), r.Namespace, d.Name, why, strings.Join(stale, ", "), ch.Describe()))
			continue
		}
		id := "restart"
		if d.Name != r.Deployment {
			id = "restart:" + d.Name
		}
		out = append(out, &plan.Change{ID: id, Kind: KindRestart, Name: r.Namespace + "/" + d.Name, Action: plan.Update,
			Deps:  []string{idAssociation, "serviceaccount"},
			Notes: []string{fmt.Sprintf("%d pod(s) %s (%s): restarting them as `kubectl rollout restart` does", len(stale), why, strings.Join(stale, ", "))},
			Op:    restartDeployment{Namespace: r.Namespace, Name: d.Name}})
	}
	return out
}

// podIdentityEnv reports whether a pod's containers carry the Pod Identity environment.
func podIdentityEnv(p *corev1.Pod) bool {
	return hasEnv(p, vocab.EnvContainerCredentialsURI) && hasEnv(p, vocab.EnvContainerTokenFile)
}

func hasEnv(p *corev1.Pod, name string) bool {
	_, v := vocab.PodEnv(p, name)
	return v != ""
}

// sdcImage is one SDC image bind knows the binding will run, and where it was seen.
type sdcImage struct{ image, where string }

// sdcImages are the SDC images of the workloads, the Deployment --create-deployment makes and the
// manifest --print-manifest prints.
func sdcImages(r *Request, o *Observed) []sdcImage {
	var out []sdcImage
	for _, w := range o.Workloads {
		for _, c := range w.Deployment.Spec.Template.Spec.Containers {
			if vocab.IsSDCImage(c.Image) {
				out = append(out, sdcImage{c.Image, fmt.Sprintf("Deployment %s/%s (container %s)", r.Namespace, w.Deployment.Name, c.Name)})
			}
		}
	}
	if r.CreateDeployment && o.Deployment == nil && r.Image != "" {
		out = append(out, sdcImage{r.Image, fmt.Sprintf("Deployment %s/%s to create", r.Namespace, r.Deployment)})
	}
	if r.PrintedImage != "" {
		out = append(out, sdcImage{r.PrintedImage, "the manifest to print"})
	}
	return out
}

// stagesInUse are the stages the binding's SDC uses: the request's, else the role's tag, else unknown (nil:
// every library counts).
func stagesInUse(res *Result) []string {
	if len(res.Selection.Stages) > 0 {
		return res.Selection.Stages
	}
	if len(res.Request.Selection.Stages) > 0 {
		return res.Request.Selection.Stages
	}
	if role := res.Observed.Role; role != nil {
		v := role.Tags[vocab.TagStages+"/"+res.Names.BindingID]
		if v == "" {
			v = role.Tags[vocab.TagStages]
		}
		if sel, err := catalog.DecodeTag(v); err == nil {
			return sel.Stages
		}
	}
	return nil
}

// checkImages applies the Pod Identity SDK rule to the SDC images: a release known to bundle an AWS SDK
// for Java below the minimum is refused (a warning with --force); an unknown one is a warning; with no
// image to look at, the warning says what to make sure of.
func checkImages(res *Result) {
	r := res.Request
	cat := r.Catalog
	if cat == nil {
		var err error
		if cat, err = catalog.Default(); err != nil {
			res.Warnings = append(res.Warnings, "the built-in catalog does not load, so the SDC image was not checked: "+err.Error())
			return
		}
	}
	min := cat.PodIdentitySDK()
	images := sdcImages(r, res.Observed)
	if len(images) == 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("no SDC image to check (no --deployment running one): EKS Pod Identity needs SDC whose stage libraries bundle AWS SDK for Java %s or later (v2: %s); every open-source SDC release (up to 3.22) bundles 1.11.x and falls back to the node's role without a word. kubectl sdc doctor checks the image once a Deployment runs it",
			min.MinJavaSDKv1, min.MinJavaSDKv2))
		return
	}
	stages := stagesInUse(res)
	for _, im := range images {
		_, tag := vocab.SplitImage(im.image)
		j, err := cat.PodIdentityRule(tag, stages)
		switch {
		case err != nil:
			res.Warnings = append(res.Warnings, fmt.Sprintf("%s runs %s, whose tag names no SDC version: make sure it bundles AWS SDK for Java %s or later (v2: %s), or its AWS stages fall back to the node's role without a word",
				im.where, im.image, min.MinJavaSDKv1, min.MinJavaSDKv2))
		case j.Verdict == catalog.PodIdentityCan:
		case j.Verdict == catalog.PodIdentityUnknown:
			res.Warnings = append(res.Warnings, fmt.Sprintf("%s runs %s: %s; an older SDK falls back to the node's role without a word",
				im.where, im.image, j.Reason))
		case r.Force:
			res.Warnings = append(res.Warnings, fmt.Sprintf("--force: %s runs %s: %s; bound anyway", im.where, im.image, j.Reason))
		default:
			res.Refusals = append(res.Refusals, fmt.Sprintf("%s runs %s: %s, so its AWS stages would fall through the credential chain to the node's role without a word",
				im.where, im.image, j.Reason))
		}
	}
}

// refused is the error of a plan whose SDC images cannot use Pod Identity: every one with its reason, and
// the ways out.
func refused(refusals []string, command string) error {
	slices.Sort(refusals)
	return fmt.Errorf("refusing EKS Pod Identity, nothing was changed: %s. Keep IRSA (%s --mechanism irsa, which SDC 3.17 and later can use), run an SDC whose libraries bundle AWS SDK for Java %s or later, or pass --force if the image bundles a newer SDK than its version says",
		strings.Join(refusals, "; "), command, vocab.MinJavaSDKv1PodIdentity)
}
