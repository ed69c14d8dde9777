// Stands in for the kubelet in controller tests: runs a backup pod's own command (backup-to-dir, with
// the claim a local folder and the member-API twin as the cluster) and ends the fake pod with the
// outcome as its termination message, as the node agent or a kubelet would.
import { backupToDir, parseBackupToDirArgs } from '../../backup/backup-to-dir.js';
import type { MemberApi } from '../../members/member-api.js';
import { encodeBackupPodResult, type BackupPodResult } from '../../plan/backup-pod.js';
import type { FakeKubeApi } from '../fake-kube-api.js';

export async function runBackupPod(kube: FakeKubeApi, ns: string, name: string, claimDir: string, api: MemberApi, nowMs: number): Promise<BackupPodResult> {
  const pod = kube.object('Pod', ns, name) as unknown as { spec: { containers: Array<{ command: string[] }> } } | undefined;
  if (pod === undefined) throw new Error(`no pod ${ns}/${name}`);
  // command: tsetcd-operator backup-to-dir <flags>; the claim's mount becomes the folder, no TLS files, no message file.
  const argv = pod.spec.containers[0]!.command.slice(2)
    .map((a) => (a.startsWith('--dir=') ? `--dir=${claimDir}` : a))
    .filter((a) => !a.startsWith('--result-file=') && !a.startsWith('--tls-dir='));
  const res = await backupToDir(parseBackupToDirArgs(argv), {}, () => nowMs, api);
  kube.oneOffPods.set(`${ns}/${name}`, { phase: res.ok ? 'Succeeded' : 'Failed', podIP: null, ready: false, deleting: false, terminationMessage: encodeBackupPodResult(res), notRunning: null });
  return res;
}
