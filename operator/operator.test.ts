import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { scrapeHeartbeatFailures } from './operator.js';

describe('scrapeHeartbeatFailures', () => {
  it("sums a member's etcd_server_heartbeat_send_failures_total, null when absent", async () => {
    let body = '# TYPE etcd_server_heartbeat_send_failures_total counter\netcd_server_heartbeat_send_failures_total 3\netcd_server_has_leader 1\n';
    const server = createServer((_req, res) => res.end(body));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
      expect(await scrapeHeartbeatFailures(url)).toBe(3);
      body = 'etcd_server_heartbeat_send_failures_total{To="a"} 2\netcd_server_heartbeat_send_failures_total{To="b"} 5\n';
      expect(await scrapeHeartbeatFailures(url)).toBe(7);
      body = 'etcd_server_has_leader 1\n';
      expect(await scrapeHeartbeatFailures(url)).toBeNull();
    } finally {
      server.close();
    }
  });
});
