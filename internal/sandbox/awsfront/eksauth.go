package awsfront

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
)

// EKS Auth's AssumeRoleForPodIdentity is what the Pod Identity agent on a node calls with the pod's token.
// It trusts the cluster's own service-account keys (no IAM OIDC provider is involved), finds the pod's
// association and assumes its role as the service principal pods.eks.amazonaws.com, with six session tags.

// podIdentityTagKeys are the session tags EKS Pod Identity adds, in the order EKS documents them.
var podIdentityTagKeys = []string{"eks-cluster-arn", "eks-cluster-name", "kubernetes-namespace", "kubernetes-service-account", "kubernetes-pod-name", "kubernetes-pod-uid"}

// podIdentitySessionSeconds is how long the credentials EKS Auth hands out last.
const podIdentitySessionSeconds = 3600

// podTokenClaims are the claims EKS Auth reads from a projected service-account token.
type podTokenClaims struct {
	jwt.Claims
	Kubernetes struct {
		Namespace      string `json:"namespace"`
		ServiceAccount struct {
			Name string `json:"name"`
			UID  string `json:"uid"`
		} `json:"serviceaccount"`
		Pod struct {
			Name string `json:"name"`
			UID  string `json:"uid"`
		} `json:"pod"`
	} `json:"kubernetes.io"`
}

func invalidPodToken(msg string) awsError {
	return eksError(http.StatusBadRequest, "InvalidTokenException", msg)
}

// podIdentityDenied is EKS Auth's refusal when STS would not let it assume the role; the model gives
// AccessDeniedException HTTP 400.
func podIdentityDenied() awsError {
	return eksError(http.StatusBadRequest, "AccessDeniedException", "Unauthorized Exception! EKS does not have permissions to assume the associated role.")
}

// serveEKSAuth answers eks-auth:AssumeRoleForPodIdentity (POST /clusters/{name}/assume-role-for-pod-identity).
func (f *Front) serveEKSAuth(w http.ResponseWriter, r *http.Request, c *call) {
	segs := splitPath(r.URL.EscapedPath())
	if c.Action != "AssumeRoleForPodIdentity" || len(segs) != 3 {
		eksError(http.StatusNotFound, "UnknownOperationException", "The sandbox's EKS Auth knows only AssumeRoleForPodIdentity (POST /clusters/{clusterName}/assume-role-for-pod-identity).").write(w, r, c.Service)
		return
	}
	var in struct {
		Token string `json:"token"`
	}
	if err := readJSONBody(r, &in); err != nil {
		eksError(http.StatusBadRequest, "InvalidRequestException", "The request body is not valid JSON: "+err.Error()).write(w, r, c.Service)
		return
	}
	if in.Token == "" {
		eksError(http.StatusBadRequest, "InvalidParameterException", "token is required.").write(w, r, c.Service)
		return
	}
	info, ok := f.clusterOrError(w, r, c, segs[1])
	if !ok {
		return
	}
	out, e, ok := f.assumeRoleForPodIdentity(r.Context(), info, in.Token, time.Now())
	if !ok {
		e.write(w, r, c.Service)
		return
	}
	writeEKSJSON(w, out)
}

