// Package credential is the sandbox's kubectl exec credential plugin: it does what `aws eks get-token`
// does (an EKS bearer token from a presigned sts:GetCallerIdentity, with the AWS credentials of the usual
// chain: environment keys, then AWS_PROFILE and the config files), in a few milliseconds instead of the
// aws CLI's second or two.
//
// The sandbox's kubeconfig runs the program that started the sandbox (sdc-sandbox, a test binary, the
// benchmark) with Env set; this package's init answers before that program's main runs. It imports little,
// so its init runs before the Kubernetes packages' (Go initialises ready packages in import path order).
package credential

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Env marks a run of a program as the exec credential plugin: set (to "1") in the kubeconfig's exec env.
const Env = "SDC_SANDBOX_EXEC_CREDENTIAL"

// TokenPrefix starts every EKS bearer token.
const TokenPrefix = "k8s-aws-v1."

// ClusterHeader is the header the token's signature binds the cluster name with.
const ClusterHeader = "x-k8s-aws-id"

// tokenLifetime is what the ExecCredential tells kubectl; EKS accepts a token for 15 minutes and the aws
// CLI announces 14, to leave a margin.
const tokenLifetime = 14 * time.Minute

func init() {
	if os.Getenv(Env) == "" {
		return
	}
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "credential" {
		args = args[1:]
	}
	os.Exit(Run(context.Background(), args, os.Stdout, os.Stderr))
}

// Run is `credential --cluster-name NAME [--region REGION]`: it prints an ExecCredential holding a token
// for the cluster, and returns the exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("credential", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cluster := fs.String("cluster-name", "", "EKS cluster name the token is for (required)")
	region := fs.String("region", "", "AWS region to sign in (default: the AWS configuration's)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *cluster == "" {
		fmt.Fprintln(stderr, "sdc-sandbox credential: --cluster-name is required, e.g. --cluster-name sandbox")
		return 2
	}
	token, err := Token(ctx, *cluster, *region)
	if err != nil {
		fmt.Fprintf(stderr, "sdc-sandbox credential: %v\n", err)
		return 1
	}
	out, err := execCredential(token, time.Now().Add(tokenLifetime), os.Getenv("KUBERNETES_EXEC_INFO"))
	if err != nil {
		fmt.Fprintf(stderr, "sdc-sandbox credential: %v\n", err)
		return 1
	}
	_, _ = stdout.Write(out)
	return 0
}

// Token makes an EKS token for cluster with the AWS credentials and endpoint of the usual configuration
// chain, signed for region (the configuration's when empty).
func Token(ctx context.Context, cluster, region string) (string, error) {
	var opts []func(*config.LoadOptions) error
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return "", fmt.Errorf("loading the AWS configuration (AWS_PROFILE=%q): %w", os.Getenv("AWS_PROFILE"), err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		return "", fmt.Errorf("no AWS credentials (AWS_PROFILE=%q): %w", os.Getenv("AWS_PROFILE"), err)
	}
	return TokenFor(ctx, cfg, cluster)
}

// TokenFor makes an EKS token for cluster with the credentials, region and endpoint of cfg.
func TokenFor(ctx context.Context, cfg aws.Config, cluster string) (string, error) {
	presigner := sts.NewPresignClient(sts.NewFromConfig(cfg))
	req, err := presigner.PresignGetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}, func(po *sts.PresignOptions) {
		po.ClientOptions = append(po.ClientOptions, func(o *sts.Options) {
			o.APIOptions = append(o.APIOptions,
				smithyhttp.AddHeaderValue(ClusterHeader, cluster),
				smithyhttp.AddHeaderValue("X-Amz-Expires", "60"))
		})
	})
	if err != nil {
		return "", fmt.Errorf("presigning sts:GetCallerIdentity: %w", err)
	}
	return TokenPrefix + base64.RawURLEncoding.EncodeToString([]byte(req.URL)), nil
}

// execCredential is the ExecCredential kubectl reads, in the API version it asked for.
func execCredential(token string, expires time.Time, execInfo string) ([]byte, error) {
	apiVersion := "client.authentication.k8s.io/v1beta1"
	if execInfo != "" {
		var info struct {
			APIVersion string `json:"apiVersion"`
		}
		if err := json.Unmarshal([]byte(execInfo), &info); err != nil {
			return nil, fmt.Errorf("KUBERNETES_EXEC_INFO is not JSON: %w", err)
		}
		if info.APIVersion != "" {
			apiVersion = info.APIVersion
		}
	}
	if apiVersion != "client.authentication.k8s.io/v1beta1" && apiVersion != "client.authentication.k8s.io/v1" {
		return nil, errors.New("kubectl asked for ExecCredential " + apiVersion + "; this plugin speaks client.authentication.k8s.io/v1 and v1beta1")
	}
	return json.Marshal(map[string]any{
		"kind":       "ExecCredential",
		"apiVersion": apiVersion,
		"spec":       map[string]any{},
		"status":     map[string]any{"expirationTimestamp": expires.UTC().Format(time.RFC3339), "token": token},
	})
}
