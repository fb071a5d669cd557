// Package aws makes the AWS SDK clients kubectl-sdc uses (IAM, STS, EKS, S3) from the usual configuration
// chain, and answers account facts: who the caller is, which partition a region is in, and what an error
// means (not found, already exists, IAM still catching up).
package aws

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/version"
)

// MaxAttempts bounds the SDK's own retries of one request (throttling, 5xx, connection resets). Higher than
// the SDK's default of 3 because bind makes bursts of IAM writes, and IAM throttles those per account.
const MaxAttempts = 8

// Options are the AWS flags: --profile and --region. Everything else comes from the SDK's usual chain
// (environment, shared config and credentials files, SSO, web identity, instance metadata).
type Options struct {
	Profile string
	Region  string
	// ProfileRegionFirst makes the profile's own region win over AWS_REGION and AWS_DEFAULT_REGION in the
	// environment when Profile is set and Region is not. The SDK's order is the other way round, which is
	// right for one profile picked by hand, but a fleet reads each kube context with its own profile, and a
	// region left in the shell must not send every context to it.
	ProfileRegionFirst bool
}

// Clients holds one configured client per AWS service the plugin talks to.
type Clients struct {
	// Config is the loaded SDK configuration, for clients of services not listed here.
	Config aws.Config

	IAM *iam.Client
	STS *sts.Client
	EKS *eks.Client
	S3  *s3.Client

	// Region is the region EKS, S3 and STS calls go to; empty when none was configured anywhere.
	Region string
	// Partition is the partition of Region (aws, aws-cn, aws-us-gov).
	Partition string
	// RegionFrom says where Region came from when the configuration chose it: "the environment
	// (AWS_REGION)" or "profile NAME"; "" when Options.Region set it or there is none.
	RegionFrom string
}

// Load reads the AWS configuration chain, applies o, and makes the clients. Every request carries the
// plugin's user agent first and uses the SDK's adaptive retry mode. A missing region is not an error here:
// the caller may learn it from the cluster and call ForRegion. extra options are applied last (tests use
// them for static credentials and endpoints).
func Load(ctx context.Context, o Options, extra ...func(*config.LoadOptions) error) (*Clients, error) {
	opts := []func(*config.LoadOptions) error{
		config.WithRetryer(newRetryer),
		config.WithAPIOptions([]func(*middleware.Stack) error{addUserAgentPrefix}),
	}
	if o.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(o.Profile))
	}
	if o.Region != "" {
		opts = append(opts, config.WithRegion(o.Region))
	}
	opts = append(opts, extra...)
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		if o.Profile != "" {
			return nil, fmt.Errorf("loading AWS configuration for --profile %q: %w (check ~/.aws/config, or run 'aws configure list-profiles')", o.Profile, err)
		}
		return nil, fmt.Errorf("loading AWS configuration: %w", err)
	}
	from := ""
	if o.Region == "" {
		from = regionFrom(&cfg, o)
	}
	c := newClients(cfg)
	c.RegionFrom = from
	return c, nil
}

// regionFrom says where the loaded configuration's region came from, after putting the profile's region
// first when o asks for it.
func regionFrom(cfg *aws.Config, o Options) string {
	var env *config.EnvConfig
	var shared *config.SharedConfig
	for _, src := range cfg.ConfigSources {
		switch s := src.(type) {
		case config.EnvConfig:
			env = &s
		case config.SharedConfig:
			shared = &s
		}
	}
	if o.ProfileRegionFirst && o.Profile != "" && shared != nil && shared.Region != "" {
		cfg.Region = shared.Region
		return "profile " + shared.Profile
	}
	switch {
	case cfg.Region == "":
		return ""
	case env != nil && env.Region == cfg.Region:
		return "the environment (AWS_REGION)"
	case shared != nil && shared.Region == cfg.Region:
		return "profile " + shared.Profile
	}
	return ""
}

// ForRegion returns clients that send EKS, S3 and STS calls to region, sharing the loaded configuration
// (credentials, retryer, HTTP client). It returns c itself when region is empty or already c's region.
func (c *Clients) ForRegion(region string) *Clients {
	if region == "" || region == c.Region {
		return c
	}
	cfg := c.Config.Copy()
	cfg.Region = region
	return newClients(cfg)
}

