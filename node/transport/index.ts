export { RpcError, REMOVED_REASON, type Transport, type TransportHandler, type TransportHooks } from './types.js';
export { TcpTransport, type TcpTransportOptions, type PeerTlsOptions } from './tcp-transport.js';
export { MemoryNetwork, MemoryTransport } from './memory-transport.js';
export { encodeMessage, decodeMessage, decodeBatch, writeBatch, batchSize, CodecError } from './codec.js';
export { bodyFromBytes, type SnapshotBody } from './snapshot-body.js';
export { clearSpoolDir } from './snapshot-spool.js';
