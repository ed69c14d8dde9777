#!/usr/bin/env bash
# etcd's monitoring mixin (contrib/mixin of etcd's root Go module, pinned), rendered with
# go-jsonnet into .cache/mixin/<etcd version>/ (once; later runs skip it):
#   alerts.yaml            prometheusAlerts, as YAML (what the mixin's own `make manifests` makes)
#   alerts-kubernetes.yaml the same with the mixin's advice for Kubernetes (config.libsonnet:
#                          etcd_instance_labels 'instance, pod'), which the chart ships
#   etcd.json              the Grafana dashboard, rendered with the mixin's own switch
#                          `_config+:: { grafana7x: true }`: that variant is plain jsonnet
#   grafana10-targets.json the queries of the default (Grafana 10) dashboard, see below
#   test.yaml              the mixin's promtool unit tests, unchanged
# No file of the mixin is edited; the renders differ from the mixin's defaults in nothing else.
#
# Why not the default dashboard: it is built with grafonnet (jsonnetfile.json), a jsonnet library
# that is no Go module and is not served by any registry this project reaches. Its queries live
# in dashboards/targets.libsonnet, which only calls grafonnet's query.prometheus.new and
# withLegendFormat; hack/mixin/grafonnet-query-stub/ provides those two (and nothing else), so the
# queries can still be evaluated and checked against tsetcd (test/mixin/mixin.test.ts).
#
# `bash hack/ensure-mixin.sh --update-chart` copies the renders into the chart
# (charts/tsetcd-operator/files/etcd-mixin/); the test fails when the chart's copy drifts.
# Tools: jsonnet (github.com/google/go-jsonnet/cmd/jsonnet) into .cache/bin, and the etcd module
# from the Go module proxy; both have a shared copy in ~/.cache/tsetcd like helm's.
set -euo pipefail
cd "$(dirname "$0")/.."
ETCD_MIXIN_VERSION="${ETCD_MIXIN_VERSION:-v3.6.8}"
JSONNET_VERSION="${JSONNET_VERSION:-v0.22.0}"
BIN_DIR="$PWD/.cache/bin"
OUT="$PWD/.cache/mixin/$ETCD_MIXIN_VERSION"
STUB="$PWD/hack/mixin/grafonnet-query-stub"
CHART_FILES="$PWD/charts/tsetcd-operator/files/etcd-mixin"

# jsonnet, as hack/ensure-helm.sh does helm: a stamp file records the version built.
if ! { [ -x "$BIN_DIR/jsonnet" ] && [ "$(cat "$BIN_DIR/jsonnet.version" 2>/dev/null)" = "$JSONNET_VERSION" ]; }; then
  mkdir -p "$BIN_DIR"
  shared="${JSONNET_SHARED_CACHE-${XDG_CACHE_HOME:-$HOME/.cache}/tsetcd/jsonnet/$JSONNET_VERSION}"
  if [ -n "$shared" ] && [ -x "$shared/jsonnet" ]; then
    cp "$shared/jsonnet" "$BIN_DIR/jsonnet.tmp" && mv "$BIN_DIR/jsonnet.tmp" "$BIN_DIR/jsonnet"
    echo "copied jsonnet ${JSONNET_VERSION} from $shared"
  else
    start=$(date +%s)
    GOBIN="$BIN_DIR" GOFLAGS=-trimpath nice -n 10 go install -ldflags='-s -w' "github.com/google/go-jsonnet/cmd/jsonnet@${JSONNET_VERSION}"
    echo "built jsonnet ${JSONNET_VERSION} into ${BIN_DIR} in $(( $(date +%s) - start ))s"
    if [ -n "$shared" ]; then mkdir -p "$shared" && cp "$BIN_DIR/jsonnet" "$shared/jsonnet.tmp" && mv "$shared/jsonnet.tmp" "$shared/jsonnet"; fi
  fi
  echo "$JSONNET_VERSION" > "$BIN_DIR/jsonnet.version"
fi
JSONNET="$BIN_DIR/jsonnet"

stamp="2 $ETCD_MIXIN_VERSION $JSONNET_VERSION $(cat "$STUB"/*/*/*/*/*/main.libsonnet | sha256sum | cut -c1-16)"
if [ "$(cat "$OUT/.stamp" 2>/dev/null)" != "$stamp" ]; then
  # The module lands in the Go module cache (GOMODCACHE), which outlives fresh clones.
  dir="$(go mod download -json "go.etcd.io/etcd/v3@${ETCD_MIXIN_VERSION}" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  mixin="$dir/contrib/mixin"
  [ -f "$mixin/mixin.libsonnet" ] || { echo "no contrib/mixin in go.etcd.io/etcd/v3@${ETCD_MIXIN_VERSION} ($dir)" >&2; exit 1; }
  rm -rf "$OUT.tmp" && mkdir -p "$OUT.tmp"
  "$JSONNET" -J "$mixin" -S -e 'std.manifestYamlDoc((import "mixin.libsonnet").prometheusAlerts, indent_array_in_object=true, quote_keys=false)' > "$OUT.tmp/alerts.yaml"
  "$JSONNET" -J "$mixin" -S -e 'std.manifestYamlDoc(((import "mixin.libsonnet") + { _config+:: { etcd_instance_labels: "instance, pod" } }).prometheusAlerts, indent_array_in_object=true, quote_keys=false)' > "$OUT.tmp/alerts-kubernetes.yaml"
  "$JSONNET" -J "$mixin" -e '((import "mixin.libsonnet") + { _config+:: { grafana7x: true } }).grafanaDashboards["etcd.json"]' > "$OUT.tmp/etcd.json"
  # The default dashboard's targets, with the mixin's default config; `$datasource` as there.
  "$JSONNET" -J "$STUB" -J "$mixin" -J "$mixin/dashboards" -e '
    local config = (import "config.libsonnet")._config;
    local t = (import "targets.libsonnet")({ datasource: { name: "datasource" } }, config);
    { [k]: t[k] for k in std.objectFields(t) }' > "$OUT.tmp/grafana10-targets.json"
  cp "$mixin/test.yaml" "$OUT.tmp/test.yaml"
  echo "$stamp" > "$OUT.tmp/.stamp"
  rm -rf "$OUT" && mv "$OUT.tmp" "$OUT"
  echo "rendered etcd's mixin ${ETCD_MIXIN_VERSION} into ${OUT}"
fi

if [ "${1:-}" = "--update-chart" ]; then
  mkdir -p "$CHART_FILES"
  cp "$OUT/alerts-kubernetes.yaml" "$OUT/etcd.json" "$CHART_FILES/"
  echo "$ETCD_MIXIN_VERSION" > "$CHART_FILES/VERSION"
  echo "copied the renders into $CHART_FILES"
fi