func newClients(cfg aws.Config) *Clients {
	region := cfg.Region
	partition := PartitionForRegion(region)
	c := &Clients{Config: cfg, Region: region, Partition: partition}

	// IAM is a global service: whatever region the rest uses, sign IAM for its partition's home region, so
	// a custom endpoint (which skips the SDK's own global-endpoint rules) still gets a valid signature.
	c.IAM = iam.NewFromConfig(cfg, func(o *iam.Options) {
		o.Region = globalRegion(partition)
	})
	c.STS = sts.NewFromConfig(cfg, func(o *sts.Options) {
		if o.Region == "" {
			// GetCallerIdentity answers the same in every region, so a missing region need not stop it.
			o.Region = globalRegion(partition)
		}
	})
	c.EKS = eks.NewFromConfig(cfg, func(o *eks.Options) {
		if o.Region == "" {
			o.APIOptions = append(o.APIOptions, requireRegion("EKS"))
		}
	})
	c.S3 = s3.NewFromConfig(cfg, func(o *s3.Options) {
		// A custom endpoint is typically an IP address or a single host name (a sandbox, a proxy, a
		// VPC endpoint): virtual-hosted bucket names cannot resolve there, path-style requests can.
		if hasCustomEndpoint(cfg, "S3") {
			o.UsePathStyle = true
		}
		if o.Region == "" {
			o.APIOptions = append(o.APIOptions, requireRegion("S3"))
		}
	})
	return c
}

func newRetryer() aws.Retryer {
	return retry.NewAdaptiveMode(func(o *retry.AdaptiveModeOptions) {
		o.StandardOptions = append(o.StandardOptions, func(so *retry.StandardOptions) {
			so.MaxAttempts = MaxAttempts
		})
	})
}

// serviceEndpointSource is what the SDK's environment and shared-config sources implement for
// AWS_ENDPOINT_URL_<SERVICE> and a profile's per-service endpoint_url.
type serviceEndpointSource interface {
	GetServiceBaseEndpoint(ctx context.Context, sdkID string) (string, bool, error)
}

// hasCustomEndpoint reports whether requests to the service go to a configured endpoint rather than the
// SDK's resolved AWS one: AWS_ENDPOINT_URL, a profile's endpoint_url, or the service-specific forms.
func hasCustomEndpoint(cfg aws.Config, sdkID string) bool {
	if cfg.BaseEndpoint != nil && *cfg.BaseEndpoint != "" {
		return true
	}
	for _, src := range cfg.ConfigSources {
		if s, ok := src.(serviceEndpointSource); ok {
			if v, found, err := s.GetServiceBaseEndpoint(context.Background(), sdkID); err == nil && found && v != "" {
				return true
			}
		}
	}
	return false
}

// userAgentPrefix puts the plugin's user agent at the start of the User-Agent header, so AWS CloudTrail and
// the sandbox's logs can tell kubectl-sdc's calls from every other client's.
type userAgentPrefix struct{ prefix string }

func (userAgentPrefix) ID() string { return "kubectl-sdc/UserAgentPrefix" }

func (m userAgentPrefix) HandleBuild(ctx context.Context, in middleware.BuildInput, next middleware.BuildHandler) (
	middleware.BuildOutput, middleware.Metadata, error,
) {
	if req, ok := in.Request.(*smithyhttp.Request); ok {
		ua := req.Header.Get("User-Agent")
		if !strings.HasPrefix(ua, m.prefix) {
			req.Header.Set("User-Agent", strings.TrimSpace(m.prefix+" "+ua))
		}
	}
	return next.HandleBuild(ctx, in)
}

// sdkUserAgentID is the ID of the SDK's own build-step middleware that writes User-Agent.
const sdkUserAgentID = "UserAgent"

func addUserAgentPrefix(stack *middleware.Stack) error {
	mw := userAgentPrefix{prefix: version.UserAgent()}
	// After the SDK's middleware, which prepends its own agent to whatever is already there.
	if _, ok := stack.Build.Get(sdkUserAgentID); ok {
		return stack.Build.Insert(mw, sdkUserAgentID, middleware.After)
	}
	return stack.Build.Add(mw, middleware.After)
}

// requireRegion fails a regional call up front with what to do, instead of the SDK's endpoint-rule error.
func requireRegion(service string) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("kubectl-sdc/RequireRegion",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (
				middleware.InitializeOutput, middleware.Metadata, error,
			) {
				return middleware.InitializeOutput{}, middleware.Metadata{},
					fmt.Errorf("no AWS region for %s: pass --region, set AWS_REGION, or set region in the AWS profile", service)
			}), middleware.Before)
	}
}