// assumeRoleForPodIdentity checks the token and the association as EKS Auth does, then has moto mint the
// role's credentials and remembers the session (with its tags) for S3's authorization.
func (f *Front) assumeRoleForPodIdentity(ctx context.Context, info eksClusterInfo, token string, now time.Time) (map[string]any, awsError, bool) {
	claims, e, ok := f.verifyPodToken(ctx, info, token, now)
	if !ok {
		return nil, e, false
	}
	k := claims.Kubernetes
	a, found := f.effectiveAssociation(info.Key, k.Namespace, k.ServiceAccount.Name)
	if !found {
		return nil, eksError(http.StatusNotFound, "ResourceNotFoundException",
			fmt.Sprintf("No Pod Identity Association found for service account %s in namespace %s of cluster %s.", k.ServiceAccount.Name, k.Namespace, info.Key.Name)), false
	}
	tags := map[string]string{}
	if !a.DisableSessionTags {
		tags = map[string]string{
			"eks-cluster-arn": info.ARN(), "eks-cluster-name": info.Key.Name,
			"kubernetes-namespace": k.Namespace, "kubernetes-service-account": k.ServiceAccount.Name,
			"kubernetes-pod-name": k.Pod.Name, "kubernetes-pod-uid": k.Pod.UID,
		}
	}
	if e, ok := f.checkPodIdentityTrust(ctx, info, a, tags); !ok {
		return nil, e, false
	}

	sessionName := podSessionName(info.Key.Name, k.Pod.Name)
	// EKS Pod Identity's session tags are all transitive (EKS user guide, pod-id-abac): a role the pod's
	// code assumes from this session carries them on.
	var transitive []string
	for _, key := range podIdentityTagKeys {
		if _, ok := tags[key]; ok {
			transitive = append(transitive, key)
		}
	}
	var sessionPolicy *iampolicy.Policy
	if a.Policy != "" {
		var err error
		if sessionPolicy, err = iampolicy.Parse([]byte(a.Policy)); err != nil {
			return nil, podIdentityDenied(), false
		}
	}
	first := &principal{Account: accountOf(a.RoleARN), RoleName: roleNameOf(a.RoleARN), RoleARN: a.RoleARN, Tags: tags, TransitiveKeys: transitive}
	if a.TargetRoleARN == "" {
		// The association's policy narrows the credentials the pods get: those of the role itself here.
		first.SessionPolicy = sessionPolicy
	}
	cred, user, e, ok := f.mintPodSession(ctx, info, first, sessionName, tags)
	if !ok {
		return nil, e, false
	}
	if a.TargetRoleARN != "" {
		if e, ok := f.checkTargetHop(ctx, a, first, sessionName, tags); !ok {
			return nil, e, false
		}
		target := &principal{Account: accountOf(a.TargetRoleARN), RoleName: roleNameOf(a.TargetRoleARN), RoleARN: a.TargetRoleARN,
			Tags: tags, TransitiveKeys: transitive, SessionPolicy: sessionPolicy}
		if cred, user, e, ok = f.mintPodSession(ctx, info, target, sessionName, tags); !ok {
			return nil, e, false
		}
	}
	return map[string]any{
		"subject":                map[string]string{"namespace": k.Namespace, "serviceAccount": k.ServiceAccount.Name},
		"audience":               PodIdentityService,
		"podIdentityAssociation": map[string]string{"associationArn": a.ARN, "associationId": a.ID},
		"assumedRoleUser":        map[string]string{"arn": aws.ToString(user.Arn), "assumeRoleId": aws.ToString(user.AssumedRoleId)},
		"credentials": map[string]any{
			"sessionToken": aws.ToString(cred.SessionToken), "secretAccessKey": aws.ToString(cred.SecretAccessKey),
			"accessKeyId": aws.ToString(cred.AccessKeyId), "expiration": epoch(aws.ToTime(cred.Expiration)),
		},
	}, awsError{}, true
}

// mintPodSession has moto mint credentials of p's role for EKS Auth, and records the session (p, filled
// in with the keys and its ARN) for the authorization of the calls made with them.
func (f *Front) mintPodSession(ctx context.Context, info eksClusterInfo, p *principal, sessionName string, tags map[string]string) (*ststypes.Credentials, *ststypes.AssumedRoleUser, awsError, bool) {
	in := &sts.AssumeRoleInput{RoleArn: aws.String(p.RoleARN), RoleSessionName: aws.String(sessionName), DurationSeconds: aws.Int32(podIdentitySessionSeconds)}
	for _, key := range podIdentityTagKeys {
		if v, ok := tags[key]; ok {
			in.Tags = append(in.Tags, ststypes.Tag{Key: aws.String(key), Value: aws.String(v)})
		}
	}
	res, err := f.motoSTS(info.Key.Region).AssumeRole(ctx, in)
	if err != nil {
		e := serverError("eks-auth")
		e.Message = fmt.Sprintf("sandbox could not assume role %s in moto: %v", p.RoleARN, err)
		return nil, nil, e, false
	}
	cred, user := res.Credentials, res.AssumedRoleUser
	p.ARN, p.Secret, p.SessionToken, p.Expires = aws.ToString(user.Arn), aws.ToString(cred.SecretAccessKey), aws.ToString(cred.SessionToken), aws.ToTime(cred.Expiration)
	f.mu.Lock()
	f.sessions[aws.ToString(cred.AccessKeyId)] = session{
		RoleName: p.RoleName, RoleARN: p.RoleARN, AssumedRoleARN: p.ARN, Tags: p.Tags, TransitiveKeys: p.TransitiveKeys,
	}
	f.mu.Unlock()
	f.rememberKey(aws.ToString(cred.AccessKeyId), p)
	return cred, user, awsError{}, true
}

