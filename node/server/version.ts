// The versions tsetcd reports. Clients read API features from the server version:
// kube-apiserver turns on watch progress requests only from 3.5.13, so we report a later 3.5.
export const SERVER_VERSION = '3.5.17';
/** The cluster version (major.minor.0), as etcd's /version reports it. */
export const CLUSTER_VERSION = '3.5.0';
/**
 * The storage (schema) version etcd 3.6 reports in Status.storageVersion and in every Snapshot
 * message: tsetcd's data files play the part of a 3.6 schema (there is nothing to migrate).
 */
export const STORAGE_VERSION = '3.6.0';
/** tsetcd's own version, for logs and --version. */
export const TSETCD_VERSION = '0.1.0';
