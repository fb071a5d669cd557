package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"google.golang.org/protobuf/encoding/protowire"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"

	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/doctor"
)

// The floor of doctor -A and list -A: what the APIs take to hand over what the checks need, whatever the
// client does with it. Three parts, each measured alone, one after another, at the row's latency:
//
//   - the Kubernetes lists doctor makes (ServiceAccounts as metadata, Deployments, pods, webhooks, pages of
//     500, the kinds in parallel), read and dropped without decoding beyond each page's continue token;
//   - the account's iam:GetAccountAuthorizationDetails pages, 1,000 entities a page, roles and customer
//     managed policies as two chains side by side as doctor reads them, each page asked for as soon as the
//     previous one's marker is in, read and dropped;
//   - with associations, eks:ListPodIdentityAssociations pages and a describe of each association (the list
//     names no role), the describes of a page started as soon as it is in, with doctor's bound in flight.
//
// The floor is the longest of the three: doctor can overlap them, but not beat the slowest.
//
// On the sandbox the apiserver, moto and the plugin share the machine's cores, which on EKS they do not:
// the parts measured alone each had the cores to themselves. Together is the same parts started at once,
// as doctor starts them, until the last is done: what overlapping them can reach here, the servers'
// contention for the cores included. It is reported beside the floor, not in its place.

// floorRun is one measurement of the floor's parts.
type floorRun struct {
	Kube, IAM, Associations time.Duration
	Together                time.Duration
}

func (f floorRun) floor() time.Duration { return max(f.Kube, f.IAM, f.Associations) }

// measureFloor measures the floor's parts once; associations only when the cluster has them.
func (h *harness) measureFloor(ctx context.Context, associations bool) (floorRun, error) {
	var f floorRun
	start := time.Now()
	if err := h.floorKube(ctx); err != nil {
		return f, fmt.Errorf("the floor's Kubernetes lists: %w", err)
	}
	f.Kube = time.Since(start)
	start = time.Now()
	if err := h.floorIAM(ctx); err != nil {
		return f, fmt.Errorf("the floor's IAM pages: %w", err)
	}
	f.IAM = time.Since(start)
	if associations {
		start = time.Now()
		if err := h.floorAssociations(ctx); err != nil {
			return f, fmt.Errorf("the floor's association describes: %w", err)
		}
		f.Associations = time.Since(start)
	}
	parts := []func(context.Context) error{h.floorKube, h.floorIAM}
	if associations {
		parts = append(parts, h.floorAssociations)
	}
	start = time.Now()
	errs := make([]error, len(parts))
	var wg sync.WaitGroup
	for i, part := range parts {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = part(ctx) }()
	}
	wg.Wait()
	f.Together = time.Since(start)
	for _, err := range errs {
		if err != nil {
			return f, fmt.Errorf("the floor's parts together: %w", err)
		}
	}
	return f, nil
}

// floorLists are the lists doctor -A makes, with the representation it asks for.
var floorLists = []struct{ path, accept string }{
	{"/api/v1/serviceaccounts", "application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"},
	{"/apis/apps/v1/deployments", "application/vnd.kubernetes.protobuf"},
	{"/api/v1/pods", "application/vnd.kubernetes.protobuf"},
	{"/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations", "application/vnd.kubernetes.protobuf"},
}

