// Builds the SDK and the console into dist/ (committed, embedded by Go).
// `node build.mjs --check` rebuilds into a temporary folder and fails when
// the committed files differ from a fresh build.
import * as esbuild from 'esbuild';
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync, copyFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { tmpdir } from 'node:os';
import { gzipSync } from 'node:zlib';

const check = process.argv.includes('--check');
const out = check ? mkdtempSync(join(tmpdir(), 'tomoni-dist-')) : 'dist';

// The close-code table ships without its prose: browsers need codes, names
// and whether to reconnect, not the explanations written for people.
const closeCodes = {
  name: 'close-codes',
  setup(build) {
    build.onLoad({ filter: /closecodes\.json$/ }, (args) => {
      const t = JSON.parse(readFileSync(args.path, 'utf8'));
      const slim = { codes: t.codes.map(({ code, name, reconnect }) => ({ code, name, reconnect })), unknown_reconnect: t.unknown_reconnect };
      return { contents: JSON.stringify(slim), loader: 'json' };
    });
  },
};

// The privacy rules ship without the comment meant for people.
const privacyRules = {
  name: 'privacy-rules',
  setup(build) {
    build.onLoad({ filter: /privacy[\\/]rules\.json$/ }, (args) => {
      const { _comment, ...rules } = JSON.parse(readFileSync(args.path, 'utf8'));
      return { contents: JSON.stringify(rules), loader: 'json' };
    });
  },
};

const common = { plugins: [closeCodes, privacyRules], bundle: true, minify: true, legalComments: 'none', target: ['es2020', 'chrome100', 'edge100', 'safari15', 'ios15'], logLevel: 'warning', charset: 'utf8' };

await esbuild.build({ ...common, entryPoints: ['sdk/index.ts'], outfile: join(out, 'sdk.js'), format: 'iife' });
// The recorder's messages to the browser's console (rrweb's warnings about
// images it cannot inline and the like) are left out: a customer's console
// is no place for them, and they cost 330 bytes gzipped.
await esbuild.build({ ...common, entryPoints: ['sdk/capture-entry.ts'], outfile: join(out, 'sdk-capture.js'), format: 'iife', drop: ['console', 'debugger'] });
await esbuild.build({ ...common, entryPoints: { console: 'console/main.ts' }, outdir: join(out, 'console/assets'), format: 'iife' });
mkdirSync(join(out, 'console'), { recursive: true });
copyFileSync('console/index.html', join(out, 'console/index.html'));
copyFileSync('sdk/tomoni.d.ts', join(out, 'sdk.d.ts'));

// What a customer's browser downloads, gzipped: the build fails above it,
// so growth is a decision rather than an accident (docs/benchmarks.md).
const budgets = { 'sdk.js': 15 * 1024, 'sdk-capture.js': 25 * 1024 };
const over = [];
for (const [f, budget] of Object.entries(budgets)) {
  const b = readFileSync(join(out, f));
  const gz = gzipSync(b, { level: 9 }).length;
  console.log(`${f}: ${b.length} bytes, ${gz} gzipped (budget ${budget})`);
  if (gz > budget) over.push(`${f} is ${gz} bytes gzipped, over its budget of ${budget}`);
}
if (over.length) {
  console.error(over.join('\n'));
  process.exit(1);
}

if (check) {
  const files = (dir) => readdirSync(dir).flatMap((f) => statSync(join(dir, f)).isDirectory() ? files(join(dir, f)) : [join(dir, f)]);
  const fresh = files(out).map((f) => relative(out, f)).sort();
  const committed = files('dist').map((f) => relative('dist', f)).sort();
  const bad = [];
  if (fresh.join() !== committed.join()) bad.push(`file list differs: fresh [${fresh}] vs committed [${committed}]`);
  for (const f of fresh) {
    let a; try { a = readFileSync(join('dist', f)); } catch { continue; }
    if (!a.equals(readFileSync(join(out, f)))) bad.push(`${f} differs from a fresh build`);
  }
  if (bad.length) {
    console.error('web/dist is stale; run `npm run build` in web/ and commit:\n  ' + bad.join('\n  '));
    process.exit(1);
  }
  console.log('web/dist matches a fresh build');
}
