package workload

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"
)

// goSeatArg is the first argument that makes the test binary run aws-sdk-go-v2's chain (see TestMain).
const goSeatArg = "go-seat"

// runGoSeat runs the plan with aws-sdk-go-v2 from the process environment alone (config.LoadDefaultConfig:
// environment, shared files, web identity, container credentials, IMDS) and prints the outcome.
func runGoSeat(planJSON string) int {
	var p plan
	if err := json.Unmarshal([]byte(planJSON), &p); err != nil {
		fmt.Fprintln(os.Stderr, "go-seat: the plan:", err)
		return 2
	}
	out := goSeat(p)
	_ = json.NewEncoder(os.Stdout).Encode(out)
	return 0
}

func goSeat(p plan) outcome {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out outcome
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		out.Error = "LoadDefaultConfig: " + err.Error()
		return out
	}
	id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		out.Error = "GetCallerIdentity: " + errorCode(err) + ": " + err.Error()
		return out
	}
	out.Identity = aws.ToString(id.Arn)
	if p.AssumeRoleARN != "" {
		// SDC's STSAssumeRoleSessionCredentialsProvider on top of the default chain, in Go's words.
		cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), p.AssumeRoleARN, func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = sessionName()
			o.Duration = sessionSeconds * time.Second
			o.Tags = []ststypes.Tag{{Key: aws.String(principalTag), Value: aws.String(p.Principal)}}
		}))
		id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			out.Error = "AssumeRole: " + errorCode(err) + ": " + err.Error()
			return out
		}
		out.Assumed = aws.ToString(id.Arn)
	}
	// Path-style: the sandbox's endpoint is an IP address (SDC's S3 stages have the same option).
	c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	b, k := aws.String(p.Bucket), aws.String(p.Key)
	steps := map[string]func() error{
		"PutObject": func() error {
			_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: k, Body: bytes.NewReader([]byte(objectBody))})
			return err
		},
		"GetObject": func() error {
			o, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: k})
			if err != nil {
				return err
			}
			defer o.Body.Close()
			got, err := io.ReadAll(o.Body)
			if err == nil && string(got) != objectBody {
				err = fmt.Errorf("read %q back", got)
			}
			return err
		},
		"ListBucket": func() error {
			o, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: b, Prefix: k})
			if err == nil && len(o.Contents) != 1 {
				err = fmt.Errorf("%d objects listed under %s", len(o.Contents), p.Key)
			}
			return err
		},
		"DeleteObject": func() error {
			_, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: b, Key: k})
			return err
		},
		"DeleteBucket": func() error {
			_, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: b})
			return err
		},
	}
	for _, name := range append(append([]string{}, granted...), refused...) {
		out.Calls = append(out.Calls, call{name, resultOf(steps[name]())})
	}
	return out
}

// resultOf is "ok" or the service's error code (the error itself when there is none).
func resultOf(err error) string {
	if err == nil {
		return "ok"
	}
	return errorCode(err)
}

func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return err.Error()
}