// targetDenied is EKS Auth's refusal when STS would not let the association's role assume its target role.
func targetDenied() awsError {
	return eksError(http.StatusBadRequest, "AccessDeniedException", "Unauthorized Exception! EKS does not have permissions to assume the target role with the associated role.")
}

// checkTargetHop decides the second hop of an association with a target role as STS decides an AssumeRole
// of the first role's session (the caller): the target's trust must admit it and, the target being in
// another account or trusting only the account, the first role's own permissions must allow it too;
// sts:AssumeRole, and sts:TagSession with the session tags (aws:RequestTag/<key>, aws:TagKeys); with
// session tags disabled EKS passes the association's external ID as sts:ExternalId instead.
func (f *Front) checkTargetHop(ctx context.Context, a association, caller *principal, sessionName string, tags map[string]string) (awsError, bool) {
	account := accountOf(a.TargetRoleARN)
	trust, e, ok := f.roleTrust(ctx, f.iamIn(account), a.TargetRoleARN, "target role "+a.TargetRoleARN, targetDenied)
	if !ok {
		return e, false
	}
	keys := map[string][]string{
		"aws:PrincipalArn":     {caller.RoleARN},
		"aws:PrincipalAccount": {caller.Account},
		"aws:PrincipalType":    {"AssumedRole"},
		"sts:RoleSessionName":  {sessionName},
	}
	for k, v := range caller.Tags {
		keys["aws:PrincipalTag/"+k] = []string{v}
	}
	actions := []string{"sts:AssumeRole"}
	if len(tags) > 0 {
		var tagKeys []string
		for _, k := range podIdentityTagKeys {
			keys["aws:RequestTag/"+k] = []string{tags[k]}
			tagKeys = append(tagKeys, k)
		}
		keys["aws:TagKeys"] = tagKeys
		actions = append(actions, "sts:TagSession")
	} else if a.ExternalID != "" {
		keys["sts:ExternalId"] = []string{a.ExternalID}
	}
	perms, err := f.permissionsOf(ctx, caller)
	if err != nil {
		e := serverError("eks-auth")
		e.Message = fmt.Sprintf("sandbox could not read the policies of role %s: %v", caller.RoleARN, err)
		return e, false
	}
	for _, act := range actions {
		if !admits(trust, perms, caller, account, iampolicy.Request{
			Principal: &iampolicy.RequestPrincipal{Type: "AWS", ID: caller.ARN},
			Action:    act, Resource: a.TargetRoleARN, Context: keys,
		}) {
			return targetDenied(), false
		}
	}
	return awsError{}, true
}

// podSessionName is the role session name EKS Auth uses: eks-<cluster>-<pod>-<random id>, cut to STS's
// 64 characters.
func podSessionName(cluster, pod string) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	s := hex.EncodeToString(b[:])
	name := "eks-" + cluster + "-" + pod
	if max := 64 - 1 - 36; len(name) > max {
		name = name[:max]
	}
	return name + "-" + s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:32]
}

