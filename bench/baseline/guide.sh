#!/usr/bin/env bash
# The original guide's procedure, scripted with the aws CLI and kubectl the way a careful person follows it:
# one command per step, each step's output feeding the next. It reaches the end state of
#   kubectl sdc bind -n NAMESPACE --service-account SA --bucket BUCKET --deployment DEPLOYMENT \
#       --create-deployment --image IMAGE
# the same OIDC provider (audience and thumbprint), policy document, trust document, attachment,
# ServiceAccount annotations and Deployment settings. Not bind's tags and descriptions: the guide has none.
# The benchmark compares the two end states after every run.
#
# Usage: guide.sh CLUSTER NAMESPACE SERVICEACCOUNT BUCKET DEPLOYMENT IMAGE ROLE POLICY
set -euo pipefail
if [ $# -ne 8 ]; then
  echo "usage: $0 CLUSTER NAMESPACE SERVICEACCOUNT BUCKET DEPLOYMENT IMAGE ROLE POLICY" >&2
  exit 2
fi
cluster=$1 ns=$2 sa=$3 bucket=$4 deployment=$5 image=$6 role=$7 policy=$8
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# aws CLI v1 ignores AWS_ENDPOINT_URL; pass it on when it is set (the sandbox), as a user of it would.
aws() { command aws ${AWS_ENDPOINT_URL:+--endpoint-url "$AWS_ENDPOINT_URL"} "$@"; }

# 1. The cluster's OIDC issuer and the account.
issuer=$(aws eks describe-cluster --name "$cluster" --query cluster.identity.oidc.issuer --output text)
account=$(aws sts get-caller-identity --query Account --output text)
issuer_hostpath=${issuer#https://}

# 2. The thumbprint IAM is given: the SHA-1 of the last certificate of the chain the issuer's host presents.
hostport=${issuer_hostpath%%/*}
host=${hostport%:*}
[[ $hostport == *:* ]] || hostport=$hostport:443
openssl s_client -servername "$host" -showcerts -connect "$hostport" </dev/null 2>/dev/null \
  | awk '/-----BEGIN CERTIFICATE-----/ { c = "" } { c = c $0 "\n" } /-----END CERTIFICATE-----/ { last = c } END { printf "%s", last }' \
  >"$work/top.crt"
thumbprint=$(openssl x509 -in "$work/top.crt" -noout -fingerprint -sha1 | sed 's/.*=//; s/://g' | tr 'A-F' 'a-f')

# 3. The IAM OIDC identity provider of the issuer, for audience sts.amazonaws.com.
aws iam create-open-id-connect-provider --url "$issuer" --client-id-list sts.amazonaws.com \
  --thumbprint-list "$thumbprint" >/dev/null

# 4. The policy: read and write the bucket.
cat >"$work/policy.json" <<JSON
{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "S3Bucket",
      "Effect": "Allow",
      "Action": ["s3:GetObject", "s3:ListBucket", "s3:PutObject"],
      "Resource": ["arn:aws:s3:::$bucket", "arn:aws:s3:::$bucket/*"]
    }
  ]
}
JSON
policy_arn=$(aws iam create-policy --policy-name "$policy" --policy-document "file://$work/policy.json" \
  --query Policy.Arn --output text)

# 5. The namespace and the ServiceAccount.
kubectl create namespace "$ns" >/dev/null
kubectl create serviceaccount "$sa" -n "$ns" >/dev/null

# 6. The role, trusting exactly this ServiceAccount through the provider, and the policy attached to it.
cat >"$work/trust.json" <<JSON
{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Principal": {"Federated": "arn:aws:iam::$account:oidc-provider/$issuer_hostpath"},
      "Action": "sts:AssumeRoleWithWebIdentity",
      "Condition": {
        "StringEquals": {
          "$issuer_hostpath:aud": "sts.amazonaws.com",
          "$issuer_hostpath:sub": "system:serviceaccount:$ns:$sa"
        }
      }
    }
  ]
}
JSON
aws iam create-role --role-name "$role" --assume-role-policy-document "file://$work/trust.json" >/dev/null
aws iam attach-role-policy --role-name "$role" --policy-arn "$policy_arn"

# 7. The ServiceAccount annotations the pod identity webhook reads.
kubectl annotate serviceaccount -n "$ns" "$sa" \
  "eks.amazonaws.com/role-arn=arn:aws:iam::$account:role/$role" \
  eks.amazonaws.com/sts-regional-endpoints=true >/dev/null

# 8. The Deployment, under the ServiceAccount, with the fsGroup that lets the sdc user read the token.
cat >"$work/deployment.yaml" <<YAML
apiVersion: apps/v1
kind: Deployment
metadata:
  name: $deployment
  namespace: $ns
spec:
  selector:
    matchLabels:
      app: $deployment
  template:
    metadata:
      labels:
        app: $deployment
    spec:
      serviceAccountName: $sa
      securityContext:
        fsGroup: 65534
      containers:
        - name: $deployment
          image: $image
YAML
kubectl apply -f "$work/deployment.yaml" >/dev/null
