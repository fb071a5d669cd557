package awsfront

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
)

// tokenAlgorithms are the signature algorithms STS accepts for OIDC tokens.
var tokenAlgorithms = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512, jose.ES256, jose.ES384, jose.ES512,
}

// tokenClaims are the claims STS reads from a web identity token.
type tokenClaims struct {
	jwt.Claims
	AMR jwtStrings `json:"amr,omitempty"`
}

// jwtStrings is a claim that may be one string or a list of strings.
type jwtStrings []string

func (s *jwtStrings) UnmarshalJSON(b []byte) error {
	var a jwt.Audience // the same string-or-list shape
	if err := a.UnmarshalJSON(b); err != nil {
		return err
	}
	*s = jwtStrings(a)
	return nil
}

func invalidToken(msg string) awsError {
	return awsError{Status: http.StatusBadRequest, Code: "InvalidIdentityToken", Message: msg, Sender: true}
}

func notAuthorized() awsError {
	return awsError{Status: http.StatusForbidden, Code: "AccessDenied", Message: "Not authorized to perform sts:AssumeRoleWithWebIdentity", Sender: true}
}

// assumeRoleWithWebIdentity checks the call as STS does, in STS's order, and only then lets moto mint the
// credentials; it remembers which role the new access key belongs to.
func (f *Front) assumeRoleWithWebIdentity(w http.ResponseWriter, r *http.Request, c *call) {
	roleARN := c.Params.Get("RoleArn")
	if e, ok := f.checkWebIdentity(r.Context(), roleARN, c.Params.Get("WebIdentityToken"), time.Now()); !ok {
		e.write(w, r, c.Service)
		return
	}
	resp, body, err := f.fetch(r, c)
	if err != nil {
		f.motoUnreachable(w, r, c, err)
		return
	}
	if resp.StatusCode == http.StatusOK {
		f.rememberSession(body, roleARN)
	}
	reply(w, resp, body)
}

// rememberSession records the access key of credentials STS minted for a role.
func (f *Front) rememberSession(body []byte, roleARN string) {
	key := xmlText(body, "AccessKeyId")
	if key == "" {
		return
	}
	f.mu.Lock()
	f.sessions[key] = session{RoleName: roleNameOf(roleARN), RoleARN: roleARN, AssumedRoleARN: xmlText(body, "Arn")}
	f.mu.Unlock()
	f.rememberKey(key, sessionPrincipal(body, roleARN))
}

// roleNameOf is the name in a role ARN (arn:aws:iam::acct:role/path/name).
func roleNameOf(arn string) string {
	_, res, ok := strings.Cut(arn, ":role/")
	if !ok {
		return ""
	}
	return res[strings.LastIndex(res, "/")+1:]
}

// visibleRole reads with client the role roleARN names, as IAM shows it now: nil when IAM would not show
// it (inside the consistency window after its creation, or no such role; a role of the same name under
// another path is another role). err is a failure to ask.
func (f *Front) visibleRole(ctx context.Context, client *iam.Client, roleARN string) (*iamtypes.Role, error) {
	name := roleNameOf(roleARN)
	if f.hidden(roleKey(name)) {
		return nil, nil
	}
	out, err := client.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)})
	var nse *iamtypes.NoSuchEntityException
	switch {
	case errors.As(err, &nse):
		return nil, nil
	case err != nil:
		return nil, err
	case out.Role == nil || aws.ToString(out.Role.Arn) != roleARN:
		return nil, nil
	}
	return out.Role, nil
}

// accountOf is the account of an ARN, or "".
func accountOf(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 {
		return ""
	}
	return parts[4]
}

