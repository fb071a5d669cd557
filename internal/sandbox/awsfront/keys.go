package awsfront

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
)

// AWS refuses a call whose access key it does not know before anything else happens; moto accepts any key
// and files unknown ones under its default account. The front therefore knows which keys are real: the
// admin keys it bootstraps, keys created with iam:CreateAccessKey, and the session credentials STS minted.
// A key it has not seen yet is looked up in moto (sts:GetCallerIdentity with that key, straight to moto):
// moto answers its placeholder identity for keys it does not hold. The signatures of API calls are not
// checked (those of Kubernetes tokens are: kubetoken.go).

// principal is who an access key belongs to, as far as the front needs to know.
type principal struct {
	Account  string
	ARN      string // the user's ARN, or the session's assumed-role ARN
	UserName string // IAM users
	Secret   string // the secret access key, when the front saw it issued (kube tokens are verified with it)
	// Role sessions: the role's name and ARN (with its path).
	RoleName, RoleARN string
	// Sessions minted through the front: the token that must come with the key, the expiry, and the session
	// policies AssumeRole was given (they narrow what the session may do).
	SessionToken   string
	Expires        time.Time
	SessionPolicy  *iampolicy.Policy
	SessionManaged []string // session policy ARNs (PolicyArns)
	Inactive       bool     // iam:UpdateAccessKey made the key Inactive
	// Tags are the session's tags (EKS Pod Identity's, or AssumeRole's Tags and inherited ones), seen as
	// aws:PrincipalTag/<key>; TransitiveKeys are those a role chain carries on to the next session.
	Tags           map[string]string
	TransitiveKeys []string
}

func (p *principal) isSession() bool { return p.RoleName != "" }

// keyRing is the front's record of access keys.
type keyRing struct {
	mu   sync.Mutex
	keys map[string]*principal
}

// rememberKey records who a key belongs to.
func (f *Front) rememberKey(id string, p *principal) {
	if id == "" || p == nil {
		return
	}
	f.keys.mu.Lock()
	defer f.keys.mu.Unlock()
	if f.keys.keys == nil {
		f.keys.keys = map[string]*principal{}
	}
	f.keys.keys[id] = p
}

// forgetKey drops a key, as iam:DeleteAccessKey does.
func (f *Front) forgetKey(id string) {
	f.keys.mu.Lock()
	defer f.keys.mu.Unlock()
	delete(f.keys.keys, id)
}

// setKeyInactive records iam:UpdateAccessKey's status.
func (f *Front) setKeyInactive(id string, inactive bool) {
	f.keys.mu.Lock()
	defer f.keys.mu.Unlock()
	if p, ok := f.keys.keys[id]; ok {
		q := *p
		q.Inactive = inactive
		f.keys.keys[id] = &q
	}
}

// forgetUserKeys drops every key of a deleted user.
func (f *Front) forgetUserKeys(account, user string) {
	f.keys.mu.Lock()
	defer f.keys.mu.Unlock()
	for id, p := range f.keys.keys {
		if p.Account == account && p.UserName == user && !p.isSession() {
			delete(f.keys.keys, id)
		}
	}
}

// principalOf says who key belongs to; nil when neither the front nor moto knows it.
func (f *Front) principalOf(ctx context.Context, key string) (*principal, error) {
	f.keys.mu.Lock()
	p, ok := f.keys.keys[key]
	f.keys.mu.Unlock()
	if ok {
		return p, nil
	}
	p, err := f.lookupKey(ctx, key)
	if err != nil || p == nil {
		return nil, err
	}
	f.rememberKey(key, p)
	return p, nil
}

// lookupKey asks moto who key belongs to.
func (f *Front) lookupKey(ctx context.Context, key string) (*principal, error) {
	stsc := sts.New(sts.Options{
		BaseEndpoint: aws.String(f.cfg.MotoURL),
		Region:       "us-east-1",
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: key, SecretAccessKey: "unchecked"}, nil
		}),
		HTTPClient:       f.motoHTTPClient(),
		RetryMaxAttempts: 1,
	})
	id, err := stsc.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return nil, fmt.Errorf("asking moto who access key %s belongs to: %w", key, err)
	}
	arn, account := aws.ToString(id.Arn), aws.ToString(id.Account)
	// moto's placeholder for keys it does not hold (moto/sts/models.py, get_caller_identity).
	if strings.Contains(arn, ":sts::") && strings.HasSuffix(arn, ":user/moto") {
		return nil, nil
	}
	p := &principal{Account: account, ARN: arn}
	_, res, _ := strings.Cut(arn, ":"+account+":")
	switch {
	case strings.HasPrefix(res, "user/"):
		p.UserName = res[strings.LastIndex(res, "/")+1:]
	case strings.HasPrefix(res, "assumed-role/"):
		parts := strings.Split(res, "/")
		if len(parts) >= 2 {
			p.RoleName = parts[1]
			p.RoleARN = "arn:aws:iam::" + account + ":role/" + p.RoleName
			if role, err := f.iamIn(account).GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(p.RoleName)}); err == nil && role.Role != nil {
				p.RoleARN = aws.ToString(role.Role.Arn)
			}
		}
	}
	return p, nil
}

// sessionToken is the token a request carries: the header, or the query of a presigned request.
func sessionToken(r *http.Request) string {
	if t := r.Header.Get("X-Amz-Security-Token"); t != "" {
		return t
	}
	return r.URL.Query().Get("X-Amz-Security-Token")
}

