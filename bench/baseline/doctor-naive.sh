#!/usr/bin/env bash
# The naive per-object walk that `kubectl sdc doctor` replaces: for each ServiceAccount, one kubectl or aws
# CLI call per object, as a script written by hand does it. It reads what doctor reads (the ServiceAccount,
# the Deployments of its namespace, the pods, the role, its inline and attached policies and each policy's
# default version; once: the cluster's issuer, the caller, the OIDC provider, the webhooks) and judges
# nothing, so its time is a lower bound of doing doctor's job this way.
#
# Usage: doctor-naive.sh CLUSTER TARGETS_FILE     (TARGETS_FILE: one "NAMESPACE SERVICEACCOUNT" per line)
set -euo pipefail
if [ $# -ne 2 ]; then
  echo "usage: $0 CLUSTER TARGETS_FILE" >&2
  exit 2
fi
cluster=$1 targets=$2

# aws CLI v1 ignores AWS_ENDPOINT_URL; pass it on when it is set (the sandbox), as a user of it would.
aws() { command aws ${AWS_ENDPOINT_URL:+--endpoint-url "$AWS_ENDPOINT_URL"} "$@"; }

# Once per run.
issuer=$(aws eks describe-cluster --name "$cluster" --query cluster.identity.oidc.issuer --output text)
account=$(aws sts get-caller-identity --query Account --output text)
aws iam get-open-id-connect-provider \
  --open-id-connect-provider-arn "arn:aws:iam::$account:oidc-provider/${issuer#https://}" >/dev/null
kubectl get mutatingwebhookconfigurations -o json >/dev/null

# Once per ServiceAccount.
while read -r ns sa; do
  [ -n "$ns" ] || continue
  role_arn=$(kubectl get serviceaccount -n "$ns" "$sa" -o jsonpath='{.metadata.annotations.eks\.amazonaws\.com/role-arn}')
  selector=$(kubectl get deployments -n "$ns" -o json | jq -r --arg sa "$sa" \
    '[.items[] | select(.spec.template.spec.serviceAccountName == $sa)][0].spec.selector.matchLabels // {}
     | to_entries | map("\(.key)=\(.value)") | join(",")')
  if [ -n "$selector" ]; then
    kubectl get pods -n "$ns" -l "$selector" -o json >/dev/null
  fi
  [ -n "$role_arn" ] || continue
  role=${role_arn##*/}
  aws iam get-role --role-name "$role" >/dev/null
  aws iam list-role-policies --role-name "$role" >/dev/null
  for policy in $(aws iam list-attached-role-policies --role-name "$role" --query 'AttachedPolicies[].PolicyArn' --output text); do
    version=$(aws iam get-policy --policy-arn "$policy" --query Policy.DefaultVersionId --output text)
    aws iam get-policy-version --policy-arn "$policy" --version-id "$version" >/dev/null
  done
done <"$targets"
