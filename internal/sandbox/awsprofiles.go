package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// targetTrust lets principals of the sandbox's account assume the target role when their own policies
// allow sts:AssumeRole on it: trusting an account delegates the decision to that account's IAM.
const targetTrust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}`

// setUpAWS gives every cluster's profile an IAM user of its own (administrator, as the EKS cluster
// creator would be), makes the second account with its admin and role, maps the admins in the
// authenticator, and writes the AWS config and credentials files.
func (s *Sandbox) setUpAWS(ctx context.Context) error {
	var admins []string
	for i, c := range s.Clusters {
		if i == 0 {
			c.AccessKeyID, c.SecretAccessKey = s.AccessKeyID, s.SecretAccessKey
		} else {
			creds, err := s.Front.CreateAdmin(ctx, c.AccountID, c.UserName)
			if err != nil {
				return err
			}
			c.AccessKeyID, c.SecretAccessKey = creds.AccessKeyID, creds.SecretAccessKey
		}
		c.UserARN = "arn:aws:iam::" + c.AccountID + ":user/" + c.UserName
		admins = append(admins, c.UserARN)
	}
	s.authn.setAdmins(s.Clusters, admins)

	creds, err := s.Front.CreateAdmin(ctx, TargetAccountID, TargetAdminUser)
	if err != nil {
		return fmt.Errorf("the second account %s: %w", TargetAccountID, err)
	}
	s.Target = TargetAccount{AccountID: creds.AccountID, AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey, Profile: TargetProfile}
	role, err := s.Front.IAMIn(TargetAccountID).CreateRole(ctx, &iam.CreateRoleInput{
		RoleName:                 aws.String(TargetRoleName),
		AssumeRolePolicyDocument: aws.String(strings.ReplaceAll(targetTrust, "123456789012", s.AccountID)),
		Description:              aws.String("sdc-sandbox: a role in the second account that trusts the sandbox's account"),
	})
	var exists *iamtypes.EntityAlreadyExistsException
	switch {
	case errors.As(err, &exists):
		s.Target.RoleARN = "arn:aws:iam::" + TargetAccountID + ":role/" + TargetRoleName
	case err != nil:
		return fmt.Errorf("creating role %s in the second account: %w", TargetRoleName, err)
	default:
		s.Target.RoleARN = aws.ToString(role.Role.Arn)
	}
	return s.writeAWSFiles()
}

// writeAWSFiles writes DIR/aws/config and DIR/aws/credentials: a profile per cluster, named like its
// context, in its region, and TargetProfile; each names the sandbox's endpoint, so a profile alone reaches it.
func (s *Sandbox) writeAWSFiles() error {
	var cfg, creds strings.Builder
	cfg.WriteString("# The sandbox's AWS profiles: one per cluster (its kube context's exec plugin names it) and " + TargetProfile + ".\n")
	creds.WriteString("# The keys of the sandbox's AWS profiles.\n")
	write := func(profile, region, key, secret string) {
		fmt.Fprintf(&cfg, "\n[profile %s]\nregion = %s\nendpoint_url = %s\n", profile, region, s.AWSEndpoint)
		fmt.Fprintf(&creds, "\n[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n", profile, key, secret)
	}
	for _, c := range s.Clusters {
		write(c.Profile, c.Region, c.AccessKeyID, c.SecretAccessKey)
	}
	write(s.Target.Profile, Region, s.Target.AccessKeyID, s.Target.SecretAccessKey)
	if err := os.WriteFile(s.AWSConfigPath, []byte(cfg.String()), 0o600); err != nil {
		return err
	}
	return os.WriteFile(s.AWSCredentialsPath, []byte(creds.String()), 0o600)
}
