package awsfront

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// moto keeps AWS accounts apart by access key: a key belongs to the account whose IAM holds it, and a key it
// does not know acts in the default account. The front reads and writes any account directly by naming it
// in the x-moto-account-id header, which moto honours before the key; clients never get to set that header.

// motoAccountHeader selects the account of a request to moto.
const motoAccountHeader = "x-moto-account-id"

// accountClients holds the front's own IAM clients per account, created on first use.
type accountClients struct {
	mu  sync.Mutex
	iam map[string]*iam.Client
}

// iamIn is the front's IAM client for account: straight to moto, uncounted, unfaulted, whatever keys exist.
func (f *Front) iamIn(account string) *iam.Client {
	if account == "" {
		account = f.accountID()
	}
	f.accounts.mu.Lock()
	defer f.accounts.mu.Unlock()
	if c, ok := f.accounts.iam[account]; ok {
		return c
	}
	if f.accounts.iam == nil {
		f.accounts.iam = map[string]*iam.Client{}
	}
	c := iam.New(iam.Options{
		BaseEndpoint: aws.String(f.cfg.MotoURL),
		Region:       "us-east-1",
		// moto checks no signatures and routes by the signing name; the header, not these keys, picks the account.
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "sandbox-front", SecretAccessKey: "sandbox-front", Source: "sandbox-front"}, nil
		}),
		HTTPClient: f.motoHTTPClient(),
		APIOptions: []func(*middleware.Stack) error{smithyhttp.AddHeaderValue(motoAccountHeader, account)},
	})
	f.accounts.iam[account] = c
	return c
}

// IAMIn is an IAM client for account that goes straight to moto, uncounted and unfaulted: for setting up
// the sandbox, never for what the plugin or tests do (they go through the front).
func (f *Front) IAMIn(account string) *iam.Client { return f.iamIn(account) }

// CreateAdmin makes an IAM user with administrator rights and a fresh access key in account, directly in
// moto (not counted), and registers the key with the front. Calling it again for the same user replaces its
// keys. The account exists from then on: moto makes accounts as they are first used.
func (f *Front) CreateAdmin(ctx context.Context, account, userName string) (Credentials, error) {
	c := f.iamIn(account)
	_, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(userName)})
	var exists *iamtypes.EntityAlreadyExistsException
	if err != nil && !errors.As(err, &exists) {
		return Credentials{}, fmt.Errorf("creating IAM user %s in account %s in moto at %s: %w", userName, account, f.cfg.MotoURL, err)
	}
	if _, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{
		UserName: aws.String(userName), PolicyName: aws.String("AdministratorAccess"), PolicyDocument: aws.String(adminPolicy),
	}); err != nil {
		return Credentials{}, fmt.Errorf("granting %s administrator rights in account %s: %w", userName, account, err)
	}
	// IAM allows two keys per user; drop the old ones so repeated bootstraps keep working.
	old, err := c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(userName)})
	if err != nil {
		return Credentials{}, fmt.Errorf("listing the access keys of %s in account %s: %w", userName, account, err)
	}
	for _, k := range old.AccessKeyMetadata {
		if _, err := c.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String(userName), AccessKeyId: k.AccessKeyId}); err != nil {
			return Credentials{}, fmt.Errorf("deleting old access key %s of %s: %w", aws.ToString(k.AccessKeyId), userName, err)
		}
		f.forgetKey(aws.ToString(k.AccessKeyId))
	}
	key, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(userName)})
	if err != nil {
		return Credentials{}, fmt.Errorf("creating an access key for %s in account %s: %w", userName, account, err)
	}
	creds := Credentials{AccessKeyID: aws.ToString(key.AccessKey.AccessKeyId), SecretAccessKey: aws.ToString(key.AccessKey.SecretAccessKey)}

	// Ask STS who the key is, with the key itself: that proves moto files it under the account we meant.
	stsc := sts.New(sts.Options{
		BaseEndpoint: aws.String(f.cfg.MotoURL),
		Region:       f.cfg.Region,
		Credentials: aws.NewCredentialsCache(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey}, nil
		})),
		HTTPClient: f.motoHTTPClient(),
	})
	id, err := stsc.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return Credentials{}, fmt.Errorf("checking the new keys of %s with sts:GetCallerIdentity: %w", userName, err)
	}
	creds.AccountID = aws.ToString(id.Account)
	if creds.AccountID != account {
		return Credentials{}, fmt.Errorf("moto filed the new key of %s under account %s, not %s", userName, creds.AccountID, account)
	}
	f.rememberKey(creds.AccessKeyID, &principal{Account: account, ARN: aws.ToString(id.Arn), UserName: userName, Secret: creds.SecretAccessKey})
	f.markAdmin(aws.ToString(id.Arn))
	return creds, nil
}