// verifyPodToken checks a pod's token as EKS Auth does: a JWT signed by one of the cluster's
// service-account keys, issued by the cluster, for the audience pods.eks.amazonaws.com, valid now, and
// bound to a pod.
func (f *Front) verifyPodToken(ctx context.Context, info eksClusterInfo, token string, now time.Time) (podTokenClaims, awsError, bool) {
	var claims podTokenClaims
	tok, err := jwt.ParseSigned(token, tokenAlgorithms)
	if err != nil {
		return claims, invalidPodToken("The service account token is not a valid JWT."), false
	}
	if info.Sandbox == nil {
		return claims, invalidPodToken("The service account token could not be verified: cluster " + info.Key.Name + " has no service-account signing keys the sandbox can reach (only the sandbox's own clusters have)."), false
	}
	keys, err := f.clusterKeys(ctx, info.Sandbox, false)
	if err != nil {
		e := serverError("eks-auth")
		e.Message = fmt.Sprintf("sandbox could not read the service-account keys of cluster %s: %v", info.Key.Name, err)
		return claims, e, false
	}
	verified := false
	for attempt := 0; attempt < 2 && !verified; attempt++ {
		if attempt > 0 {
			// A kid the cached set lacks may be a rotated key: look once more, fresh.
			if keys, err = f.clusterKeys(ctx, info.Sandbox, true); err != nil {
				break
			}
		}
		candidates := keys.Keys
		if len(tok.Headers) > 0 && tok.Headers[0].KeyID != "" {
			candidates = keys.Key(tok.Headers[0].KeyID)
		}
		for _, k := range candidates {
			if err := tok.Claims(k.Key, &claims); err == nil {
				verified = true
				break
			}
		}
		if len(candidates) > 0 {
			break // the key is known and the signature does not match it
		}
	}
	if !verified {
		return claims, invalidPodToken("The service account token's signature does not verify with the keys of cluster " + info.Key.Name + "."), false
	}
	switch {
	case claims.Issuer != info.Sandbox.Issuer:
		return claims, invalidPodToken(fmt.Sprintf("The service account token was issued by %q, not by cluster %s (%s).", claims.Issuer, info.Key.Name, info.Sandbox.Issuer)), false
	case !claims.Audience.Contains(PodIdentityService):
		return claims, invalidPodToken(fmt.Sprintf("The service account token's audience %v is not %s.", []string(claims.Audience), PodIdentityService)), false
	case claims.Expiry != nil && !now.Before(claims.Expiry.Time()):
		return claims, eksError(http.StatusBadRequest, "ExpiredTokenException",
			fmt.Sprintf("The service account token expired at %s (now %s).", claims.Expiry.Time().UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))), false
	case claims.Expiry == nil:
		return claims, invalidPodToken("The service account token has no exp claim."), false
	case claims.NotBefore != nil && now.Before(claims.NotBefore.Time()):
		return claims, invalidPodToken(fmt.Sprintf("The service account token is not valid before %s.", claims.NotBefore.Time().UTC().Format(time.RFC3339))), false
	}
	k := claims.Kubernetes
	switch {
	case k.Namespace == "" || k.ServiceAccount.Name == "":
		return claims, invalidPodToken("The service account token has no kubernetes.io namespace and serviceaccount claims."), false
	case claims.Subject != "system:serviceaccount:"+k.Namespace+":"+k.ServiceAccount.Name:
		return claims, invalidPodToken("The service account token's sub does not match its kubernetes.io claims."), false
	case k.Pod.Name == "" || k.Pod.UID == "":
		return claims, invalidPodToken("The service account token is not bound to a pod (no kubernetes.io pod claim); EKS Pod Identity needs the pod's projected token."), false
	}
	return claims, awsError{}, true
}

// roleTrust reads the trust policy of the role EKS Auth assumes (what names it in a failure to read IAM);
// a role IAM does not show, or whose trust does not parse, is EKS Auth's refusal denied.
func (f *Front) roleTrust(ctx context.Context, client *iam.Client, roleARN, what string, denied func() awsError) (*iampolicy.Policy, awsError, bool) {
	role, err := f.visibleRole(ctx, client, roleARN)
	switch {
	case err != nil:
		e := serverError("eks-auth")
		e.Message = fmt.Sprintf("sandbox could not read %s from IAM: %v", what, err)
		return nil, e, false
	case role == nil:
		return nil, denied(), false
	}
	trust, err := iampolicy.Parse([]byte(aws.ToString(role.AssumeRolePolicyDocument)))
	if err != nil {
		return nil, denied(), false
	}
	return trust, awsError{}, true
}

