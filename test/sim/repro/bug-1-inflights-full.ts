// Bug 1: "cannot add into a full inflights" thrown by the leader (stepLeader, heartbeatResp).
// A heartbeat response clears msgAppFlowPaused for a follower in replicate state whose
// inflights window is full, and then calls sendAppend. When entries were proposed after the
// window filled (next <= lastIndex), that append carries entries and Inflights.add throws.
// etcd-raft 3.5 frees one slot on a heartbeat response when the window is full
// (FreeFirstOne) before sending; newer etcd-raft keeps the flow paused while Inflights.Full().
//   npx tsx test/sim/repro/bug-1-inflights-full.ts   (exit code 1 while the bug is there)
import { ManualCluster } from './manual-cluster.js';

const c = new ManualCluster([1n, 2n, 3n], { maxInflightMsgs: 1 });
try {
  c.node(1n).campaign();
  c.stabilize(); // node 1 leads; followers in replicate
  c.node(1n).propose(new Uint8Array([2])); // one append in flight per follower: window full
  c.node(1n).propose(new Uint8Array([3])); // paused: not sent
  c.settle();
  c.node(1n).tick(); // heartbeat
  c.deliver((m) => m.type === 'heartbeat');
  c.deliver((m) => m.type === 'heartbeatResp'); // unpauses and sends an append with entry 3
  console.log('OK: no exception (bug 1 fixed)');
} catch (err: unknown) {
  console.log(`BUG 1 reproduced: ${(err as Error).message}`);
  process.exitCode = 1;
}
