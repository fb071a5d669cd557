package vocab

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
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
// The path is IAM's: "/" alone or printable ASCII between slashes.
var roleARNRE = regexp.MustCompile(`^arn:(aws|aws-cn|aws-us-gov):iam::(\d{12}):role(/(?:[\x21-\x7E]*/)?)([\w+=,.@-]{1,64})$`)

// ParsedRoleARN is a role ARN taken apart.
type ParsedRoleARN struct {
	Partition, Account string
	// Path is "/" or "/a/b/"; Name is the role's name.
	Path, Name string
}

// parsedRoleARNs remembers ParseRoleARN's answers: doctor -A asks about the same few thousand ARNs for
// each of tens of thousands of targets, and the expression costs microseconds a time.
var parsedRoleARNs struct {
	sync.Map
	n atomic.Int64
}

// ParseRoleARN splits a role ARN; ok is false when s is not a well-formed one.
func ParseRoleARN(s string) (ParsedRoleARN, bool) {
	if v, ok := parsedRoleARNs.Load(s); ok {
		p := v.(*ParsedRoleARN)
		return *p, p.Name != ""
	}
	var p ParsedRoleARN
	if m := roleARNRE.FindStringSubmatch(s); m != nil {
		p = ParsedRoleARN{Partition: m[1], Account: m[2], Path: m[3], Name: m[4]}
	}
	if parsedRoleARNs.n.Add(1) <= 1<<16 {
		parsedRoleARNs.Store(s, &p)
	}
	return p, p.Name != ""
}

// RoleNameOf is the name in a role ARN, "" when s is not a well-formed role ARN.
func RoleNameOf(s string) string {
	p, _ := ParseRoleARN(s)
	return p.Name
}

// DefaultName is the name bind gives a binding's role, and the policy it makes for it:
// sdc-<cluster>.<region>+<namespace>+<serviceaccount>, shortened to limit with Shorten. It is one-to-one in
// (cluster, region, namespace, ServiceAccount), which within an account is one-to-one in (cluster ARN,
// namespace, ServiceAccount): '+' occurs in neither a namespace nor a ServiceAccount name and '.' not in a
// region, so the parts read back unambiguously from the right. (Earlier versions wrote
// sdc-<cluster>-<namespace>-<serviceaccount>, which gave a-b/c and a/b-c the same role, and two clusters
// of one name in two regions the same roles; bind still finds those roles through the annotation.)
func DefaultName(cluster, region, namespace, serviceAccount string, limit int) string {
	return Shorten(fmt.Sprintf("sdc-%s.%s+%s+%s", cluster, region, namespace, serviceAccount), limit)
}

// ClusterKey is what identifies a cluster across regions and accounts: its ARN, or its issuer when it has
// none (a cluster that is not EKS).
func ClusterKey(arn, issuer string) string {
	if arn != "" {
		return arn
	}
	return issuer
}

// BindingID identifies a binding (a cluster, a namespace and a ServiceAccount) in 8 hex digits: the key of
// the statements a shared policy holds for it. cluster is the cluster's ARN, or its issuer when it has no
// ARN.
func BindingID(cluster, namespace, serviceAccount string) string {
	sum := sha256.Sum256([]byte(cluster + "\n" + namespace + "\n" + serviceAccount))
	return hex.EncodeToString(sum[:])[:8]
}

// bindingSidRE reads a Sid written by BindingSid.
var bindingSidRE = regexp.MustCompile(`^([A-Za-z0-9]*)For((?:B[0-9a-f]{8})+)$`)

// BindingSid is the Sid of a policy statement kubectl-sdc keeps for the bindings ids (BindingID values):
// <base>For<B><id>..., e.g. S3BucketForB1a2b3c4dB5e6f7a8b. base is the statement's own Sid (letters and
// digits, as IAM requires), ids are sorted and kept once.
func BindingSid(base string, ids []string) string {
	sorted := slices.Clone(ids)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	var b strings.Builder
	b.WriteString(base)
	b.WriteString("For")
	for _, id := range sorted {
		b.WriteString("B" + id)
	}
	return b.String()
}

// ParseBindingSid splits a Sid written by BindingSid; ok is false for any other Sid.
func ParseBindingSid(sid string) (base string, ids []string, ok bool) {
	m := bindingSidRE.FindStringSubmatch(sid)
	if m == nil {
		return "", nil, false
	}
	for i := 0; i < len(m[2]); i += 9 {
		ids = append(ids, m[2][i+1:i+9])
	}
	return m[1], ids, true
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
