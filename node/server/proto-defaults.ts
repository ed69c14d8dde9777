// proto3 leaves default scalars off the wire (Go's encoder does); protobufjs writes every field
// an object has, zeros included. Both the gRPC server and the JSON gateway strip them first, so
// tsetcd's answers carry the same fields as etcd's.

/**
 * A copy of a message object without proto3 default scalars (0, false, '', empty bytes, empty
 * lists), as Go's proto encoder leaves them off the wire and jsonpb (EmitDefaults false) out of
 * the JSON. Sub-messages stay even when empty: their presence is on the wire (`"header":{}`).
 * Response messages have no scalar oneof members, whose zero values would count.
 */
export function omitProtoDefaults(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(omitProtoDefaults);
  if (v === null || typeof v !== 'object' || v instanceof Uint8Array) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    if (x === 0 || x === 0n || x === false || x === '' || x === undefined || x === null) continue;
    if ((x instanceof Uint8Array || Array.isArray(x)) && x.length === 0) continue;
    out[k] = omitProtoDefaults(x);
  }
  return out;
}