// checkPodIdentityTrust evaluates the role's trust policy as STS does for EKS Auth: the service principal
// pods.eks.amazonaws.com must be allowed sts:AssumeRole and, when the session is tagged, sts:TagSession,
// with the tags as aws:RequestTag/<key> and aws:TagKeys.
func (f *Front) checkPodIdentityTrust(ctx context.Context, info eksClusterInfo, a association, tags map[string]string) (awsError, bool) {
	name := roleNameOf(a.RoleARN)
	if name == "" {
		return podIdentityDenied(), false
	}
	trust, e, ok := f.roleTrust(ctx, f.iam, a.RoleARN, "role "+name, podIdentityDenied)
	if !ok {
		return e, false
	}
	keys := map[string][]string{
		"aws:SourceAccount": {info.Account},
		"aws:SourceArn":     {info.ARN()},
	}
	if len(tags) > 0 {
		var tagKeys []string
		for _, k := range podIdentityTagKeys {
			keys["aws:RequestTag/"+k] = []string{tags[k]}
			tagKeys = append(tagKeys, k)
		}
		keys["aws:TagKeys"] = tagKeys
	}
	actions := []string{"sts:AssumeRole"}
	if len(tags) > 0 {
		actions = append(actions, "sts:TagSession")
	}
	for _, act := range actions {
		d := iampolicy.Evaluate(iampolicy.Request{
			Principal: &iampolicy.RequestPrincipal{Type: "Service", ID: PodIdentityService},
			Action:    act, Resource: a.RoleARN, Context: keys,
		}, trust)
		if !d.Allowed() {
			return podIdentityDenied(), false
		}
	}
	return awsError{}, true
}

// motoSTS is an STS client straight to moto with the admin's keys; its calls are not counted.
func (f *Front) motoSTS(region string) *sts.Client {
	return sts.New(sts.Options{
		BaseEndpoint:     aws.String(f.cfg.MotoURL),
		Region:           region,
		Credentials:      f.adminCredentials(),
		HTTPClient:       f.motoHTTPClient(),
		RetryMaxAttempts: 1,
	})
}

// clusterKeySets caches each sandbox cluster's service-account keys, by issuer.
type clusterKeySets struct {
	mu   sync.Mutex
	sets map[string]jwksEntry
}

// clusterKeys returns the cluster's service-account keys, read from its apiserver's JWKS endpoint over TLS
// trusted by the cluster's own CA, as EKS reads its own control plane's keys.
func (f *Front) clusterKeys(ctx context.Context, cl *EKSCluster, refresh bool) (*jose.JSONWebKeySet, error) {
	f.clusterJWKS.mu.Lock()
	e, ok := f.clusterJWKS.sets[cl.Issuer]
	f.clusterJWKS.mu.Unlock()
	if ok && !refresh && time.Since(e.fetched) < jwksTTL {
		return e.set, nil
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(cl.CAData) {
		return nil, fmt.Errorf("the CA of cluster %s holds no PEM certificate", cl.Name)
	}
	client := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{Proxy: nil, TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, DisableKeepAlives: true},
	}
	set, err := discoverJWKS(cl.Issuer, func(u string, v any) error { return getJSON(ctx, client, u, v) })
	if err != nil {
		return nil, err
	}
	f.clusterJWKS.mu.Lock()
	if f.clusterJWKS.sets == nil {
		f.clusterJWKS.sets = map[string]jwksEntry{}
	}
	f.clusterJWKS.sets[cl.Issuer] = jwksEntry{set: set, fetched: time.Now()}
	f.clusterJWKS.mu.Unlock()
	return set, nil
}
