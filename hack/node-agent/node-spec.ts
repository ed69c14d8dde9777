// Parses the node agent's --node arguments. Test infrastructure for the local control plane.
// Form: `name[:label=value[,label=value]...][:taint=key=value:Effect...]`, e.g.
//   node-1:dedicated=etcd,zone=a:taint=dedicated=etcd:NoSchedule
// A bare `node-6` is a node without labels or taints.

export type TaintEffect = 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';

export interface Taint {
  key: string;
  value: string;
  effect: TaintEffect;
}

export interface NodeSpec {
  name: string;
  labels: Record<string, string>;
  taints: Taint[];
}

const effects: readonly TaintEffect[] = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'];
const nameRe = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

export function parseNodeSpec(text: string): NodeSpec {
  const first = text.indexOf(':');
  const name = first < 0 ? text : text.slice(0, first);
  if (!nameRe.test(name)) throw new Error(`--node ${text}: invalid node name '${name}'`);
  const labels: Record<string, string> = { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux' };
  const taints: Taint[] = [];
  let rest = first < 0 ? '' : text.slice(first + 1);
  const taintAt = rest.indexOf('taint=');
  let taintText = '';
  if (taintAt >= 0) {
    taintText = rest.slice(taintAt + 'taint='.length);
    rest = rest.slice(0, taintAt).replace(/:$/, '');
  }
  for (const pair of rest.split(',').filter((p) => p !== '')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new Error(`--node ${text}: label '${pair}' is not key=value`);
    labels[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  for (const t of taintText.split(/,(?:taint=)?/).filter((p) => p !== '')) {
    const m = /^([^=:]+)(?:=([^:]*))?:(\w+)$/.exec(t);
    const effect = m?.[3] as TaintEffect | undefined;
    if (!m || effect === undefined || !effects.includes(effect)) {
      throw new Error(`--node ${text}: taint '${t}' is not key=value:Effect`);
    }
    taints.push({ key: m[1] as string, value: m[2] ?? '', effect });
  }
  return { name, labels, taints };
}
