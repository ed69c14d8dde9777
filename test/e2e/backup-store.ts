// The object store of the backup e2e files: a real S3 server (SeaweedFS's weed) listening on the pod
// bridge, so that pods (the restore init container) reach it too, with a bucket and the Secret
// `backup-creds` holding its keys in the test's namespace.
import { startS3Server, type S3Server } from '../integration/s3-server.js';
import type { Kubectl } from './harness.js';

/** The host's address on the pod bridge (hack/control-plane/env.sh): pods reach weed there. */
export const BRIDGE_IP = (process.env['CP_BRIDGE_CIDR'] ?? '198.18.0.1/16').split('/')[0] as string;
export const BACKUP_CREDENTIALS_SECRET = 'backup-creds';

export async function startBackupStore(k: Kubectl, ns: string, bucket: string): Promise<S3Server> {
  const s3 = await startS3Server({ ip: BRIDGE_IP });
  await s3.createBucket(bucket);
  await k.apply({
    apiVersion: 'v1', kind: 'Secret', metadata: { name: BACKUP_CREDENTIALS_SECRET, namespace: ns },
    stringData: { accessKeyID: s3.accessKeyID, secretAccessKey: s3.secretAccessKey },
  });
  return s3;
}
