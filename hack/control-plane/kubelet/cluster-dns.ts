// The kubelet node's cluster DNS (hack/control-plane/kubelet/up.sh starts it): a UDP responder
// that answers A queries from the node agent's hosts file, re-read when it changes. The kubelet's
// clusterDNS points real containers at it. Test infrastructure for the local control plane.
// Usage: node --import tsx cluster-dns.ts --hosts FILE --listen IP:PORT
import { createSocket } from 'node:dgram';
import { readFileSync, statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { answer, parseHosts, type HostsTable } from './dns-answer.js';

const { values } = parseArgs({ options: { hosts: { type: 'string' }, listen: { type: 'string' } } });
const hostsFile = values.hosts ?? '';
const [host, port] = (values.listen ?? '').split(':');
if (hostsFile === '' || host === undefined || port === undefined) {
  console.error('usage: cluster-dns.ts --hosts FILE --listen IP:PORT');
  process.exit(2);
}

let table: HostsTable = new Map();
let loadedMtime = -1;
/** The table for this query: re-read the file only when its mtime moved (the agent rewrites it whole). */
function current(): HostsTable {
  try {
    const mtime = statSync(hostsFile).mtimeMs;
    if (mtime !== loadedMtime) {
      table = parseHosts(readFileSync(hostsFile, 'utf8'));
      loadedMtime = mtime;
    }
  } catch (err) {
    console.error(`cluster-dns: cannot read ${hostsFile}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return table;
}

const sock = createSocket('udp4');
sock.on('message', (msg, from) => {
  sock.send(answer(msg, current()), from.port, from.address);
});
sock.on('error', (err) => {
  console.error(`cluster-dns: ${err.message}`);
  process.exit(1);
});
sock.bind(Number(port), host, () => console.log(`cluster-dns: answering from ${hostsFile} on ${host}:${port}`));
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => sock.close(() => process.exit(0)));
