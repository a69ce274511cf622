// Runs the unit tests of the browser code (test/*.test.ts) with Node's test
// runner: each file is bundled by esbuild first, since Node does not run
// TypeScript, and jsdom provides the DOM.
import * as esbuild from 'esbuild';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

// Inside node_modules, so that the bundles resolve jsdom from there.
mkdirSync('node_modules/.cache', { recursive: true });
const out = mkdtempSync(join('node_modules/.cache', 'tomoni-web-test-'));
const files = readdirSync('test').filter((f) => f.endsWith('.test.ts'));
await esbuild.build({
  entryPoints: files.map((f) => join('test', f)), outdir: out, bundle: true, platform: 'node', format: 'esm',
  outExtension: { '.js': '.mjs' }, external: ['jsdom'], logLevel: 'warning',
});
const res = spawnSync(process.execPath, ['--test', ...files.map((f) => join(out, f.replace(/\.ts$/, '.mjs')))], { stdio: 'inherit', cwd: process.cwd() });
rmSync(out, { recursive: true, force: true });
process.exit(res.status ?? 1);
