// Turns a Pod's container into the local process that stands for it: executable, argv,
// environment and bind mounts. Pure. Test infrastructure for the local control plane.
import type { Container, EnvVar, Pod } from './kube-types.js';

export interface ImageMapping {
  /** Matches an image whose repository's last path segment is this name (e.g. `tsetcd`). */
  name: string;
  /** The local executable that stands in for that image's entrypoint. */
  path: string;
}

export interface ProcessSpec {
  file: string;
  args: string[];
  env: Record<string, string>;
  /** Host folder bound onto the container path, in mount order. */
  binds: Array<{ source: string; target: string }>;
  workingDir?: string;
}

export interface ResolveInputs {
  pod: Pod;
  container: Container;
  podIP: string;
  hostIP: string;
  imageMap: ImageMapping[];
  /** Host folder for each of the Pod's volumes, by volume name. */
  volumePaths: Record<string, string>;
  /** Data of ConfigMaps and Secrets (decoded) the Pod refers to, by `configmap/<name>` or `secret/<name>`. */
  lookup: (kind: 'configmap' | 'secret', name: string) => Record<string, string> | undefined;
}

export class UnresolvableError extends Error {
  readonly code = 'Unresolvable';
}

function imageName(image: string | undefined): string {
  if (image === undefined) return '';
  const noDigest = image.split('@')[0] ?? '';
  const lastSlash = noDigest.lastIndexOf('/');
  const tail = noDigest.slice(lastSlash + 1);
  return tail.split(':')[0] ?? '';
}

/** Kubernetes' $(VAR) expansion: defined variables are replaced, $$ escapes, the rest stays. */
export function expand(text: string, vars: Record<string, string>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (whole, name: string | undefined) => {
    if (whole === '$$') return '$';
    return name !== undefined && Object.hasOwn(vars, name) ? (vars[name] as string) : whole;
  });
}

function fieldValue(pod: Pod, fieldPath: string, podIP: string, hostIP: string): string {
  const m = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(fieldPath);
  if (m) return (m[1] === 'labels' ? pod.metadata.labels : pod.metadata.annotations)?.[m[2] as string] ?? '';
  switch (fieldPath) {
    case 'metadata.name': return pod.metadata.name;
    case 'metadata.namespace': return pod.metadata.namespace ?? 'default';
    case 'metadata.uid': return pod.metadata.uid ?? '';
    case 'spec.nodeName': return pod.spec.nodeName ?? '';
    case 'spec.serviceAccountName': return pod.spec.serviceAccountName ?? 'default';
    case 'status.podIP': return podIP;
    case 'status.podIPs': return podIP;
    case 'status.hostIP': return hostIP;
    case 'status.hostIPs': return hostIP;
    default: throw new UnresolvableError(`unsupported fieldRef ${fieldPath}`);
  }
}

function resourceValue(c: Container, resource: string): string {
  const [kind, name] = resource.split('.');
  const table = kind === 'requests' ? c.resources?.requests : c.resources?.limits;
  const q = table?.[name ?? ''];
  if (q === undefined) return name === 'cpu' ? '2' : '0';
  if (name === 'cpu') return q.endsWith('m') ? String(Math.max(1, Math.ceil(Number(q.slice(0, -1)) / 1000))) : q;
  return String(parseQuantityBytes(q));
}

/** A storage or memory quantity in bytes (Ki, Mi, Gi, Ti, k, M, G, T, or plain). */
export function parseQuantityBytes(q: string): number {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(q.trim());
  if (!m) throw new UnresolvableError(`unsupported quantity ${q}`);
  const mult: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, k: 1e3, M: 1e6, G: 1e9, T: 1e12 };
  return Math.round(Number(m[1]) * (m[2] === undefined ? 1 : (mult[m[2]] as number)));
}

function envValue(inp: ResolveInputs, e: EnvVar, sofar: Record<string, string>): string | undefined {
  if (e.valueFrom === undefined) return expand(e.value ?? '', sofar);
  const vf = e.valueFrom;
  if (vf.fieldRef) return fieldValue(inp.pod, vf.fieldRef.fieldPath, inp.podIP, inp.hostIP);
  if (vf.resourceFieldRef) return resourceValue(inp.container, vf.resourceFieldRef.resource);
  const ref = vf.configMapKeyRef ?? vf.secretKeyRef;
  if (ref) {
    const kind = vf.configMapKeyRef ? 'configmap' : 'secret';
    const v = inp.lookup(kind, ref.name)?.[ref.key];
    if (v === undefined && ref.optional !== true) throw new UnresolvableError(`${kind} ${ref.name} key ${ref.key} not found`);
    return v;
  }
  return undefined;
}

export function resolveProcess(inp: ResolveInputs): ProcessSpec {
  const { container: c } = inp;
  const env: Record<string, string> = {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOSTNAME: inp.pod.spec.hostname ?? inp.pod.metadata.name,
  };
  for (const src of c.envFrom ?? []) {
    const kind = src.configMapRef ? 'configmap' : 'secret';
    const ref = src.configMapRef ?? src.secretRef;
    if (!ref) continue;
    const data = inp.lookup(kind, ref.name);
    if (data === undefined && ref.optional !== true) throw new UnresolvableError(`${kind} ${ref.name} not found`);
    for (const [k, v] of Object.entries(data ?? {})) env[(src.prefix ?? '') + k] = v;
  }
  for (const e of c.env ?? []) {
    const v = envValue(inp, e, env);
    if (v !== undefined) env[e.name] = v;
  }
  const mapping = inp.imageMap.find((m) => m.name === imageName(c.image));
  const argv = [...(c.command ?? []), ...(c.args ?? [])].map((a) => expand(a, env));
  let file: string;
  let args: string[];
  if (c.command !== undefined && c.command.length > 0) {
    const cmd0 = argv[0] as string;
    const base = cmd0.slice(cmd0.lastIndexOf('/') + 1);
    // The image's binary named by its usual name or path is mapped to the local build.
    const mapped = inp.imageMap.find((m) => m.path.slice(m.path.lastIndexOf('/') + 1) === base || m.name === base);
    file = mapped?.path ?? cmd0;
    args = argv.slice(1);
  } else {
    if (!mapping) throw new UnresolvableError(`container ${c.name}: image ${c.image ?? '(none)'} has no local mapping and no command`);
    file = mapping.path;
    args = argv;
  }
  const binds: ProcessSpec['binds'] = [];
  for (const vm of c.volumeMounts ?? []) {
    const source = inp.volumePaths[vm.name];
    if (source === undefined) throw new UnresolvableError(`volume ${vm.name} is not prepared`);
    binds.push({ source: vm.subPath ? `${source}/${vm.subPath}` : source, target: vm.mountPath });
  }
  return { file, args, env, binds, ...(c.workingDir !== undefined ? { workingDir: c.workingDir } : {}) };
}
