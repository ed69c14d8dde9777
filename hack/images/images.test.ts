// The image names and versions written in several places agree, and stage-app's pure parts
// (import scan, package-lock closure, file filter, module graph) do what build.sh relies on.
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import yaml from 'js-yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_IMAGE, DEFAULT_IMAGE_REPOSITORY, TSETCD_RELEASE, resolveSpec } from '../../operator/api/defaults.js';
import { TSETCD_VERSION } from '../../node/server/version.js';
import { droppedFromModules, importSpecifiers, lockClosure, moduleGraph, packageOf, type Lock } from './stage-app.js';

const root = resolve(import.meta.dirname, '../..');
const read = (p: string): string => readFileSync(join(root, p), 'utf8');
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type J = any;

describe('image names and versions', () => {
  const pkg = JSON.parse(read('package.json')) as { version: string };
  const chart = yaml.load(read('charts/tsetcd-operator/Chart.yaml')) as J;
  const values = yaml.load(read('charts/tsetcd-operator/values.yaml')) as J;
  const registry = /IMAGE_REGISTRY:-([^}]+)\}/.exec(read('hack/images/build.sh'))?.[1];

  it('one release version: package.json, the operator, the member, the chart', () => {
    expect(TSETCD_RELEASE).toBe(pkg.version);
    expect(TSETCD_VERSION).toBe(pkg.version);
    expect(String(chart.appVersion)).toBe(pkg.version);
  });

  it('the defaults name the images make images tags', () => {
    expect(registry).toBe('ghcr.io/tsetcd');
    expect(DEFAULT_IMAGE_REPOSITORY).toBe(`${registry}/tsetcd`);
    expect(DEFAULT_IMAGE).toBe(`${registry}/tsetcd:${pkg.version}`);
    expect(resolveSpec({}).image).toBe(DEFAULT_IMAGE);
    expect(resolveSpec({ version: '3.5.0' }).image).toBe(DEFAULT_IMAGE);
    expect(values.image.repository).toBe(`${registry}/tsetcd-operator`);
    expect(values.image.tag).toBe(''); // .Chart.AppVersion
    expect(values.member.image).toBe(''); // the operator's DEFAULT_IMAGE
  });

  it('both copies of the CRD describe that default', () => {
    for (const p of ['crds/tsetcd.dev_etcdclusters.yaml', 'charts/tsetcd-operator/crds/tsetcd.dev_etcdclusters.yaml']) {
      const crd = yaml.load(read(p)) as J;
      const image = crd.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.image;
      expect(image.description, p).toContain(DEFAULT_IMAGE);
    }
  });

  it('one recipe: the Containerfile has both targets and no Dockerfile is left beside it', () => {
    const targets = [...read('hack/images/Containerfile').matchAll(/^FROM \S+ AS (\S+)$/gm)].map((m) => m[1]);
    expect(targets).toEqual(['base', 'tsetcd', 'tsetcd-operator']);
    expect(readdirSync(join(root, 'hack/images')).filter((f) => /dockerfile/i.test(f))).toEqual([]);
  });
});

describe('stage-app', () => {
  it('finds static, side-effect, re-export and literal dynamic imports', () => {
    const src = [
      "import { a } from './a.js';",
      "import * as grpc from '@grpc/grpc-js';",
      "export { b } from '../b.js';",
      "import './side.js';",
      "const m = await import('prom-client');",
      "import { readFile } from 'node:fs/promises';",
      "const s = 'import x from \"not-code\"';",
    ].join('\n');
    expect(importSpecifiers(src)).toEqual(['../b.js', './a.js', './side.js', '@grpc/grpc-js', 'node:fs/promises', 'prom-client']);
  });

  it('names the package of a specifier', () => {
    expect(packageOf('@grpc/grpc-js/build/src/x.js')).toBe('@grpc/grpc-js');
    expect(packageOf('express')).toBe('express');
    expect(packageOf('js-yaml/dist/x.mjs')).toBe('js-yaml');
    expect(packageOf('./x.js')).toBeNull();
    expect(packageOf('node:fs')).toBeNull();
  });

  it('closes over package-lock dependencies, resolving nested copies first', () => {
    const lock: Lock = {
      packages: {
        '': {},
        'node_modules/a': { dependencies: { b: '^1', c: '^2' } },
        'node_modules/a/node_modules/c': { dependencies: { b: '^1' } },
        'node_modules/b': {},
        'node_modules/c': { dependencies: { d: '^1' } },
        'node_modules/d': {},
        'node_modules/e': { optionalDependencies: { 'not-this-platform': '^1' } },
      },
    };
    expect(lockClosure(lock, ['a'])).toEqual(['node_modules/a', 'node_modules/a/node_modules/c', 'node_modules/b']);
    expect(lockClosure(lock, ['e'])).toEqual(['node_modules/e']);
    expect(() => lockClosure(lock, ['missing'])).toThrow(/not in package-lock/);
  });

  it('drops what the runtime never reads from dependencies', () => {
    for (const p of ['index.d.ts', 'x.d.mts', 'dist/x.js.map', 'README.md', 'src/x.ts']) expect(droppedFromModules(p), p).toBe(true);
    for (const p of ['index.js', 'x.mjs', 'package.json', 'LICENSE', 'proto/x.proto']) expect(droppedFromModules(p), p).toBe(false);
  });

  const dir = mkdtempSync(join(tmpdir(), 'stage-app-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  it('walks the module graph from the entry only', () => {
    mkdirSync(join(dir, 'node/server'), { recursive: true });
    mkdirSync(join(dir, 'operator'), { recursive: true });
    writeFileSync(join(dir, 'node/main.js'), "import { s } from './server/index.js';\nimport express from 'express';\n");
    writeFileSync(join(dir, 'node/server/index.js'), "export { x } from '../log.js';\nimport * as g from '@grpc/grpc-js';\n");
    writeFileSync(join(dir, 'node/log.js'), "import { hostname } from 'node:os';\n");
    writeFileSync(join(dir, 'operator/main.js'), "import { k } from '@kubernetes/client-node';\n");
    expect(moduleGraph(dir, 'node/main.js')).toEqual({
      files: ['node/log.js', 'node/main.js', 'node/server/index.js'],
      packages: ['@grpc/grpc-js', 'express'],
    });
  });
});