// checkWebIdentity applies STS's checks to a web identity token for a role.
func (f *Front) checkWebIdentity(ctx context.Context, roleARN, token string, now time.Time) (awsError, bool) {
	// 1. The token must be a JWT.
	tok, err := jwt.ParseSigned(token, tokenAlgorithms)
	if err != nil {
		return invalidToken("The ID Token provided is not a valid JWT. (You may see this error if you sent an Access Token)"), false
	}
	var claims tokenClaims
	if err := tok.UnsafeClaimsWithoutVerification(&claims); err != nil {
		return invalidToken("The ID Token provided is not a valid JWT. (You may see this error if you sent an Access Token)"), false
	}
	if claims.Issuer == "" {
		return invalidToken("Missing a required claim: iss"), false
	}
	if len(claims.Audience) == 0 {
		return invalidToken("Missing a required claim: aud"), false
	}

	// 2. The issuer must have an IAM OIDC provider in the role's account.
	account := accountOf(roleARN)
	if account == "" {
		account = f.accountID()
	}
	providerURL := strings.TrimSuffix(strings.TrimPrefix(claims.Issuer, "https://"), "/")
	providerARN := "arn:aws:iam::" + account + ":oidc-provider/" + providerURL
	noProvider := invalidToken("No OpenIDConnect provider found in your account for " + claims.Issuer)
	if !strings.HasPrefix(claims.Issuer, "https://") || f.hidden(oidcKey(providerARN)) {
		return noProvider, false
	}
	provider, err := f.iamIn(account).GetOpenIDConnectProvider(ctx, &iam.GetOpenIDConnectProviderInput{OpenIDConnectProviderArn: aws.String(providerARN)})
	if err != nil {
		var nse *iamtypes.NoSuchEntityException
		if errors.As(err, &nse) {
			return noProvider, false
		}
		return serverError("sts"), false
	}

	// 3. One of the token's audiences must be a client ID of the provider.
	var audiences []string
	for _, a := range claims.Audience {
		if slices.Contains(provider.ClientIDList, a) {
			audiences = append(audiences, a)
		}
	}
	if len(audiences) == 0 {
		return invalidToken("Incorrect token audience"), false
	}

	// 4. The signature must verify against the issuer's keys, fetched over TLS trusted by thumbprint.
	if e, ok := f.verifySignature(ctx, tok, claims.Issuer, provider.ThumbprintList); !ok {
		return e, false
	}

	// 5. The token must be valid now.
	if claims.Expiry != nil && !now.Before(claims.Expiry.Time()) {
		return awsError{Status: http.StatusBadRequest, Code: "ExpiredTokenException", Sender: true,
			Message: fmt.Sprintf("Token expired: current date/time %d must be before the expiration date/time %d", now.Unix(), claims.Expiry.Time().Unix())}, false
	}
	if claims.NotBefore != nil && now.Before(claims.NotBefore.Time()) {
		return awsError{Status: http.StatusBadRequest, Code: "ExpiredTokenException", Sender: true,
			Message: fmt.Sprintf("Token not yet valid: current date/time %d must be after the not-before date/time %d", now.Unix(), claims.NotBefore.Time().Unix())}, false
	}

	// 6. The role must exist and trust the provider for this subject and audience.
	if roleNameOf(roleARN) == "" {
		return notAuthorized(), false
	}
	role, err := f.visibleRole(ctx, f.iamIn(account), roleARN)
	switch {
	case err != nil:
		return serverError("sts"), false
	case role == nil:
		return notAuthorized(), false
	}
	trust, err := iampolicy.Parse([]byte(aws.ToString(role.AssumeRolePolicyDocument)))
	if err != nil {
		return notAuthorized(), false
	}
	keys := map[string][]string{
		providerURL + ":sub":    {claims.Subject},
		providerURL + ":aud":    audiences,
		"aws:FederatedProvider": {providerARN},
	}
	if len(claims.AMR) > 0 {
		keys[providerURL+":amr"] = claims.AMR
	}
	d := iampolicy.Evaluate(iampolicy.Request{
		Principal: &iampolicy.RequestPrincipal{Type: "Federated", ID: providerARN},
		Action:    "sts:AssumeRoleWithWebIdentity",
		Resource:  roleARN,
		Context:   keys,
	}, trust)
	if !d.Allowed() {
		return notAuthorized(), false
	}
	return awsError{}, true
}

// verifySignature checks the token's signature with the issuer's JWKS.
func (f *Front) verifySignature(ctx context.Context, tok *jwt.JSONWebToken, issuer string, thumbprints []string) (awsError, bool) {
	kid := ""
	if len(tok.Headers) > 0 {
		kid = tok.Headers[0].KeyID
	}
	for attempt := 0; attempt < 2; attempt++ {
		// A kid the cached set lacks may be a rotated key: look once more, fresh.
		set, err := f.jwks.keys(ctx, issuer, thumbprints, attempt > 0)
		if err != nil {
			if errors.Is(err, errThumbprint) {
				return invalidToken("OpenIDConnect provider's HTTPS certificate doesn't match configured thumbprint"), false
			}
			return invalidToken("Couldn't retrieve verification key from your identity provider,  please reference AssumeRoleWithWebIdentity documentation for requirements"), false
		}
		keys := set.Keys
		if kid != "" {
			keys = set.Key(kid)
		}
		for _, k := range keys {
			var out jwt.Claims
			if err := tok.Claims(k.Key, &out); err == nil {
				return awsError{}, true
			}
		}
		if len(keys) > 0 {
			break // the key is known and the signature does not match it
		}
	}
	return invalidToken("Signature verification failed for the web identity token"), false
}
