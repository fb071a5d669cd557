package vocab

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
)

// Subject is the token subject Kubernetes gives a ServiceAccount: system:serviceaccount:<namespace>:<name>.
func Subject(namespace, serviceAccount string) string {
	return subjectPrefix + namespace + ":" + serviceAccount
}

const subjectPrefix = "system:serviceaccount:"

// ParseSubject splits a ServiceAccount token subject; ok is false for anything else.
func ParseSubject(s string) (namespace, serviceAccount string, ok bool) {
	rest, found := strings.CutPrefix(s, subjectPrefix)
	if !found {
		return "", "", false
	}
	ns, sa, found := strings.Cut(rest, ":")
	if !found || ns == "" || sa == "" || strings.Contains(sa, ":") {
		return "", "", false
	}
	return ns, sa, true
}

// IssuerHostPath is an OIDC issuer without its https:// scheme and trailing slash: the form IAM uses in
// OIDC provider ARNs and in the condition keys <issuer>:sub and <issuer>:aud.
func IssuerHostPath(issuer string) string {
	return strings.TrimSuffix(strings.TrimPrefix(issuer, "https://"), "/")
}

// ProviderARN is the ARN of the IAM OIDC provider for issuer.
func ProviderARN(partition, account, issuer string) string {
	return fmt.Sprintf("arn:%s:iam::%s:oidc-provider/%s", partition, account, IssuerHostPath(issuer))
}

// ParseProviderARN returns the account and issuer host/path of an OIDC provider ARN; ok is false when a is
// an IAM ARN of another kind (account is then still set) or no IAM ARN at all.
func ParseProviderARN(a string) (account, hostPath string, ok bool) {
	parts := strings.SplitN(a, ":", 6)
	if len(parts) < 6 || parts[0] != "arn" || parts[2] != "iam" {
		return "", "", false
	}
	h, found := strings.CutPrefix(parts[5], "oidc-provider/")
	if !found || h == "" {
		return parts[4], "", false
	}
	return parts[4], h, true
}

// RoleARN is the ARN of the role name (path "/") in an account.
func RoleARN(partition, account, name string) string {
	return fmt.Sprintf("arn:%s:iam::%s:role/%s", partition, account, name)
}

// PolicyARN is the ARN of the customer managed policy name (path "/") in an account.
func PolicyARN(partition, account, name string) string {
	return fmt.Sprintf("arn:%s:iam::%s:policy/%s", partition, account, name)
}

// roleARNRE is a well-formed role ARN: partition, 12-digit account, optional path, name in IAM's charset.
var roleARNRE = regexp.MustCompile(`^arn:(aws|aws-cn|aws-us-gov):iam::(\d{12}):role/((?:[\w+=,.@-]+/)*)([\w+=,.@-]{1,64})$`)

// ParsedRoleARN is a role ARN taken apart.
type ParsedRoleARN struct {
	Partition, Account string
	// Path is "/" or "/a/b/"; Name is the role's name.
	Path, Name string
}

// ParseRoleARN splits a role ARN; ok is false when s is not a well-formed one.
func ParseRoleARN(s string) (ParsedRoleARN, bool) {
	m := roleARNRE.FindStringSubmatch(s)
	if m == nil {
		return ParsedRoleARN{}, false
	}
	return ParsedRoleARN{Partition: m[1], Account: m[2], Path: "/" + m[3], Name: m[4]}, true
}

// RoleNameOf is the name in a role ARN, "" when s is not a well-formed role ARN.
func RoleNameOf(s string) string {
	p, _ := ParseRoleARN(s)
	return p.Name
}

// DefaultName is sdc-<cluster>-<namespace>-<serviceaccount>, shortened to limit with a stable hash of the
// full name so that two long names never collide and the same input always gives the same name.
func DefaultName(cluster, namespace, serviceAccount string, limit int) string {
	return Shorten(fmt.Sprintf("sdc-%s-%s-%s", cluster, namespace, serviceAccount), limit)
}

// Shorten returns name when it fits in limit, else its first characters and 8 hex digits of its SHA-256.
func Shorten(name string, limit int) string {
	if len(name) <= limit {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	return strings.TrimRight(name[:limit-9], "-.") + "-" + hex.EncodeToString(sum[:])[:8]
}

// SanitizeName makes s usable inside IAM role and policy names (letters, digits and +=,.@_-): every other
// character becomes '-'.
func SanitizeName(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			return r
		case strings.ContainsRune("+=,.@_-", r):
			return r
		}
		return '-'
	}, s)
}

// Thumbprint is what IAM calls an OIDC provider's thumbprint: the SHA-1, in hex, of the last (top)
// certificate of the chain the issuer's host presents (what eksctl sends). chain is in the order served.
func Thumbprint(chain []*x509.Certificate) (string, error) {
	if len(chain) == 0 {
		return "", fmt.Errorf("no certificate to take a thumbprint of")
	}
	sum := sha1.Sum(chain[len(chain)-1].Raw)
	return hex.EncodeToString(sum[:]), nil
}

// eksIssuerRE is an EKS cluster's issuer host/path: oidc.eks.<region>.amazonaws.com[.cn]/id/<ID>.
var eksIssuerRE = regexp.MustCompile(`^oidc\.eks\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/id/([0-9A-Za-z]+)$`)

// ParseEKSIssuer returns the region and cluster ID of an EKS issuer (with or without https://); ok is false
// for any other issuer.
func ParseEKSIssuer(issuer string) (region, id string, ok bool) {
	m := eksIssuerRE.FindStringSubmatch(IssuerHostPath(issuer))
	if m == nil {
		return "", "", false
	}
	return m[1], m[2], true
}
