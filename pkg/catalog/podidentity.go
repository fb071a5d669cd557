package catalog

import (
	"fmt"
	"strings"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// PodIdentityVerdict says whether an SDC release's stage libraries can use EKS Pod Identity credentials.
type PodIdentityVerdict string

// The verdicts. Cannot means the release is known to bundle an AWS SDK for Java that does not read Pod
// Identity credentials: its AWS stages fall through the credential chain to the node's role, silently.
const (
	PodIdentityCan     PodIdentityVerdict = "can"
	PodIdentityCannot  PodIdentityVerdict = "cannot"
	PodIdentityUnknown PodIdentityVerdict = "unknown"
)

// PodIdentityJudgement is the verdict on one SDC version and the facts behind it.
type PodIdentityJudgement struct {
	Verdict PodIdentityVerdict
	// Library decides the verdict; SDK is the AWS SDK for Java v1 it bundles in that release ("" unknown).
	Library, SDK string
	// Reason says why, in one sentence that names the versions.
	Reason string
}

// PodIdentitySDK returns the minimum AWS SDK for Java versions for Pod Identity: the catalog's, else the
// EKS user guide's.
func (c *Catalog) PodIdentitySDK() PodIdentitySDK {
	if pi := c.file.PodIdentity; pi != nil {
		return *pi
	}
	return PodIdentitySDK{MinJavaSDKv1: vocab.MinJavaSDKv1PodIdentity, MinJavaSDKv2: vocab.MinJavaSDKv2PodIdentity}
}

// PodIdentityRule judges SDC version for the libraries of stages (every library of the catalog when
// stages is empty: the stages in use are unknown). A library decides "can" when the release is at least
// its minPodIdentitySDCVersion or bundles an SDK at least the minimum, "cannot" when its awsJavaSDK
// records a lower SDK for the release's line (or the release is older than every recorded line: SDC never
// downgraded the SDK), and "unknown" otherwise. Any library that cannot makes the release unable; else any
// unknown makes it unknown. An error means version is not a version.
func (c *Catalog) PodIdentityRule(version string, stages []string) (PodIdentityJudgement, error) {
	v, err := parseVersion(version)
	if err != nil {
		return PodIdentityJudgement{}, err
	}
	libs, err := c.librariesOf(stages)
	if err != nil {
		return PodIdentityJudgement{}, err
	}
	min := c.PodIdentitySDK()
	var unknown *PodIdentityJudgement
	can := PodIdentityJudgement{Verdict: PodIdentityCan}
	for _, l := range libs {
		j := judgeLibrary(l, version, v, min)
		switch j.Verdict {
		case PodIdentityCannot:
			return j, nil
		case PodIdentityUnknown:
			if unknown == nil {
				unknown = &j
			}
		default:
			can = j
		}
	}
	if unknown != nil {
		return *unknown, nil
	}
	return can, nil
}

func judgeLibrary(l Library, version string, v []int, min PodIdentitySDK) PodIdentityJudgement {
	line := fmt.Sprintf("%d.%d", at(v, 0), at(v, 1))
	if l.MinPodIdentitySDCVersion != "" {
		if cmp, err := CompareVersions(version, l.MinPodIdentitySDCVersion); err == nil && cmp >= 0 {
			return PodIdentityJudgement{Verdict: PodIdentityCan, Library: l.Name,
				Reason: fmt.Sprintf("SDC %s is at least %s, the first whose %s can use EKS Pod Identity", version, l.MinPodIdentitySDCVersion, l.Name)}
		}
	}
	for i, b := range l.AWSJavaSDK {
		cmpLine, err := CompareVersions(line, b.SDC)
		if err != nil {
			continue
		}
		older := i == 0 && cmpLine < 0
		if cmpLine != 0 && !older {
			continue
		}
		sdk := b.JavaSDKv1
		recent := false
		if cmp, err := CompareVersions(sdk, min.MinJavaSDKv1); err == nil && cmp >= 0 {
			recent = true
		}
		switch {
		case recent && older:
			// An older release may bundle an older SDK: nothing is known.
			continue
		case recent:
			return PodIdentityJudgement{Verdict: PodIdentityCan, Library: l.Name, SDK: sdk,
				Reason: fmt.Sprintf("SDC %s's %s bundles AWS SDK for Java %s, which reads EKS Pod Identity credentials (from %s)", version, l.Name, sdkName(sdk), min.MinJavaSDKv1)}
		case older:
			return PodIdentityJudgement{Verdict: PodIdentityCannot, Library: l.Name, SDK: sdk,
				Reason: fmt.Sprintf("SDC %s is older than %s, whose %s already bundles only AWS SDK for Java %s; the SDK reads EKS Pod Identity credentials only from %s",
					version, b.SDC, l.Name, sdkName(sdk), min.MinJavaSDKv1)}
		}
		return PodIdentityJudgement{Verdict: PodIdentityCannot, Library: l.Name, SDK: sdk,
			Reason: fmt.Sprintf("SDC %s's %s bundles AWS SDK for Java %s, which reads EKS Pod Identity credentials only from %s",
				version, l.Name, sdkName(sdk), min.MinJavaSDKv1)}
	}
	return PodIdentityJudgement{Verdict: PodIdentityUnknown, Library: l.Name,
		Reason: fmt.Sprintf("which AWS SDK for Java SDC %s's %s bundles is not documented: it must be at least %s (SDK v2: %s) to read EKS Pod Identity credentials",
			version, l.Name, min.MinJavaSDKv1, min.MinJavaSDKv2)}
}

// sdkName writes a version line (1.11) as 1.11.x.
func sdkName(v string) string {
	if strings.Count(v, ".") < 2 {
		return v + ".x"
	}
	return v
}

// librariesOf are the distinct libraries of the stages, in catalog order; every library when stages is
// empty.
func (c *Catalog) librariesOf(stages []string) ([]Library, error) {
	if len(stages) == 0 {
		return c.Libraries(), nil
	}
	want := map[string]bool{}
	for _, name := range stages {
		s, ok := c.Stage(name)
		if !ok {
			return nil, fmt.Errorf("--stage %q: unknown stage; known: %s", name, strings.Join(c.StageNames(), ", "))
		}
		want[s.Library] = true
	}
	var out []Library
	for _, l := range c.file.Libraries {
		if want[l.Name] {
			out = append(out, l)
		}
	}
	return out, nil
}
