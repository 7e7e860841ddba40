# Sourced by hack/controlplane/build.sh and hack/node/build.sh (from hack/controlplane, the tools
# module both build from): the Go settings and link flags every Kubernetes binary here is built
# with, so `--version` reports the module's version. Sets kubernetes_version and version_flags.
kubernetes_version="$(awk '$1 == "k8s.io/kubernetes" {print $2}' go.mod)"
export GOFLAGS="${GOFLAGS:--buildvcs=false}" CGO_ENABLED=0
minor="${kubernetes_version#v1.}"; minor="${minor%%.*}"
version_flags="-s -w \
 -X k8s.io/component-base/version.gitVersion=$kubernetes_version \
 -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor \
 -X k8s.io/component-base/version.gitTreeState=clean \
 -X k8s.io/client-go/pkg/version.gitVersion=$kubernetes_version \
 -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"
