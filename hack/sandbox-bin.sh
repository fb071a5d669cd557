#!/usr/bin/env bash
# Builds the sandbox's control plane (etcd, kube-apiserver, kube-controller-manager; kubectl when the machine
# has none) from the Go module
# proxy at the versions pinned in hack/tools/go.mod, into the directory given (default bin/). A binary that
# already reports the pinned version is kept, so only the first run pays the ~5 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath -m "${1:-bin}")
mkdir -p "$bin"
tools=hack/tools
kube=$(awk '$1 == "k8s.io/kubernetes" {print $2}' $tools/go.mod)
etcd=$(awk '$1 == "go.etcd.io/etcd/server/v3" {print $2}' $tools/go.mod)
[[ -n $kube && -n $etcd ]] || { echo "sandbox-bin: cannot read the pinned versions from $tools/go.mod" >&2; exit 1; }

version_of() {
  if [[ $1 == kubectl ]]; then "$bin/kubectl" version --client 2>/dev/null | head -n1 || true
  else "$bin/$1" --version 2>/dev/null | head -n1 || true; fi
}

kube_pkgs=()
for cmd in kube-apiserver kube-controller-manager; do
  if [[ "$(version_of $cmd)" != "Kubernetes $kube" ]]; then kube_pkgs+=("k8s.io/kubernetes/cmd/$cmd"); fi
done
build_etcd=no
[[ "$(version_of etcd)" == "etcd Version: ${etcd#v}" ]] || build_etcd=yes

# The tests drive the plugin through the real kubectl. A machine without one gets it built from the same
# Kubernetes source; the e2e harness puts bin/ last on PATH, so an installed kubectl still wins.
if ! command -v kubectl >/dev/null 2>&1 && [[ "$(version_of kubectl)" != *"$kube"* ]]; then
  kube_pkgs+=("k8s.io/kubernetes/cmd/kubectl")
fi

if (( ${#kube_pkgs[@]} == 0 )) && [[ $build_etcd == no ]]; then
  echo "sandbox-bin: etcd $etcd and Kubernetes $kube already in $bin"
  exit 0
fi

minor=${kube#v1.}; minor=${minor%%.*}
ldflags="-X k8s.io/component-base/version.gitVersion=$kube -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
export CGO_ENABLED=0
cd $tools
if (( ${#kube_pkgs[@]} > 0 )); then
  echo "sandbox-bin: building ${kube_pkgs[*]##*/} $kube from source (about 5 minutes the first time)"
  go build -ldflags "$ldflags" -o "$bin/" "${kube_pkgs[@]}"
fi
if [[ $build_etcd == yes ]]; then
  echo "sandbox-bin: building etcd $etcd from source"
  go build -o "$bin/etcd" go.etcd.io/etcd/server/v3
fi
for cmd in etcd kube-apiserver kube-controller-manager; do echo "sandbox-bin: $(version_of $cmd)"; done
