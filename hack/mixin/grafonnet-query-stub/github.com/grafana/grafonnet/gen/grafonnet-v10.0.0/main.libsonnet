// Not grafonnet. A stand-in for the two functions of grafonnet's query.prometheus that etcd's
// mixin calls in dashboards/targets.libsonnet, so that the default dashboard's queries can be
// evaluated where grafonnet cannot be fetched (hack/ensure-mixin.sh). The fields are those of a
// Grafana Prometheus target; nothing here is rendered into a dashboard that is shipped.
{
  query: {
    prometheus: {
      new(datasource, expr): { datasource: { type: 'prometheus', uid: datasource }, expr: expr },
      withLegendFormat(value): { legendFormat: value },
    },
  },
}
