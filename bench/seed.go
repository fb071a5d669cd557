package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/bind"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/catalog"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// clusterSize is a seeded cluster: annotated ServiceAccounts (each with a Deployment and its pod), the
// namespaces they are spread over and the IAM roles they share.
type clusterSize struct {
	SAs, Namespaces, Roles int
}

func (c clusterSize) String() string {
	return fmt.Sprintf("%d SAs/%d ns/%d roles", c.SAs, c.Namespaces, c.Roles)
}

// seedLabel marks every seeded Deployment and pod.
const seedLabel = "sdc-bench/seed"

// seeder grows one cluster through the sizes in order: each size keeps the objects of the smaller ones, so
// the cluster is seeded once. ServiceAccount i is placed by the first size that holds it (namespace
// i mod its Namespaces, role i mod its Roles), so every size has exactly its namespaces and roles.
type seeder struct {
	h       *harness
	sizes   []clusterSize
	seeded  int               // ServiceAccounts made so far
	subs    map[int][]string  // role index -> the ServiceAccount subjects it trusts
	mu      sync.Mutex        // guards roles
	roles   map[int]bool      // roles made
	nsMade  map[int]bool      // namespaces made
	issuer  string            // without https://
	account string            // the sandbox account
	tags    map[string]string // role tag value by bucket, as bind writes it
	// podIdentity: the roles trust EKS Pod Identity too, and each ServiceAccount has an association.
	podIdentity bool
}

func newSeeder(h *harness, sizes []clusterSize) *seeder {
	return &seeder{h: h, sizes: sizes, subs: map[int][]string{}, roles: map[int]bool{}, nsMade: map[int]bool{},
		issuer: strings.TrimPrefix(h.sb.Issuer, "https://"), account: h.sb.AccountID, tags: map[string]string{}}
}

func (s *seeder) place(i int) (ns, role int) {
	for _, z := range s.sizes {
		if i < z.SAs {
			return i % z.Namespaces, i % z.Roles
		}
	}
	panic(fmt.Sprintf("ServiceAccount %d is beyond the largest size", i))
}

func nsName(n int) string     { return fmt.Sprintf("bench-ns-%03d", n) }
func saName(i int) string     { return fmt.Sprintf("sdc-%04d", i) }
func roleName(r int) string   { return fmt.Sprintf("bench-role-%03d", r) }
func bucketName(r int) string { return fmt.Sprintf("bench-bucket-%03d", r) }
func (s *seeder) roleARN(r int) string {
	return fmt.Sprintf("arn:aws:iam::%s:role/%s", s.account, roleName(r))
}
func (s *seeder) policyARN(r int) string {
	return fmt.Sprintf("arn:aws:iam::%s:policy/%s", s.account, roleName(r))
}

// seedTo grows the cluster to size z through the APIs, in parallel, and waits until the controller-manager
// has made every Deployment's pod and settled, so that nothing else works while doctor is measured.
func (s *seeder) seedTo(ctx context.Context, z clusterSize, logf func(string, ...any)) error {
	start := time.Now()
	if s.seeded == 0 {
		if err := s.createProvider(ctx); err != nil {
			return err
		}
	}
	newSAs := make([]int, 0, z.SAs-s.seeded)
	touched := map[int]bool{}
	var newNS []int
	for i := s.seeded; i < z.SAs; i++ {
		ns, role := s.place(i)
		newSAs = append(newSAs, i)
		s.subs[role] = append(s.subs[role], vocab.Subject(nsName(ns), saName(i)))
		touched[role] = true
		if !s.nsMade[ns] {
			s.nsMade[ns] = true
			newNS = append(newNS, ns)
		}
	}
	if err := parallel(ctx, 16, newNS, func(ctx context.Context, n int) error {
		_, err := s.h.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: nsName(n)}}, metav1.CreateOptions{})
		return ignoreExists(err)
	}); err != nil {
		return fmt.Errorf("seeding namespaces: %w", err)
	}
	roles := make([]int, 0, len(touched))
	for r := range touched {
		roles = append(roles, r)
	}
	sort.Ints(roles)
	if err := parallel(ctx, 16, roles, s.seedRole); err != nil {
		return fmt.Errorf("seeding IAM roles: %w", err)
	}
	logf("seeding %s: %d IAM roles made or widened in %s", z, len(roles), time.Since(start).Round(time.Second))
	// The ServiceAccounts first: the webhook gives a pod its role only if the annotation is there when the
	// pod is created.
	if err := parallel(ctx, seedParallelism, newSAs, s.seedServiceAccount); err != nil {
		return fmt.Errorf("seeding ServiceAccounts: %w", err)
	}
	if err := parallel(ctx, seedParallelism, newSAs, s.seedDeployment); err != nil {
		return fmt.Errorf("seeding Deployments and pods: %w", err)
	}
	s.seeded = z.SAs
	if err := s.waitSettled(ctx, z.SAs, logf); err != nil {
		return err
	}
	logf("seeded %s in %s", z, time.Since(start).Round(time.Second))
	return nil
}

