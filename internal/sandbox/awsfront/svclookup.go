package awsfront

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Some resources are known by another name than the one their policies use: a secret by its name (policies
// use its ARN with a random suffix), a KMS key by an alias (policies use the key's ARN). The front asks moto,
// in the caller's account and region, as the service itself knows.

// motoJSON makes one awsJson call to moto in account and region as the front itself (uncounted, unfaulted)
// and decodes the answer into out; found is false when moto answers an error (the resource is unknown).
func (f *Front) motoJSON(ctx context.Context, account, region, signingName, target string, in, out any) (found bool, err error) {
	body, err := json.Marshal(in)
	if err != nil {
		return false, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.cfg.MotoURL+"/", bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	// moto routes by the credential scope's service and checks no signatures; the header picks the account.
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=sandbox-front/"+time.Now().UTC().Format("20060102")+
		"/"+region+"/"+signingName+"/aws4_request, SignedHeaders=host, Signature=0")
	req.Header.Set("X-Amz-Target", target)
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set(motoAccountHeader, account)
	resp, err := f.motoHTTPClient().Do(req)
	if err != nil {
		return false, fmt.Errorf("asking moto at %s %s: %w", f.cfg.MotoURL, target, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return false, fmt.Errorf("reading moto's answer to %s: %w", target, err)
	}
	if resp.StatusCode >= 500 {
		return false, fmt.Errorf("moto answered %s with HTTP %d: %s", target, resp.StatusCode, b)
	}
	if resp.StatusCode != http.StatusOK {
		return false, nil
	}
	return true, json.Unmarshal(b, out)
}

// lookupSecretARN is the full ARN of the secret id names in the request's account and region; "" when
// there is no such secret.
func (f *Front) lookupSecretARN(ctx context.Context, q *svcRequest, id string) (string, error) {
	if id == "" {
		return "", nil
	}
	var out struct{ ARN string }
	found, err := f.motoJSON(ctx, accountOfARN(id, q.Account), regionOfARN(id, q.Region), "secretsmanager", "secretsmanager.DescribeSecret", map[string]string{"SecretId": id}, &out)
	if err != nil || !found {
		return "", err
	}
	return out.ARN, nil
}

// kmsKey is what IAM weighs of the key a request names.
type kmsKey struct {
	ARN          string   // the key's ARN; for a key moto does not know, the ARN the request named
	Aliases      []string // kms:ResourceAliases: the key's aliases ("alias/name")
	RequestAlias string   // kms:RequestAlias: the alias the request named the key by
}

// lookupKMSKey resolves a KeyId (key id, key ARN, alias name or alias ARN) in the request's account and region.
func (f *Front) lookupKMSKey(ctx context.Context, q *svcRequest, id string) (kmsKey, error) {
	account, region := accountOfARN(id, q.Account), regionOfARN(id, q.Region)
	k := kmsKey{ARN: q.nameOrARN(id, "kms", "key/")}
	if name := aliasName(id); name != "" {
		k.RequestAlias = name
		k.ARN = q.nameOrARN(id, "kms", "")
	}
	if id == "" {
		return k, nil
	}
	var desc struct{ KeyMetadata struct{ Arn, KeyId string } }
	found, err := f.motoJSON(ctx, account, region, "kms", "TrentService.DescribeKey", map[string]string{"KeyId": id}, &desc)
	if err != nil || !found {
		return k, err
	}
	k.ARN = desc.KeyMetadata.Arn
	var aliases struct{ Aliases []struct{ AliasName string } }
	if _, err := f.motoJSON(ctx, account, region, "kms", "TrentService.ListAliases", map[string]string{"KeyId": desc.KeyMetadata.KeyId}, &aliases); err != nil {
		return k, err
	}
	for _, a := range aliases.Aliases {
		k.Aliases = append(k.Aliases, a.AliasName)
	}
	return k, nil
}

// aliasName is "alias/NAME" when id names a KMS alias (by name or ARN), else "".
func aliasName(id string) string {
	if strings.HasPrefix(id, "alias/") {
		return id
	}
	if i := strings.Index(id, ":alias/"); strings.HasPrefix(id, "arn:") && i > 0 {
		return id[i+1:]
	}
	return ""
}

// accountOfARN is the account of an ARN, or def for anything else.
func accountOfARN(s, def string) string {
	if parts := strings.SplitN(s, ":", 6); len(parts) == 6 && parts[0] == "arn" && parts[4] != "" {
		return parts[4]
	}
	return def
}

// regionOfARN is the region of an ARN, or def for anything else.
func regionOfARN(s, def string) string {
	if parts := strings.SplitN(s, ":", 6); len(parts) == 6 && parts[0] == "arn" && parts[3] != "" {
		return parts[3]
	}
	return def
}
