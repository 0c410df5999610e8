// Builds the console into the Python package (src/deconfliction/web/static), so a wheel
// carries it and nothing is fetched at run time. `make web` runs it after `npm ci`.
import { build } from 'esbuild';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';

const out = '../src/deconfliction/web/static';
mkdirSync(out, { recursive: true });
await build({
  entryPoints: { app: 'src/main.js' },
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['chrome110', 'firefox110', 'safari16'],
  outdir: out,
  loader: { '.geojson': 'json' },
  legalComments: 'linked',
  logLevel: 'warning',
});
copyFileSync('index.html', `${out}/index.html`);
const lock = JSON.parse(readFileSync('package-lock.json', 'utf8'));
const versions = Object.fromEntries(Object.entries(lock.packages)
  .filter(([k]) => k.split('node_modules/').length === 2 && k)
  .map(([k, v]) => [k.replace('node_modules/', ''), v.version]));
writeFileSync(`${out}/BUILD.json`, `${JSON.stringify({ packages: versions }, null, 1)}\n`);

// The bundle carries code of these packages: their licences travel with it (BSD-2 and MIT
// ask for their notices in any redistribution).
const notices = Object.keys(versions)
  .filter((name) => !name.includes('esbuild'))
  .map((name) => {
    const dir = `node_modules/${name}`;
    const file = existsSync(dir) && readdirSync(dir).find((f) => /^(licen[cs]e|copying)/i.test(f));
    const text = file ? readFileSync(`${dir}/${file}`, 'utf8').trim() : '(no licence file in the package)';
    return `${name} ${versions[name]}\n${'='.repeat(name.length)}\n${text}\n`;
  });
writeFileSync(`${out}/THIRD-PARTY-LICENSES.txt`, `${notices.join('\n')}`);
