#!/usr/bin/env bash
# make demo: the original guide's six manual steps as one command, on the local sandbox, then the proof.
# KEEP=1 leaves the sandbox running afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${SDC_SANDBOX_BIN:-$PWD/bin}
dir=${SANDBOX_DIR:-$PWD/.sandbox}
export PATH="$bin:$PATH"

bold=$'\033[1m' dim=$'\033[2m' reset=$'\033[0m'
[[ -t 1 && -z ${NO_COLOR:-} ]] || { bold='' dim='' reset=''; }
say()  { printf '\n%s# %s%s\n' "$dim" "$*" "$reset"; }
step() { printf '%s$ %s%s\n' "$bold" "$*" "$reset"; "$@"; }

sdc-sandbox down --dir "$dir" >/dev/null 2>&1 || true
mkdir -p "$dir"
say "Starting the sandbox: etcd, kube-apiserver, kube-controller-manager, the pod identity webhook, AWS (moto behind our front)"
sdc-sandbox up --dir "$dir" --bin-dir "$bin" >"$dir/sdc-sandbox.log" 2>&1 &
pid=$!
if [[ -z ${KEEP:-} ]]; then trap 'sdc-sandbox down --dir "$dir" >/dev/null 2>&1 || true' EXIT; fi
for _ in $(seq 1 600); do
  [[ -f $dir/ready ]] && break
  kill -0 "$pid" 2>/dev/null || { cat "$dir/sdc-sandbox.log" >&2; exit 1; }
  sleep 0.1
done
[[ -f $dir/ready ]] || { echo "demo: the sandbox was not ready after 60 s; see $dir/sdc-sandbox.log" >&2; exit 1; }
# shellcheck disable=SC1091
. "$dir/env"
echo "ready: kubectl context $(kubectl config current-context), AWS endpoint $AWS_ENDPOINT_URL"

say "The plugin, through the real kubectl"
step kubectl sdc version
say "The cluster's service-account issuer (its OIDC discovery document, readable without credentials, as on EKS)"
step kubectl get --raw /.well-known/openid-configuration
echo
say "The bucket SDC will write to (the guide's example)"
step aws s3api create-bucket --bucket sdc-ingest-bucket --create-bucket-configuration LocationConstraint=us-west-2 --output text >/dev/null

say "The guide's six steps, as one command: plan, then apply"
step kubectl sdc bind -n ns1 --service-account sdc --bucket sdc-ingest-bucket \
  --deployment sdc --create-deployment --image streamsets/datacollector:5.11.0 --yes

say "Run it again: nothing left to do, nothing written"
step kubectl sdc bind -n ns1 --service-account sdc --bucket sdc-ingest-bucket \
  --deployment sdc --create-deployment --image streamsets/datacollector:5.11.0 --yes

say "What the pod identity webhook gave the SDC pod"
for _ in $(seq 1 100); do
  env_json=$(kubectl get pods -n ns1 -l app=sdc -o jsonpath='{.items[0].spec.containers[0].env}' 2>/dev/null || true)
  [[ $env_json == *AWS_ROLE_ARN* ]] && break
  sleep 0.1
done
step kubectl get pods -n ns1 -l app=sdc -o jsonpath='{range .items[0].spec.containers[0].env[*]}{.name}={.value}{"\n"}{end}'

say "The whole chain, checked, down to a live STS call and the bucket"
step kubectl sdc doctor -n ns1 --deployment sdc --probe

if [[ -n ${KEEP:-} ]]; then
  say "The sandbox keeps running: . $dir/env   (stop it: bin/sdc-sandbox down --dir $dir)"
fi
