package awsfront

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// AdminUser is the IAM user whose keys the sandbox hands out.
const AdminUser = "sandbox-admin"

// adminPolicy is AdministratorAccess's document, inline so it works without moto's AWS managed policies.
const adminPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`

// Bootstrap makes the account usable: the IAM user sandbox-admin with administrator rights and a fresh
// access key, created in moto directly (not counted). It returns the keys and the account id. Calling it
// again replaces the user's keys.
func (f *Front) Bootstrap(ctx context.Context) (Credentials, error) {
	_, err := f.iam.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(AdminUser)})
	var exists *iamtypes.EntityAlreadyExistsException
	if err != nil && !errors.As(err, &exists) {
		return Credentials{}, fmt.Errorf("creating IAM user %s in moto at %s: %w", AdminUser, f.cfg.MotoURL, err)
	}
	if _, err := f.iam.PutUserPolicy(ctx, &iam.PutUserPolicyInput{
		UserName: aws.String(AdminUser), PolicyName: aws.String("AdministratorAccess"), PolicyDocument: aws.String(adminPolicy),
	}); err != nil {
		return Credentials{}, fmt.Errorf("granting %s administrator rights: %w", AdminUser, err)
	}
	// IAM allows two keys per user; drop the old ones so repeated bootstraps keep working.
	old, err := f.iam.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(AdminUser)})
	if err != nil {
		return Credentials{}, fmt.Errorf("listing the access keys of %s: %w", AdminUser, err)
	}
	for _, k := range old.AccessKeyMetadata {
		if _, err := f.iam.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String(AdminUser), AccessKeyId: k.AccessKeyId}); err != nil {
			return Credentials{}, fmt.Errorf("deleting old access key %s of %s: %w", aws.ToString(k.AccessKeyId), AdminUser, err)
		}
	}
	key, err := f.iam.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(AdminUser)})
	if err != nil {
		return Credentials{}, fmt.Errorf("creating an access key for %s: %w", AdminUser, err)
	}
	creds := Credentials{AccessKeyID: aws.ToString(key.AccessKey.AccessKeyId), SecretAccessKey: aws.ToString(key.AccessKey.SecretAccessKey)}

	stsc := sts.New(sts.Options{
		BaseEndpoint: aws.String(f.cfg.MotoURL),
		Region:       f.cfg.Region,
		Credentials: aws.NewCredentialsCache(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey}, nil
		})),
		HTTPClient: &http.Client{Transport: f.transport, Timeout: 30 * time.Second},
	})
	id, err := stsc.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return Credentials{}, fmt.Errorf("checking the new keys of %s with sts:GetCallerIdentity: %w", AdminUser, err)
	}
	creds.AccountID = aws.ToString(id.Account)

	f.mu.Lock()
	f.admin = creds
	f.mu.Unlock()
	return creds, nil
}