func (h *harness) floorKube(ctx context.Context) error {
	client, err := rest.HTTPClientFor(h.sb.RESTConfig)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make([]error, len(floorLists)+1)
	for i, l := range floorLists {
		wg.Add(1)
		go func() {
			defer wg.Done()
			next := ""
			for {
				q := url.Values{"limit": {"500"}}
				if next != "" {
					q.Set("continue", next)
				}
				body, err := h.floorGet(ctx, client, l.path+"?"+q.Encode(), l.accept)
				if err != nil {
					errs[i] = err
					return
				}
				if next, err = continueToken(body); err != nil {
					errs[i] = fmt.Errorf("%s: %w", l.path, err)
					return
				}
				if next == "" {
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, errs[len(floorLists)] = h.floorGet(ctx, client, "/version", "application/json")
	}()
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (h *harness) floorGet(ctx context.Context, client *http.Client, path, accept string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.sb.APIServerURL+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", accept)
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %.200s", path, resp.Status, body)
	}
	return body, nil
}

// protobufMagic starts every Kubernetes protobuf body.
var protobufMagic = []byte{0x6b, 0x38, 0x73, 0x00}

// continueToken reads the continue token of a protobuf list page: the page is a runtime.Unknown whose raw
// bytes are the list, whose first field is its ListMeta. Nothing else of the page is decoded.
func continueToken(body []byte) (string, error) {
	if len(body) < len(protobufMagic) || string(body[:4]) != string(protobufMagic) {
		return "", fmt.Errorf("the page is not protobuf: %.100q", body)
	}
	var u runtime.Unknown
	if err := u.Unmarshal(body[4:]); err != nil {
		return "", err
	}
	b := u.Raw
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return "", protowire.ParseError(n)
		}
		b = b[n:]
		if num == 1 && typ == protowire.BytesType {
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return "", protowire.ParseError(n)
			}
			var lm metav1.ListMeta
			if err := lm.Unmarshal(v); err != nil {
				return "", err
			}
			return lm.Continue, nil
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return "", protowire.ParseError(n)
		}
		b = b[n:]
	}
	return "", nil
}

var (
	markerRE    = regexp.MustCompile(`<Marker>([^<]*)</Marker>`)
	truncatedRE = regexp.MustCompile(`<IsTruncated>true</IsTruncated>`)
)

// floorIAM asks for the account's authorization details as doctor does, roles and customer managed
// policies as two chains side by side (a chain's pages follow one another by marker, each asked for as soon
// as the previous one's marker is in), signed by hand, and drops each page once its marker is read.
func (h *harness) floorIAM(ctx context.Context) error {
	errs := make(chan error, 2)
	for _, kind := range []string{"Role", "LocalManagedPolicy"} {
		go func() { errs <- h.floorIAMChain(ctx, kind) }()
	}
	return errors.Join(<-errs, <-errs)
}

func (h *harness) floorIAMChain(ctx context.Context, kind string) error {
	signer := v4.NewSigner()
	creds := aws.Credentials{AccessKeyID: h.sb.AccessKeyID, SecretAccessKey: h.sb.SecretAccessKey}
	client := &http.Client{Timeout: time.Minute}
	marker := ""
	for {
		form := url.Values{"Action": {"GetAccountAuthorizationDetails"}, "Version": {"2010-05-08"}, "MaxItems": {"1000"},
			"Filter.member.1": {kind}}
		if marker != "" {
			form.Set("Marker", marker)
		}
		body := form.Encode()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.sb.AWSEndpoint+"/", strings.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		if err := signer.SignHTTP(ctx, creds, req, sha256Hex(body), "iam", "us-east-1", time.Now()); err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		page, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("iam:GetAccountAuthorizationDetails: %s: %.300s", resp.Status, page)
		}
		if !truncatedRE.Match(page) {
			return nil
		}
		m := markerRE.FindSubmatch(page)
		if m == nil {
			return fmt.Errorf("iam:GetAccountAuthorizationDetails: a truncated page without a marker")
		}
		marker = htmlUnescape(string(m[1]))
	}
}

// floorAssociations lists the cluster's associations and describes each, a page's describes started as
// soon as it is in, doctor's parallelism in flight.
func (h *harness) floorAssociations(ctx context.Context) error {
	sem := make(chan struct{}, doctor.DefaultParallelism)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	in := &eks.ListPodIdentityAssociationsInput{ClusterName: aws.String(sandbox.ClusterName), MaxResults: aws.Int32(100)}
	for {
		page, err := h.eks.ListPodIdentityAssociations(ctx, in)
		if err != nil {
			wg.Wait()
			return err
		}
		for _, a := range page.Associations {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				_, err := h.eks.DescribePodIdentityAssociation(ctx, &eks.DescribePodIdentityAssociationInput{ClusterName: in.ClusterName, AssociationId: a.AssociationId})
				if err != nil {
					mu.Lock()
					first = cmpOr(first, err)
					mu.Unlock()
				}
			}()
		}
		if aws.ToString(page.NextToken) == "" {
			break
		}
		in.NextToken = page.NextToken
	}
	wg.Wait()
	return first
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// htmlUnescape undoes the XML escaping of a marker.
func htmlUnescape(s string) string { return html.UnescapeString(s) }

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}