// authenticate refuses a signed call whose key AWS would not know, as the service would; unsigned calls
// pass (STS federation, public S3 objects). On success it records the caller in c.Caller.
func (f *Front) authenticate(r *http.Request, c *call) (awsError, bool) {
	if c.AccessKeyID == "" {
		return awsError{}, true
	}
	p, e, ok := f.checkKey(r.Context(), c.AccessKeyID, sessionToken(r), c.Service, r.Header.Get("X-Amz-Target") != "")
	if ok {
		c.Caller = p
	}
	return e, ok
}

// checkKey finds the principal of key and checks the session token that came with it; the error is in the
// words of service (jsonProtocol: an X-Amz-Target service).
func (f *Front) checkKey(ctx context.Context, key, token, service string, jsonProtocol bool) (*principal, awsError, bool) {
	p, err := f.principalOf(ctx, key)
	if err != nil {
		e := serverError(service)
		e.Message = fmt.Sprintf("sandbox could not tell whether access key %s is valid: its AWS backend (moto at %s) did not answer: %v; is the sandbox still running?", key, f.cfg.MotoURL, err)
		return nil, e, false
	}
	switch {
	case p == nil || p.Inactive:
		return nil, unknownKeyError(service, jsonProtocol), false
	case p.SessionToken != "" && token == "":
		// A session's key without its token is no key at all to AWS.
		return nil, unknownKeyError(service, jsonProtocol), false
	case p.SessionToken != "" && token != p.SessionToken:
		return nil, invalidSessionTokenError(service, jsonProtocol), false
	case !p.Expires.IsZero() && time.Now().After(p.Expires):
		return nil, expiredTokenError(service, jsonProtocol), false
	}
	return p, awsError{}, true
}

const invalidTokenMessage = "The security token included in the request is invalid."

// unknownKeyError is each service's answer to an access key it does not know.
func unknownKeyError(service string, jsonProtocol bool) awsError {
	switch {
	case service == "s3":
		return awsError{Status: http.StatusForbidden, Code: "InvalidAccessKeyId", Message: "The AWS Access Key Id you provided does not exist in our records.", Sender: true}
	case service == "eks":
		return awsError{Status: http.StatusForbidden, Code: "UnrecognizedClientException", Message: invalidTokenMessage, Sender: true}
	case jsonProtocol:
		return awsError{Status: http.StatusBadRequest, Code: "UnrecognizedClientException", Message: invalidTokenMessage, Sender: true}
	default:
		return awsError{Status: http.StatusForbidden, Code: "InvalidClientTokenId", Message: invalidTokenMessage, Sender: true}
	}
}

// invalidSessionTokenError answers a session key that came with another session's token.
func invalidSessionTokenError(service string, jsonProtocol bool) awsError {
	if service == "s3" {
		return awsError{Status: http.StatusBadRequest, Code: "InvalidToken", Message: "The provided token is malformed or otherwise invalid.", Sender: true}
	}
	return unknownKeyError(service, jsonProtocol)
}

// expiredTokenError answers a session key used after its expiry.
func expiredTokenError(service string, jsonProtocol bool) awsError {
	const msg = "The security token included in the request is expired"
	switch {
	case service == "s3":
		return awsError{Status: http.StatusBadRequest, Code: "ExpiredToken", Message: "The provided token has expired.", Sender: true}
	case service == "eks":
		return awsError{Status: http.StatusForbidden, Code: "ExpiredTokenException", Message: msg, Sender: true}
	case jsonProtocol:
		return awsError{Status: http.StatusBadRequest, Code: "ExpiredTokenException", Message: msg, Sender: true}
	default:
		return awsError{Status: http.StatusForbidden, Code: "ExpiredToken", Message: msg, Sender: true}
	}
}

// keyOps are the IAM operations that make, change or end access keys.
var keyOps = map[string]bool{"CreateAccessKey": true, "DeleteAccessKey": true, "UpdateAccessKey": true, "DeleteUser": true}

// serveKeyOp forwards one of keyOps and keeps the key ring in step with what moto did.
func (f *Front) serveKeyOp(w http.ResponseWriter, r *http.Request, c *call) {
	resp, body, err := f.fetch(r, c)
	if err != nil {
		f.motoUnreachable(w, r, c, err)
		return
	}
	if resp.StatusCode == http.StatusOK {
		account := f.accountID()
		if c.Caller != nil {
			account = c.Caller.Account
		}
		switch c.Action {
		case "CreateAccessKey":
			user := xmlText(body, "UserName")
			arn := "arn:aws:iam::" + account + ":user/" + user
			// The ARN carries the user's path, which only IAM knows.
			if u, err := f.iamIn(account).GetUser(r.Context(), &iam.GetUserInput{UserName: aws.String(user)}); err == nil && u.User != nil {
				arn = aws.ToString(u.User.Arn)
			}
			f.rememberKey(xmlText(body, "AccessKeyId"), &principal{Account: account, UserName: user, ARN: arn,
				Secret: xmlText(body, "SecretAccessKey"), Inactive: xmlText(body, "Status") == "Inactive"})
		case "DeleteAccessKey":
			f.forgetKey(c.Params.Get("AccessKeyId"))
		case "UpdateAccessKey":
			f.setKeyInactive(c.Params.Get("AccessKeyId"), strings.EqualFold(c.Params.Get("Status"), "Inactive"))
		case "DeleteUser":
			f.forgetUserKeys(account, c.Params.Get("UserName"))
			f.unmarkAdmin(account, c.Params.Get("UserName"))
		}
	}
	reply(w, resp, body)
}
