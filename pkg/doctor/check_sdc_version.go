package doctor

import (
	"context"
	"fmt"
	"strings"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/catalog"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// sdcVersion: the SDC image is at least the version from which the stage libraries in use can take web
// identity credentials (they need aws-java-sdk-sts); older ones fall back to the node's role.
var sdcVersion = Check{
	ID: "sdc.version", Layer: LayerKubernetes, Scope: TargetScope,
	Needs: []string{"kube.deployment"},
	Run: func(_ context.Context, f *Facts, t *Target) Result {
		if t.Deploy == nil {
			return noDeployment(t)
		}
		container, image, tag := "", "", ""
		for _, c := range t.Deploy.Spec.Template.Spec.Containers {
			if vocab.IsSDCImage(c.Image) {
				_, tg := splitImage(c.Image)
				container, image, tag = c.Name, c.Image, tg
				break
			}
		}
		if container == "" {
			return skip("skipped: no container runs an SDC image", "no container image ends in /"+vocab.SDCImageRepository)
		}
		if !t.UsesIRSA() {
			return podIdentityVersion(f, t, container, image, tag)
		}
		r := irsaVersion(f, t, container, image, tag)
		if t.AssumeRoleARN != "" && t.Selection != nil {
			r = assumeRoleVersion(f, t, container, image, tag)
		}
		if !t.UsesPodIdentity() || r.Status == Fail {
			return r
		}
		// IRSA serves the pods now; say what removing it would leave them with.
		pi := podIdentityVersion(f, t, container, image, tag)
		switch pi.Status {
		case Fail:
			return warn(fmt.Sprintf("SDC %s works through IRSA, and cannot use EKS Pod Identity", tag),
				pi.Detail+"; IRSA's environment comes first in its SDK's chain, so it works as long as IRSA stays: do not remove IRSA (migrate --remove-irsa) before running a newer SDC",
				command("kubectl", "set", "image", "deployment/"+t.Deployment, "-n", t.Namespace, container+"=<AN SDC WHOSE AWS SDK FOR JAVA IS 1.12.746 OR LATER>"))
		case Pass:
			r.Detail = strings.TrimPrefix(r.Detail+"; "+pi.Detail, "; ")
		default:
			r.Detail = strings.TrimPrefix(r.Detail+"; EKS Pod Identity (once IRSA is removed): "+pi.Detail, "; ")
		}
		return r
	},
}

// assumeRoleVersion is sdc.version for stages that assume another role: the image must be at least the
// version from which their libraries have "Assume Another Role" (plugins.yaml's assumeRoleMinSDCVersion),
// and a stage whose library has none would run with the binding's role, which may only assume the target.
func assumeRoleVersion(f *Facts, t *Target, container, image, tag string) Result {
	minVersion, without, err := f.Catalog.AssumeRoleMinSDCVersion(t.Selection.Stages)
	if err != nil {
		return skip("skipped: the stages' minimum SDC version is unknown", err.Error())
	}
	if minVersion != "" {
		cmp, err := catalog.CompareVersions(tag, minVersion)
		if err != nil {
			return skip(fmt.Sprintf("skipped: image %s carries no version in its tag", image), fmt.Sprintf("the stages assume %s, which needs SDC %s or later (Assume Another Role)", t.AssumeRoleARN, minVersion))
		}
		if cmp < 0 {
			repo, _ := splitImage(image)
			return fail(fmt.Sprintf("SDC %s is older than %s, the first with Assume Another Role", tag, minVersion),
				fmt.Sprintf("container %s runs %s; the stages assume %s (from %s), which their libraries can do from SDC %s on",
					container, image, t.AssumeRoleARN, t.AssumeRoleFrom, minVersion),
				command("kubectl", "set", "image", "deployment/"+t.Deployment, "-n", t.Namespace, container+"="+repo+":"+minVersion))
		}
	}
	if len(without) > 0 {
		return warn(fmt.Sprintf("stages %s have no Assume Another Role", strings.Join(without, ", ")),
			fmt.Sprintf("their libraries have no known Assume Another Role, so they act with role %s itself, which may only assume %s",
				vocab.RoleNameOf(t.RoleARN), t.AssumeRoleARN),
			"bind them to a role of their own, without --assume-role-arn: "+command("kubectl", "sdc", "bind", "-n", t.Namespace, "--service-account", "SERVICE-ACCOUNT", "--stage", without[0]))
	}
	return pass(fmt.Sprintf("SDC %s is at least %s (Assume Another Role)", tag, minVersion),
		fmt.Sprintf("container %s runs %s; the stages assume %s", container, image, t.AssumeRoleARN))
}

// podIdentityVersion applies the EKS Pod Identity rule of plugins.yaml to the SDC image: a release known
// to bundle an AWS SDK for Java below the minimum fails (its stages fall back to the node's role), one not
// documented either way warns.
func podIdentityVersion(f *Facts, t *Target, container, image, tag string) Result {
	var stages []string
	if t.Selection != nil {
		stages = t.Selection.Stages
	}
	min := f.Catalog.PodIdentitySDK()
	irsaFix := bindFixWith(f, t, "--mechanism", string(vocab.MechanismIRSA))
	j, err := f.Catalog.PodIdentityRule(tag, stages)
	switch {
	case err != nil && tag == "":
		return warn(fmt.Sprintf("image %s carries no version in its tag", image),
			fmt.Sprintf("container %s: EKS Pod Identity needs an SDC whose stage libraries bundle AWS SDK for Java %s or later (v2: %s); an older one falls back to the node's role without a word", container, min.MinJavaSDKv1, min.MinJavaSDKv2),
			irsaFix+"   # if its AWS SDK for Java is older than "+min.MinJavaSDKv1)
	case err != nil:
		return warn(fmt.Sprintf("image %s names no SDC version in its tag", image),
			fmt.Sprintf("container %s (%v): EKS Pod Identity needs an SDC whose stage libraries bundle AWS SDK for Java %s or later (v2: %s)", container, err, min.MinJavaSDKv1, min.MinJavaSDKv2),
			irsaFix+"   # if its AWS SDK for Java is older than "+min.MinJavaSDKv1)
	case j.Verdict == catalog.PodIdentityCannot:
		return fail(fmt.Sprintf("SDC %s cannot use EKS Pod Identity: its %s bundles AWS SDK for Java %s", tag, j.Library, sdkLine(j.SDK)),
			fmt.Sprintf("container %s runs %s; %s, so its AWS stages fall through the credential chain to the node's role without a word", container, image, j.Reason),
			irsaFix+"   # IRSA works from SDC "+minIRSA(f, stages)+"; or run an SDC whose AWS SDK for Java is "+min.MinJavaSDKv1+" or later")
	case j.Verdict == catalog.PodIdentityUnknown:
		return warn(fmt.Sprintf("SDC %s may not read EKS Pod Identity credentials", tag),
			fmt.Sprintf("container %s runs %s; %s", container, image, j.Reason),
			irsaFix+"   # if its AWS SDK for Java is older than "+min.MinJavaSDKv1)
	}
	return pass(fmt.Sprintf("SDC %s can use EKS Pod Identity", tag), j.Reason)
}

// sdkLine writes a version line (1.11) as 1.11.x.
func sdkLine(v string) string {
	if strings.Count(v, ".") < 2 {
		return v + ".x"
	}
	return v
}

// minIRSA is the first SDC whose stage libraries can use IRSA, for the stages (all libraries when nil).
func minIRSA(f *Facts, stages []string) string {
	if len(stages) == 0 {
		stages = f.Catalog.StageNames()
	}
	if v, _, err := minimumFor(f.Catalog, stages); err == nil && v != "" {
		return v
	}
	return "3.17.0"
}

// irsaVersion is the IRSA rule: the image is at least the first SDC whose libraries carry aws-java-sdk-sts.
func irsaVersion(f *Facts, t *Target, container, image, tag string) Result {
	if t.Selection == nil {
		return skip("skipped: no stages known, so no minimum SDC version", "pass --stage (or --bucket), or bind the role with kubectl sdc bind, which records them")
	}
	minVersion, lib, err := minimumFor(f.Catalog, t.Selection.Stages)
	if err != nil {
		return skip("skipped: the stages' minimum SDC version is unknown", err.Error())
	}
	if minVersion == "" {
		return pass("no minimum SDC version for stages "+strings.Join(t.Selection.Stages, ", "), "image "+image)
	}
	cmp, err := catalog.CompareVersions(tag, minVersion)
	if err != nil {
		return skip(fmt.Sprintf("skipped: image %s carries no version in its tag", image), fmt.Sprintf("the stages need SDC %s or later (%s)", minVersion, lib))
	}
	if cmp < 0 {
		repo, _ := splitImage(image)
		return fail(fmt.Sprintf("SDC %s is older than %s, the first whose %s can use IRSA", tag, minVersion, lib),
			fmt.Sprintf("container %s runs %s; stages %s need aws-java-sdk-sts in %s, shipped from SDC %s: older SDC ignores the web identity token and uses the node's role",
				container, image, strings.Join(t.Selection.Stages, ", "), lib, minVersion),
			command("kubectl", "set", "image", "deployment/"+t.Deployment, "-n", t.Namespace, container+"="+repo+":"+minVersion))
	}
	// A setting the stages were bound with that SDC has only from a later release (queue-lookup=url): the
	// older SDC makes the calls of the default, which the policy does not grant.
	if v, setting := f.Catalog.SettingsMinSDCVersion(*t.Selection); v != "" {
		if cmp, err := catalog.CompareVersions(tag, v); err == nil && cmp < 0 {
			repo, _ := splitImage(image)
			return fail(fmt.Sprintf("SDC %s has no setting %s, which the stages were bound with (SDC %s or later)", tag, setting, v),
				fmt.Sprintf("container %s runs %s; stages %s (from %s) were granted what %s needs, and SDC %s makes the calls of the setting's default instead, which the policy does not allow",
					container, image, strings.Join(t.Selection.Stages, ", "), t.SelectionFrom, setting, tag),
				command("kubectl", "set", "image", "deployment/"+t.Deployment, "-n", t.Namespace, container+"="+repo+":"+v)+"   # or bind again without --set "+setting)
		}
	}
	return pass(fmt.Sprintf("SDC %s is at least %s (%s)", tag, minVersion, lib), "container "+container+" runs "+image)
}

// minimumFor is the highest minimum SDC version of the stages' libraries, and which library sets it.
func minimumFor(c *catalog.Catalog, stages []string) (version, library string, err error) {
	version, err = c.MinSDCVersion(stages)
	if err != nil || version == "" {
		return version, "", err
	}
	for _, name := range stages {
		s, _ := c.Stage(name)
		if l, ok := c.Library(s.Library); ok && l.MinSDCVersion == version {
			return version, l.Name, nil
		}
	}
	return version, "", nil
}

// splitImage splits an image reference into repository and tag (vocab.SplitImage).
func splitImage(image string) (repo, tag string) { return vocab.SplitImage(image) }
