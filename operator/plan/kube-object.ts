// A Kubernetes object as plain JSON, enough for server-side apply. The pure room may not import
// @kubernetes/client-node, so builders return these and the controller sends them as they are.
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: Array<Record<string, unknown>>;
  };
  [field: string]: unknown;
}
