package doctor

import (
	"context"
	"fmt"
	"strings"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/catalog"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// sdcImageRepository is the last path element of SDC images (streamsets/datacollector, or a mirror's
// registry/path/datacollector).
const sdcImageRepository = "datacollector"

// sdcVersion: the SDC image is at least the version from which the stage libraries in use can take web
// identity credentials (they need aws-java-sdk-sts); older ones fall back to the node's role.
var sdcVersion = Check{
	ID: "sdc.version", Layer: LayerKubernetes, Scope: TargetScope,
	Needs: []string{"kube.deployment"},
	Run: func(_ context.Context, f *Facts, t *Target) Result {
		if t.Deploy == nil {
			return noDeployment(t)
		}
		if t.Selection == nil {
			return skip("skipped: no stages known, so no minimum SDC version", "pass --stage (or --bucket), or bind the role with kubectl sdc bind, which records them")
		}
		container, image, tag := "", "", ""
		for _, c := range t.Deploy.Spec.Template.Spec.Containers {
			if repo, tg := splitImage(c.Image); lastPathElement(repo) == sdcImageRepository {
				container, image, tag = c.Name, c.Image, tg
				break
			}
		}
		if container == "" {
			return skip("skipped: no container runs an SDC image", "no container image ends in /"+sdcImageRepository)
		}
		if t.AssumeRoleARN != "" {
			return assumeRoleVersion(f, t, container, image, tag)
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
		return pass(fmt.Sprintf("SDC %s is at least %s (%s)", tag, minVersion, lib), "container "+container+" runs "+image)
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

// splitImage splits an image reference into repository and tag ("" without a tag); a digest is dropped.
func splitImage(image string) (repo, tag string) {
	ref, _, _ := strings.Cut(image, "@")
	slash := strings.LastIndex(ref, "/")
	if colon := strings.LastIndex(ref, ":"); colon > slash {
		return ref[:colon], ref[colon+1:]
	}
	return ref, ""
}

func lastPathElement(repo string) string {
	return repo[strings.LastIndex(repo, "/")+1:]
}