// seedParallelism is how many Kubernetes creates the seeder has in flight: Kubernetes has no bulk create,
// so the bulk path is many creates at once, in protobuf, with no controller in between.
const seedParallelism = 64

func (s *seeder) createProvider(ctx context.Context) error {
	tp, err := bind.Thumbprint(ctx, s.h.sb.Issuer)
	if err != nil {
		return err
	}
	_, err = s.h.iam.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{
		Url: aws.String(s.h.sb.Issuer), ClientIDList: []string{"sts.amazonaws.com"}, ThumbprintList: []string{tp},
	})
	if err != nil {
		return fmt.Errorf("creating the OIDC provider of %s: %w", s.h.sb.Issuer, err)
	}
	return nil
}

// seedRole makes role r as bind would (policy, trust, attachment, stages tag), or widens its trust to the
// ServiceAccounts added since.
func (s *seeder) seedRole(ctx context.Context, r int) error {
	trust, err := s.trust(r)
	if err != nil {
		return err
	}
	if s.roleMade(r) {
		_, err := s.h.iam.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String(roleName(r)), PolicyDocument: aws.String(trust)})
		return err
	}
	policy := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Sid":"S3Bucket","Effect":"Allow","Action":["s3:GetObject","s3:ListBucket","s3:PutObject"],"Resource":["arn:aws:s3:::%[1]s","arn:aws:s3:::%[1]s/*"]}]}`, bucketName(r))
	if _, err := s.h.iam.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String(roleName(r)), PolicyDocument: aws.String(policy)}); err != nil {
		return err
	}
	tag, err := catalog.EncodeTag(catalog.Selection{Stages: []string{"s3"}, Params: map[string]string{"bucket": bucketName(r)}})
	if err != nil {
		return err
	}
	if _, err := s.h.iam.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(roleName(r)), AssumeRolePolicyDocument: aws.String(trust),
		Tags: []iamtypes.Tag{{Key: aws.String(vocab.TagStages), Value: aws.String(tag)}}}); err != nil {
		return err
	}
	if _, err := s.h.iam.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String(roleName(r)), PolicyArn: aws.String(s.policyARN(r))}); err != nil {
		return err
	}
	s.markRole(r)
	return nil
}

func (s *seeder) roleMade(r int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.roles[r]
}

func (s *seeder) markRole(r int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.roles[r] = true
}

// trust is role r's trust document: the provider, the audience and every ServiceAccount placed on r.
func (s *seeder) trust(r int) (string, error) {
	statements := []any{map[string]any{
		"Effect":    "Allow",
		"Principal": map[string]any{"Federated": fmt.Sprintf("arn:aws:iam::%s:oidc-provider/%s", s.account, s.issuer)},
		"Action":    "sts:AssumeRoleWithWebIdentity",
		"Condition": map[string]any{"StringEquals": map[string]any{
			s.issuer + ":aud": "sts.amazonaws.com",
			s.issuer + ":sub": s.subs[r],
		}},
	}}
	if s.podIdentity {
		// The statement bind --mechanism pod-identity and migrate add.
		statements = append(statements, map[string]any{
			"Sid": vocab.PodIdentityTrustSid, "Effect": "Allow", "Principal": map[string]any{"Service": vocab.PodIdentityService},
			"Action": []string{vocab.ActionAssumeRole, vocab.ActionTagSession},
		})
	}
	doc := map[string]any{"Version": "2012-10-17", "Statement": statements}
	b, err := json.Marshal(doc)
	return string(b), err
}

func (s *seeder) seedServiceAccount(ctx context.Context, i int) error {
	ns, role := s.place(i)
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: saName(i), Namespace: nsName(ns), Annotations: map[string]string{
		vocab.RoleARNAnnotation:     s.roleARN(role),
		vocab.RegionalSTSAnnotation: "true",
	}}}
	_, err := s.h.kube.CoreV1().ServiceAccounts(sa.Namespace).Create(ctx, sa, metav1.CreateOptions{})
	return ignoreExists(err)
}

// seedDeployment makes the Deployment of ServiceAccount i in bind's shape, and its pod, which the pod
// identity webhook mutates as on EKS. The bench creates the pod itself, beside a paused Deployment (whose
// controller makes no ReplicaSet): through the controller-manager, at its request rate, a ReplicaSet and a
// pod per Deployment took minutes per ten thousand; doctor reads a Deployment's template and selector and
// the pods the selector matches, never who made them.
func (s *seeder) seedDeployment(ctx context.Context, i int) error {
	ns, _ := s.place(i)
	labels := map[string]string{"app": saName(i), seedLabel: "true"}
	fsGroup := vocab.DefaultFSGroup
	// The sandbox runs no scheduler, so the pod stays Pending; without a long deadline the controller-manager
	// would mark every Deployment as failed to progress ten minutes in, a thousand updates in the middle
	// of a measurement. Doctor does not read the conditions.
	deadline := int32(24 * 3600)
	spec := corev1.PodSpec{
		ServiceAccountName: saName(i),
		SecurityContext:    &corev1.PodSecurityContext{FSGroup: &fsGroup},
		Containers:         []corev1.Container{{Name: "sdc", Image: benchImage}},
	}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: saName(i), Namespace: nsName(ns), Labels: map[string]string{seedLabel: "true"}},
		Spec: appsv1.DeploymentSpec{
			Paused:                  true,
			ProgressDeadlineSeconds: &deadline,
			Selector:                &metav1.LabelSelector{MatchLabels: labels},
			Template:                corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: spec},
		},
	}
	if _, err := s.h.kube.AppsV1().Deployments(d.Namespace).Create(ctx, d, metav1.CreateOptions{}); ignoreExists(err) != nil {
		return err
	}
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: saName(i) + "-0", Namespace: d.Namespace, Labels: labels}, Spec: *spec.DeepCopy()}
	_, err := s.h.kube.CoreV1().Pods(p.Namespace).Create(ctx, p, metav1.CreateOptions{})
	return ignoreExists(err)
}

// waitSettled polls until there are want seeded pods and the controller-manager has seen every seeded
// Deployment (a paused Deployment's status still says which generation it observed), so that nothing else
// works while doctor is measured. Progress is logged every 15 s.
func (s *seeder) waitSettled(ctx context.Context, want int, logf func(string, ...any)) error {
	limit := 10*time.Minute + time.Duration(want/1000)*time.Minute
	deadline := time.Now().Add(limit)
	lastLog := time.Now()
	// The pods are made by the seeder, so they are all there once their creates returned: counted once.
	objs, err := s.h.objectCounts(ctx)
	if err != nil {
		return err
	}
	if objs["pods"] < want {
		return fmt.Errorf("the seeded cluster has %d pods where %d were made", objs["pods"], want)
	}
	for {
		deps, err := s.h.kube.AppsV1().Deployments("").List(ctx, metav1.ListOptions{LabelSelector: seedLabel + "=true", ResourceVersion: "0"})
		if err != nil {
			return err
		}
		settled := 0
		for _, d := range deps.Items {
			if d.Status.ObservedGeneration == d.Generation {
				settled++
			}
		}
		if settled >= want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %s the seeded cluster has %d of %d Deployments settled; see the controller-manager's log in the sandbox directory",
				limit, settled, want)
		}
		if time.Since(lastLog) > 15*time.Second {
			logf("waiting for the controller-manager: %d/%d Deployments settled", settled, want)
			lastLog = time.Now()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(3 * time.Second):
		}
	}
}

// seedAssociations gives the first benchAssociations seeded ServiceAccounts an EKS Pod Identity association
// naming its role, as migrate does (the role trusts pods.eks.amazonaws.com beside the ServiceAccounts' web
// identity), so that doctor -A judges both mechanisms of each.
func (s *seeder) seedAssociations(ctx context.Context, logf func(string, ...any)) (int, error) {
	start := time.Now()
	s.podIdentity = true
	var roles []int
	for r := range s.subs {
		roles = append(roles, r)
	}
	sort.Ints(roles)
	if err := parallel(ctx, 16, roles, func(ctx context.Context, r int) error {
		trust, err := s.trust(r)
		if err != nil {
			return err
		}
		_, err = s.h.iam.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String(roleName(r)), PolicyDocument: aws.String(trust)})
		return err
	}); err != nil {
		return 0, fmt.Errorf("adding Pod Identity to the roles' trust: %w", err)
	}
	sas := make([]int, min(s.seeded, benchAssociations))
	for i := range sas {
		sas[i] = i
	}
	if err := parallel(ctx, 32, sas, func(ctx context.Context, i int) error {
		ns, role := s.place(i)
		_, err := s.h.eks.CreatePodIdentityAssociation(ctx, &eks.CreatePodIdentityAssociationInput{ClusterName: aws.String(sandbox.ClusterName),
			Namespace: aws.String(nsName(ns)), ServiceAccount: aws.String(saName(i)), RoleArn: aws.String(s.roleARN(role))})
		var inUse *ekstypes.ResourceInUseException
		if errors.As(err, &inUse) {
			return nil
		}
		return err
	}); err != nil {
		return 0, fmt.Errorf("creating Pod Identity associations: %w", err)
	}
	logf("seeded %d Pod Identity associations in %s", len(sas), time.Since(start).Round(time.Second))
	return len(sas), nil
}

// benchAssociations is how many ServiceAccounts get an association: the 1,000 (EKS allows 5,000
// per cluster, which the sandbox enforces, so the 10,000 size cannot have one each).
const benchAssociations = 1000

// objectCounts is how many objects of each kind doctor -A lists, for the number of pages it may need: one
// object each, with the apiserver's count of the rest (the bench never holds the seeded lists).
func (h *harness) objectCounts(ctx context.Context) (map[string]int, error) {
	one := metav1.ListOptions{Limit: 1}
	count := func(items int, meta metav1.ListMeta) int {
		if meta.RemainingItemCount != nil {
			return items + int(*meta.RemainingItemCount)
		}
		return items
	}
	out := map[string]int{}
	sas, err := h.kube.CoreV1().ServiceAccounts("").List(ctx, one)
	if err != nil {
		return nil, err
	}
	out["serviceaccounts"] = count(len(sas.Items), sas.ListMeta)
	deps, err := h.kube.AppsV1().Deployments("").List(ctx, one)
	if err != nil {
		return nil, err
	}
	out["deployments"] = count(len(deps.Items), deps.ListMeta)
	pods, err := h.kube.CoreV1().Pods("").List(ctx, one)
	if err != nil {
		return nil, err
	}
	out["pods"] = count(len(pods.Items), pods.ListMeta)
	whs, err := h.kube.AdmissionregistrationV1().MutatingWebhookConfigurations().List(ctx, one)
	if err != nil {
		return nil, err
	}
	out["mutatingwebhookconfigurations"] = count(len(whs.Items), whs.ListMeta)
	return out, nil
}

// targets are the first n seeded ServiceAccounts as "namespace name" lines, for the naive walk.
func (s *seeder) targets(n int) string {
	var b strings.Builder
	for i := 0; i < n && i < s.seeded; i++ {
		ns, _ := s.place(i)
		fmt.Fprintf(&b, "%s %s\n", nsName(ns), saName(i))
	}
	return b.String()
}

// layout is the namespaces and roles ServiceAccounts [0, n) actually use.
func (s *seeder) layout(n int) (namespaces, roles int) {
	nss, rs := map[int]bool{}, map[int]bool{}
	for i := range n {
		ns, r := s.place(i)
		nss[ns], rs[r] = true, true
	}
	return len(nss), len(rs)
}

// parallel runs fn on every item with at most n at once and returns the first error.
func parallel[T any](ctx context.Context, n int, items []T, fn func(context.Context, T) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for _, it := range items {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := fn(ctx, it); err != nil {
				once.Do(func() { first = err; cancel() })
			}
		}()
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return first
}

func ignoreExists(err error) error {
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}
