// `make images` (step 2 of hack/images/build.sh): lays out /app for one image, with only what its
// entry point can load. Walks the compiled module graph from the entry (dist/node/main.js or
// dist/operator/main.js) along relative imports, takes the npm packages it names plus their
// dependency closure from package-lock.json, and copies exactly those files. The member image
// so carries no @kubernetes/client-node, and neither image carries type declarations, TypeScript
// sources, markdown or source maps of dependencies (their own maps stay: --enable-source-maps).
//
// Usage: tsx hack/images/stage-app.ts --dist DIR --modules DIR --lock FILE --entry node/main.js --out DIR
//   --modules is a production install (npm ci --omit=dev) of the same lock file.
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';

/** The module specifiers of static and literal dynamic imports and re-exports in compiled ESM. */
export function importSpecifiers(source: string): string[] {
  const out = new Set<string>();
  const re = /(?:^|[;\s])(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|(?:^|[;\s])import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm;
  for (const m of source.matchAll(re)) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (spec !== undefined) out.add(spec);
  }
  return [...out].sort();
}

/** The npm package a bare specifier names ('@grpc/grpc-js/build/x' -> '@grpc/grpc-js'); null for builtins and paths. */
export function packageOf(spec: string): string | null {
  if (spec.startsWith('.') || spec.startsWith('/') || spec.startsWith('node:')) return null;
  const parts = spec.split('/');
  return spec.startsWith('@') ? `${parts[0]}/${parts[1]}` : (parts[0] ?? null);
}

interface LockEntry {
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  dev?: boolean;
}
export interface Lock { packages: Record<string, LockEntry> }

/**
 * The lock-file keys ('node_modules/a', 'node_modules/a/node_modules/b') that the root packages
 * need, resolved the way Node does: the nearest node_modules up from the requiring package.
 * A dependency absent from the lock (an optional one for another platform) is skipped.
 */
export function lockClosure(lock: Lock, roots: readonly string[]): string[] {
  const seen = new Set<string>();
  const resolve = (from: string, name: string): string | null => {
    let dir = from;
    for (;;) {
      const key = dir === '' ? `node_modules/${name}` : `${dir}/node_modules/${name}`;
      if (lock.packages[key] !== undefined) return key;
      if (dir === '') return null;
      const i = dir.lastIndexOf('/node_modules/');
      dir = i < 0 ? '' : dir.slice(0, i);
    }
  };
  const visit = (key: string): void => {
    if (seen.has(key)) return;
    seen.add(key);
    const e = lock.packages[key] ?? {};
    for (const name of Object.keys({ ...e.dependencies, ...e.optionalDependencies, ...e.peerDependencies }).sort()) {
      const dep = resolve(key, name);
      if (dep !== null) visit(dep);
    }
  };
  for (const r of roots) {
    const key = resolve('', r);
    if (key === null) throw new Error(`package ${r} is imported but not in package-lock.json`);
    visit(key);
  }
  return [...seen].sort();
}

/** Files of a dependency that the runtime never reads. */
export function droppedFromModules(path: string): boolean {
  return /\.(d\.ts|d\.mts|d\.cts|map|md|markdown|ts|mts|cts|tsbuildinfo)$/i.test(path);
}

/** The compiled files reachable from the entry, and the npm packages they import. */
export function moduleGraph(distDir: string, entry: string): { files: string[]; packages: string[] } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const stack = [normalize(entry)];
  while (stack.length > 0) {
    const file = stack.pop()!;
    if (files.has(file)) continue;
    const abs = join(distDir, file);
    if (!existsSync(abs)) throw new Error(`${file} is imported but missing from ${distDir}`);
    files.add(file);
    for (const spec of importSpecifiers(readFileSync(abs, 'utf8'))) {
      if (spec.startsWith('.')) stack.push(normalize(join(dirname(file), spec)));
      else {
        const p = packageOf(spec);
        if (p !== null) packages.add(p);
      }
    }
  }
  return { files: [...files].sort(), packages: [...packages].sort() };
}

function copyTree(from: string, to: string, skip: (rel: string) => boolean, rel = ''): number {
  let n = 0;
  for (const name of readdirSync(join(from, rel)).sort()) {
    const r = rel === '' ? name : `${rel}/${name}`;
    if (skip(r)) continue;
    const st = statSync(join(from, r));
    if (st.isDirectory()) n += copyTree(from, to, skip, r);
    else {
      mkdirSync(dirname(join(to, r)), { recursive: true });
      copyFileSync(join(from, r), join(to, r));
      n++;
    }
  }
  return n;
}

function main(argv: string[]): void {
  const arg = (name: string): string => {
    const i = argv.indexOf(`--${name}`);
    const v = i >= 0 ? argv[i + 1] : undefined;
    if (v === undefined) throw new Error(`missing --${name}`);
    return v;
  };
  const dist = arg('dist');
  const modules = arg('modules');
  const out = arg('out');
  const lock = JSON.parse(readFileSync(arg('lock'), 'utf8')) as Lock;
  const graph = moduleGraph(dist, arg('entry'));
  for (const f of graph.files) {
    for (const g of [f, `${f}.map`]) {
      if (!existsSync(join(dist, g))) continue;
      mkdirSync(dirname(join(out, 'dist', g)), { recursive: true });
      copyFileSync(join(dist, g), join(out, 'dist', g));
    }
  }
  const keys = lockClosure(lock, graph.packages);
  let copied = 0;
  for (const key of keys) {
    const src = join(modules, '..', key);
    if (!existsSync(src)) throw new Error(`${key} is in the lock but not installed in ${modules}`);
    // Nested node_modules are lock entries of their own: copied only when reached.
    copied += copyTree(src, join(out, key), (r) => r === 'node_modules' || droppedFromModules(r));
  }
  const pkg = JSON.parse(readFileSync(join(modules, '..', 'package.json'), 'utf8')) as { name: string; version: string };
  writeFileSync(join(out, 'package.json'), `${JSON.stringify({ name: pkg.name, version: pkg.version, private: true, type: 'module' }, null, 2)}\n`);
  process.stdout.write(`stage-app: ${arg('entry')}: ${graph.files.length} files of ours, ${keys.length} packages (${copied} files) from ${relative(process.cwd(), modules) || '.'}\n`);
}

if (process.argv[1] !== undefined && /stage-app\.[jt]s$/.test(process.argv[1])) main(process.argv.slice(2));
