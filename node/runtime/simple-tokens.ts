// etcd's simple tokens (server/auth/simple_token.go): "<16 random letters>.<raft index>" (the
// proposer picks the letters: node/server/auth-service.ts), made
// when an Authenticate entry is applied, so every member knows every token. A token lives
// --auth-token-ttl (300 s by default) after its last use. Member-local, like etcd's: tokens are
// in no snapshot, and a restarted member has none (clients log in again on "invalid auth token").

export const DEFAULT_TOKEN_TTL_MS = 300_000;
/** At most this many tokens live at once; the oldest go first (etcd keeps no bound). */
export const MAX_TOKENS = 100_000;

export class SimpleTokens {
  /** token -> user and expiry (Map order = insertion order: the oldest first). */
  private readonly tokens = new Map<string, { username: string; expiresAtMs: number }>();

  constructor(
    private readonly nowMs: () => number,
    private readonly ttlMs = DEFAULT_TOKEN_TTL_MS,
  ) {}

  assign(prefix: string, index: number, username: string): string {
    const token = `${prefix}.${index}`;
    this.tokens.set(token, { username, expiresAtMs: this.nowMs() + this.ttlMs });
    while (this.tokens.size > MAX_TOKENS) this.tokens.delete(this.tokens.keys().next().value as string);
    return token;
  }

  /** The user of a live token (its TTL starts again), or undefined. */
  username(token: string): string | undefined {
    const t = this.tokens.get(token);
    if (!t) return undefined;
    const now = this.nowMs();
    if (t.expiresAtMs <= now) {
      this.tokens.delete(token);
      return undefined;
    }
    t.expiresAtMs = now + this.ttlMs;
    return t.username;
  }

  invalidateUser(username: string): void {
    for (const [k, t] of this.tokens) if (t.username === username) this.tokens.delete(k);
  }

  clear(): void {
    this.tokens.clear();
  }
}
